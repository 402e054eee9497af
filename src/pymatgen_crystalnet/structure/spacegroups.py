"""Space-group hypotheses from a cell and its observed reflections (and decoded densities).

The lattice metric fixes the conventional cell (spglib's standard setting of the lattice's own
symmetry, kept in the given orientation); every Hall setting of the crystal system whose
rotations are isometries of that cell, and whose translations include the given cell's lattice
(no primitive group for a centred cell), is a hypothesis. The observed reflections (indexed ``hkl``
or 2θ sticks) are placed on the positions ``1/d`` of the conventional cell's reflections; for
each hypothesis (:mod:`.extinction`):

- ``violations``: observed reflections at positions where every reflection is systematically
  absent in the group;
- ``unobserved``: positions where the group allows a reflection but none is observed (in the
  observed range; ``unobserved_low`` in its lower half of ``1/d``, where weak reflections are
  rarest).

Hypotheses are ranked by violations, then unobserved (low, all): the group whose absences explain
the observed extinctions best; then by how many decoded density models found the group, by
point-group order (higher symmetry first) and by how often the group occurs in the Materials
Project (:data:`SPACE_GROUP_COUNTS`). Groups sharing one extinction symbol tie on the first
criteria, so the more symmetric and more common come first.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.units import resolve_wavelength
from pymatgen_crystalnet.structure.extinction import (
    absent,
    crystal_system_of,
    extinction_symbol,
    hall_settings,
)

if TYPE_CHECKING:
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate

__all__ = [
    "SPACE_GROUP_COUNTS",
    "HypothesisResult",
    "ObservedReflections",
    "SpaceGroupHypothesis",
    "conventional_setting",
    "reflections_from_hkl",
    "reflections_from_sticks",
    "space_group_hypotheses",
]

logger = logging.getLogger(__name__)

#: Structures per space group (1–230) in the shared Materials Project corpus of 29,980 entries
#: (``spacegroup_number`` field, spglib at symprec 0.1); used only to order equivalent hypotheses.
# fmt: off
SPACE_GROUP_COUNTS: tuple[int, ...] = (
    396, 1436, 11, 255, 232, 115, 100, 293, 200, 89, 446, 1415, 135, 1729, 1138, 0, 1, 21, 142, 57,
    18, 0, 9, 10, 92, 96, 0, 4, 34, 4, 155, 3, 111, 6, 17, 215, 4, 257, 10, 51, 22, 37, 73, 153, 8,
    41, 69, 0, 0, 0, 73, 19, 14, 6, 137, 14, 106, 104, 151, 64, 40, 1930, 1078, 166, 247, 15, 14, 9,
    57, 115, 389, 117, 27, 260, 3, 8, 3, 3, 12, 1, 10, 137, 11, 19, 29, 19, 163, 116, 0, 4, 2, 25,
    0, 0, 0, 11, 13, 2, 51, 13, 0, 11, 0, 1, 3, 1, 125, 12, 42, 8, 11, 3, 40, 10, 75, 4, 6, 12, 97,
    3, 99, 116, 541, 13, 40, 10, 275, 34, 536, 20, 16, 11, 0, 2, 8, 164, 32, 8, 1111, 330, 168, 24,
    11, 6, 8, 60, 61, 385, 8, 40, 1, 32, 2, 15, 60, 174, 8, 1, 12, 193, 67, 33, 46, 454, 11, 844,
    203, 0, 1, 0, 0, 0, 91, 44, 4, 121, 0, 0, 0, 15, 10, 11, 6, 1, 19, 238, 267, 4, 441, 27, 287, 2,
    204, 989, 1, 0, 3, 96, 23, 19, 3, 6, 3, 123, 47, 7, 0, 0, 0, 0, 0, 3, 10, 10, 33, 410, 39, 17,
    1, 67, 638, 0, 64, 9, 2854, 3, 335, 0, 100, 0,
)
# fmt: on
_METRIC_SYSTEMS = {
    "cubic": ("cubic",),
    "hexagonal": ("trigonal", "hexagonal"),
    "trigonal": ("trigonal",),
    "tetragonal": ("tetragonal",),
    "orthorhombic": ("orthorhombic",),
    "monoclinic": ("monoclinic",),
    "triclinic": ("triclinic",),
}


@dataclass(frozen=True)
class ObservedReflections:
    """Observed reflection positions ``q = 1/d`` (Å⁻¹), intensities and position tolerances."""

    q: NDArray[np.float64]
    intensities: NDArray[np.float64]
    tolerance: NDArray[np.float64]


def reflections_from_sticks(
    two_theta: ArrayLike, intensities: ArrayLike, wavelength: float | str, tolerance_deg: float = 0.05
) -> ObservedReflections:
    """Reflections from 2θ sticks (degrees) at a wavelength; ``tolerance_deg`` in 2θ."""
    tt = np.asarray(two_theta, dtype=float).ravel()
    inten = np.asarray(intensities, dtype=float).ravel()
    if tt.shape != inten.shape or tt.size == 0:
        raise ValueError("Give one intensity per 2θ, and at least one reflection.")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(inten))) or np.any((tt <= 0) | (tt >= 180)):
        raise ValueError("2θ must be finite and within (0°, 180°).")
    lam = resolve_wavelength(wavelength)
    theta = np.radians(tt / 2)
    q = 2 * np.sin(theta) / lam
    tol = 2 * np.cos(theta) / lam * np.radians(tolerance_deg / 2)
    return ObservedReflections(q, inten, np.maximum(tol, 1e-6))


def reflections_from_hkl(
    hkl: ArrayLike, intensities: ArrayLike, lattice: Lattice, rel_tolerance: float = 1e-4
) -> ObservedReflections:
    """Reflections from Miller indices in the given lattice's basis."""
    h = np.asarray(hkl, dtype=float).reshape(-1, 3)
    inten = np.asarray(intensities, dtype=float).ravel()
    if h.shape[0] != inten.size or inten.size == 0:
        raise ValueError("Give one intensity per hkl, and at least one reflection.")
    q = np.linalg.norm(h @ lattice.reciprocal_lattice_crystallographic.matrix, axis=1)
    if np.any(q <= 0):
        raise ValueError("hkl = 000 is not a reflection.")
    return ObservedReflections(q, inten, rel_tolerance * q)


def conventional_setting(lattice: Lattice, symprec: float = 0.01) -> tuple[Lattice, NDArray[np.float64], str]:
    """Conventional cell of the lattice's own symmetry, in the given orientation.

    Returns
    -------
    tuple
        ``(conventional Lattice, T, lattice system)`` with ``conventional.matrix = T @ matrix``
        (Miller indices transform the same way: ``hkl_conv = T @ hkl``); the lattice system is
        a crystal-system name, ``"hexagonal"`` for hP and ``"trigonal"`` for hR.
    """
    import spglib
    from pymatgen.core import Lattice

    cell = (lattice.matrix, [[0.0, 0.0, 0.0]], [1])
    data = spglib.get_symmetry_dataset(cell, symprec=symprec)
    std = spglib.standardize_cell(cell, to_primitive=False, no_idealize=True, symprec=symprec)
    if data is None or std is None:
        raise ValueError("spglib found no symmetry for the lattice.")
    conv = Lattice(np.asarray(std[0], dtype=float))
    t = conv.matrix @ np.linalg.inv(lattice.matrix)
    system = crystal_system_of(int(data.number))
    if system == "trigonal":  # the holohedry of a lattice is never trigonal except for hR
        system = "trigonal" if str(data.international).startswith("R") else "hexagonal"
    return conv, np.round(t, 6), system


@dataclass
class SpaceGroupHypothesis:
    """One space group (in one setting) and the evidence for it.

    ``evidence`` holds ``violations``, ``violating_q`` (1/d of the first violations),
    ``unobserved``, ``unobserved_low``, ``decoded_support``, ``point_group_order``,
    ``frequency`` and ``sources`` (``"extinction"``, ``"decoded"``).
    """

    number: int
    symbol: str
    hall_number: int | None
    setting: str
    extinction_symbol: str | None
    crystal_system: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """No observed reflection is forbidden by the group (False when not tested: decoded only)."""
        violations = self.evidence.get("violations", 0)
        return violations is not None and int(violations) == 0


@dataclass
class HypothesisResult:
    """Ranked hypotheses (best first), the conventional cell used, and any problem."""

    hypotheses: list[SpaceGroupHypothesis]
    """Best first."""
    conventional_lattice: Lattice | None = None
    to_conventional: NDArray[np.float64] | None = None
    lattice_system: str | None = None
    unindexed: int = 0
    reason: str | None = None

    @property
    def consistent(self) -> list[SpaceGroupHypothesis]:
        """The hypotheses without violations."""
        return [h for h in self.hypotheses if h.consistent]


def _positions(
    conv: Lattice, q_max: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """All conventional hkl with 0 < 1/d ≤ q_max, their 1/d, and a position index per hkl."""
    hmax = np.floor(q_max * np.array(conv.abc)).astype(int) + 1
    axes = [np.arange(-m, m + 1) for m in hmax]
    hkl = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    q = np.linalg.norm(hkl @ conv.reciprocal_lattice_crystallographic.matrix, axis=1)
    h, k, l_ = hkl.T
    half = (h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (l_ > 0))  # Friedel pairs once
    keep = half & (q <= q_max)
    hkl, q = hkl[keep], q[keep]
    order = np.argsort(q, kind="stable")
    hkl, q = hkl[order], q[order]
    new = np.concatenate([[True], np.diff(q) > 1e-6 * q[1:]])
    return hkl, q, np.cumsum(new) - 1


def _has_translations(ops: Any, vectors: NDArray[np.float64], tol: float = 1e-3) -> bool:
    """Whether every given lattice vector (conventional fractions) is a translation of the group.

    A group is a hypothesis for the given cell only if every translation of the cell's lattice is
    one of the group's: a primitive group on the conventional cell of an F-centred cell would
    describe a crystal without the translations the given cell has.
    """
    identity = np.all(ops.rotations == np.eye(3, dtype=ops.rotations.dtype), axis=(1, 2))
    pure = ops.translations[identity] % 1.0
    for v in vectors:
        d = pure - v % 1.0
        d -= np.round(d)
        if not np.any(np.all(np.abs(d) < tol, axis=1)):
            return False
    return True


def space_group_hypotheses(
    lattice: Lattice,
    reflections: ObservedReflections,
    *,
    crystal_system: str | None = None,
    min_intensity: float = 1e-3,
    decoded: Iterable[StructureCandidate] = (),
    space_groups: Iterable[int] | None = None,
    symprec: float = 0.01,
) -> HypothesisResult:
    """Ranked space-group hypotheses for a cell from its observed reflections.

    Parameters
    ----------
    lattice
        The cell (any setting: primitive or conventional).
    reflections
        Observed reflections (:func:`reflections_from_sticks`, :func:`reflections_from_hkl`).
    crystal_system
        Restrict to this crystal system (default: those the lattice metric allows).
    min_intensity
        Reflections weaker than this fraction of the strongest count as unobserved.
    decoded
        Decoded models; the space groups they found add support (and hypotheses).
    space_groups
        Only these space-group numbers (e.g. one the user gives).
    symprec
        Tolerance (Å) of the lattice-metric symmetry.
    """
    try:
        conv, t, lattice_system = conventional_setting(lattice, symprec)
    except ValueError as exc:
        return HypothesisResult([], reason=str(exc))
    systems = _METRIC_SYSTEMS[lattice_system]
    if crystal_system is not None:
        if crystal_system not in _METRIC_SYSTEMS:
            return HypothesisResult([], reason=f"unknown crystal system {crystal_system!r}")
        if crystal_system not in systems:
            return HypothesisResult(
                [],
                conv,
                t,
                lattice_system,
                reason=f"the lattice metric is {lattice_system}; a {crystal_system} cell in it is "
                "not supported",
            )
        systems = (crystal_system,)
    strong = reflections.intensities >= min_intensity * reflections.intensities.max()
    obs_q, obs_tol = reflections.q[strong], reflections.tolerance[strong]
    if obs_q.size == 0:
        return HypothesisResult([], conv, t, lattice_system, reason="no observed reflection")
    q_top = float(obs_q.max() + obs_tol.max())
    hkl, q, pos = _positions(conv, q_top)
    n_pos = int(pos.max()) + 1
    pos_q = np.zeros(n_pos)
    pos_q[pos] = q
    # observed reflection k ↔ positions within its tolerance
    match = np.abs(pos_q[None, :] - obs_q[:, None]) <= obs_tol[:, None]
    indexed = match.any(axis=1)
    seen_pos = match.any(axis=0)
    low = pos_q <= 0.5 * obs_q.max()
    in_range = pos_q <= obs_q.max() + 1e-9
    decoded = [c for c in decoded if c.ok and c.space_group_number]
    wanted = None if space_groups is None else {int(n) for n in space_groups}
    support = Counter(
        c.space_group_number for c in decoded if wanted is None or c.space_group_number in wanted
    )
    metric = conv.matrix @ conv.matrix.T
    cell_in_conv = np.linalg.inv(t)  # the given cell's vectors in conventional fractions (rows)

    out: list[SpaceGroupHypothesis] = []
    seen_fp: set[tuple[int, bytes]] = set()
    for ops in hall_settings():
        system = ops.crystal_system
        if system not in systems or (wanted is not None and ops.number not in wanted):
            continue
        r = ops.rotations.astype(float)
        if not np.allclose(
            np.einsum("oji,jk,okl->oil", r, metric, r), metric, rtol=0.02, atol=0.02 * metric.max()
        ):
            continue
        if not _has_translations(ops, cell_in_conv):
            continue  # the group lacks translations of the given cell: a different lattice
        allowed_hkl = ~absent(hkl, ops.rotations, ops.translations)
        allowed = np.zeros(n_pos, dtype=bool)
        np.logical_or.at(allowed, pos, allowed_hkl)
        key = (ops.number, allowed.tobytes())
        if key in seen_fp:
            continue  # another origin choice of the same group: same absences
        seen_fp.add(key)
        viol = indexed & ~np.any(match & allowed[None, :], axis=1)
        unobs = allowed & ~seen_pos & in_range
        out.append(
            SpaceGroupHypothesis(
                number=ops.number,
                symbol=ops.symbol,
                hall_number=ops.hall_number,
                setting=ops.choice,
                extinction_symbol=extinction_symbol(ops),
                crystal_system=system,
                evidence={
                    "violations": int(viol.sum()),
                    "violating_q": [round(float(v), 5) for v in obs_q[viol][:5]],
                    "unobserved": int(unobs.sum()),
                    "unobserved_low": int((unobs & low).sum()),
                    "decoded_support": int(support.get(ops.number, 0)),
                    "point_group_order": ops.point_group_order,
                    "frequency": SPACE_GROUP_COUNTS[ops.number - 1],
                    "sources": ["extinction"] + (["decoded"] if support.get(ops.number) else []),
                },
            )
        )
    listed = {h.number for h in out}
    for number, count in support.items():
        if number not in listed:
            out.append(
                SpaceGroupHypothesis(
                    number=int(number),
                    symbol=next(c.space_group for c in decoded if c.space_group_number == number) or "",
                    hall_number=None,
                    setting="",
                    extinction_symbol=None,
                    crystal_system=crystal_system_of(int(number)),
                    evidence={"decoded_support": int(count), "sources": ["decoded"], "violations": None},
                )
            )

    def rank(h: SpaceGroupHypothesis) -> tuple:
        e = h.evidence
        if e.get("violations") is None:  # decoded only: after every consistent hypothesis
            return (1, 0, 0, 0, -e["decoded_support"], 0, 0)
        return (
            0 if e["violations"] == 0 else 2,
            e["violations"],
            e["unobserved_low"],
            e["unobserved"],
            -e["decoded_support"],
            -e["point_group_order"],
            -e["frequency"],
        )

    out.sort(key=rank)
    result = HypothesisResult(out, conv, t, lattice_system, unindexed=int((~indexed).sum()))
    if not result.consistent:
        best = min(
            (h.evidence["violations"] for h in out if h.evidence.get("violations") is not None), default=None
        )
        result.reason = f"no {'/'.join(systems)} space group is consistent with the observed reflections" + (
            f" (the fewest violations: {best})" if best is not None else ""
        )
    if result.unindexed:
        note = f"{result.unindexed} observed reflections do not index on the cell"
        result.reason = f"{result.reason}; {note}" if result.reason else note
    return result

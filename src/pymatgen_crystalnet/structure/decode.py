"""Decode a density on its lattice into symmetric atomic models.

::

    from pymatgen_crystalnet.structure.decode import decode_density
    result = decode_density(grid, lattice, "SrTiO3")           # every Z the cell and electrons allow
    result.candidates[0].structure                            # pymatgen Structure, symmetrised
    result.candidates[0].provenance                           # Z, tolerance, alternative, …
    result.reason                                             # why nothing came out, else None

Steps, for each formula-unit count Z (:mod:`.formula_units`):

1. periodic peaks with sub-voxel positions and basin electrons (:mod:`.peaks`);
2. the peaks to use: the N highest (N = atoms in the cell), the N with most electrons, and the
   N highest with the weakest orbit replaced by the next peaks ("next peaks in place of doubtful
   ones");
3. elements on them: the cheapest assignments by height and electrons (:mod:`.assign`), which
   include elements swapped among peaks of similar height;
4. each P1 model symmetrised on the tolerance ladder (:mod:`.symmetrize`), one model per
   distinct space group; models with atoms closer than the minimum distance are refused.

Nothing raises on a bad density: every failure is a :class:`StructureCandidate` with a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR
from pymatgen_crystalnet.structure.assign import assign_elements, expected_peak_height, height_clusters
from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate, min_distance_violation
from pymatgen_crystalnet.structure.formula_units import FormulaUnits, candidate_z
from pymatgen_crystalnet.structure.peaks import Peaks, find_peaks
from pymatgen_crystalnet.structure.symmetrize import DEFAULT_TOLERANCES, symmetrize_ladder

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

__all__ = ["DecodeResult", "decode_density"]

logger = logging.getLogger(__name__)


@dataclass
class DecodeResult:
    """Models decoded from one density.

    Attributes
    ----------
    candidates
        Valid symmetric models (best assignment first, higher symmetry first within one).
    failures
        Why the other attempts gave no model (one candidate per reason).
    peaks
        The density's peaks (``None`` if the input was unusable).
    formula_units
        The Z values tried.
    """

    candidates: list[StructureCandidate] = field(default_factory=list)
    failures: list[StructureCandidate] = field(default_factory=list)
    peaks: Peaks | None = None
    formula_units: FormulaUnits | None = None

    @property
    def reason(self) -> str | None:
        """Why no model came out (``None`` when there is at least one)."""
        if self.candidates:
            return None
        reasons = [f.reason for f in self.failures if f.reason]
        return "; ".join(dict.fromkeys(reasons)) or "no model"


def _selections(peaks: Peaks, n_atoms: int) -> list[tuple[str, NDArray[np.int64]]]:
    """Which peaks to use: the N highest, the N with most electrons, next peaks for the weakest."""
    by_height = np.arange(n_atoms)
    out = [("highest", by_height)]
    by_e = np.sort(np.argsort(-peaks.electrons, kind="stable")[:n_atoms])
    if not np.array_equal(by_e, by_height):
        out.append(("most-electrons", by_e))
    n_extra = len(peaks) - n_atoms
    if n_extra > 0:
        last = height_clusters(peaks.heights[:n_atoms])[-1]
        m = last.size
        if m <= n_extra and peaks.heights[n_atoms] >= 0.5 * peaks.heights[last].min():
            alt = np.concatenate([np.setdiff1d(by_height, last), np.arange(n_atoms, n_atoms + m)])
            out.append(("next-peaks", np.sort(alt)))
    return out


def _models_for_z(
    peaks: Peaks,
    lattice: Lattice,
    counts_fu: dict[int, int],
    z: int,
    *,
    tolerances: tuple[float, ...],
    n_assignments: int,
    b_factor: float,
    base: dict[str, Any],
    source: str,
) -> tuple[list[StructureCandidate], list[StructureCandidate]]:
    from pymatgen.core import Element, Structure

    counts = {el: n * z for el, n in counts_fu.items()}
    n_atoms = sum(counts.values())
    prov = {**base, "z": z}
    if len(peaks) < n_atoms:
        reason = f"the density has {len(peaks)} peaks, fewer than the {n_atoms} atoms of Z={z}"
        return [], [StructureCandidate.failure(reason, source, **prov)]
    good: list[StructureCandidate] = []
    bad: list[StructureCandidate] = []
    seen: set[tuple] = set()
    for sel_name, sel in _selections(peaks, n_atoms):
        frac = peaks.frac_coords[sel]
        assignments = assign_elements(
            peaks.heights[sel], peaks.electrons[sel], counts, b_factor=b_factor, n_best=n_assignments
        )
        for rank, assignment in enumerate(assignments):
            key = (tuple(sel.tolist()), tuple(assignment.numbers.tolist()))
            if key in seen:
                continue
            seen.add(key)
            alt = {**prov, "selection": sel_name, "assignment_rank": rank, "assignment_cost": assignment.cost}
            species = [Element.from_Z(int(n)) for n in assignment.numbers]
            p1 = Structure(lattice, species, frac)
            why = min_distance_violation(p1)
            if why:
                bad.append(StructureCandidate.failure(f"Z={z}, {sel_name}: {why}", source, **alt))
                continue
            models = sorted(symmetrize_ladder(p1, tolerances), key=lambda m: -m.space_group_number)
            for model in models:
                why = min_distance_violation(model.structure)
                if why:
                    bad.append(
                        StructureCandidate.failure(
                            f"Z={z}, {sel_name}, {model.space_group}: {why}", source, **alt
                        )
                    )
                    continue
                good.append(
                    StructureCandidate(
                        structure=model.structure,
                        space_group=model.space_group,
                        space_group_number=model.space_group_number,
                        source=source,
                        provenance={
                            **alt,
                            "symprec": model.symprec,
                            "wyckoffs": list(model.wyckoffs),
                            "max_shift": model.max_shift,
                        },
                    )
                )
    return good, bad


def decode_density(
    grid: ArrayLike,
    lattice: Lattice | ArrayLike,
    composition: Composition | str | dict,
    *,
    z: int | None = None,
    tolerances: tuple[float, ...] = DEFAULT_TOLERANCES,
    n_assignments: int = 3,
    b_factor: float = DEFAULT_B_FACTOR,
    source: str = "network-decode",
    provenance: dict[str, Any] | None = None,
) -> DecodeResult:
    """Atomic models decoded from a density grid on its lattice.

    Parameters
    ----------
    grid
        (n₁, n₂, n₃) density in e/Å³ at fractional points ``(i/n₁, j/n₂, k/n₃)``.
    lattice
        pymatgen ``Lattice`` (or a (3, 3) matrix, rows = vectors, Å) of the grid's cell.
    composition
        Chemical formula (its reduced formula is the formula unit).
    z
        Formula units in the cell; when omitted every Z that fits the cell volume and the
        density's electron count is tried (:func:`.formula_units.candidate_z`).
    tolerances
        spglib tolerance ladder (Å).
    n_assignments
        Element assignments kept per choice of peaks.
    b_factor
        Debye–Waller factor B (Å²) of the density (for the expected peak heights).
    source
        The candidates' ``source`` label (``"network-decode"``, ``"true-density-decode"``, …).
    provenance
        Extra provenance given to every candidate (e.g. ``{"sample": 3}``).

    Returns
    -------
    DecodeResult
        Never raises for a bad density; ``result.reason`` says why nothing came out.
    """
    from pymatgen.core import Composition, Element, Lattice

    base = dict(provenance or {})
    result = DecodeResult()

    def fail(reason: str) -> DecodeResult:
        result.failures.append(StructureCandidate.failure(reason, source, **base))
        return result

    try:
        lat = lattice if isinstance(lattice, Lattice) else Lattice(np.asarray(lattice, dtype=float))
        comp = Composition(composition)
        fu = comp.reduced_composition
        counts_fu = {Element(str(el)).Z: round(n) for el, n in fu.items()}
        for zz in counts_fu:
            expected_peak_height(zz, b_factor)  # raises for an element without form factors
    except (ValueError, TypeError, KeyError) as exc:
        return fail(f"bad input: {exc}")
    if not counts_fu:
        return fail("the composition has no atoms")
    try:
        rho = np.asarray(grid, dtype=float)
        heights = [expected_peak_height(zz, b_factor) for zz in counts_fu]
        max_rho = float(np.max(rho)) if rho.size else 0.0
        floor = 0.25 * min(heights) / max(heights) * max_rho
        result.peaks = find_peaks(rho, lat, min_height=max(floor, 0.0), merge_distance=0.5)
    except ValueError as exc:
        return fail(f"bad density: {exc}")
    if len(result.peaks) == 0:
        return fail("the density has no peak")
    result.formula_units = candidate_z(fu, lat.volume, electrons=result.peaks.total_electrons, z=z)
    if not result.formula_units.values:
        return fail(result.formula_units.reason or "no Z fits the cell")
    if result.formula_units.reason:
        logger.info("%s", result.formula_units.reason)
    for zz in result.formula_units.values:
        good, bad = _models_for_z(
            result.peaks,
            lat,
            counts_fu,
            zz,
            tolerances=tolerances,
            n_assignments=n_assignments,
            b_factor=b_factor,
            base=base,
            source=source,
        )
        result.candidates.extend(good)
        result.failures.extend(bad)
    return result

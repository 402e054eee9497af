"""Systematic absences and extinction symbols, computed from each space group's operations.

Absences
    For an operation ``(R, t)`` (``x' = R x + t`` on fractional coordinates),
    ``F(h) = exp(2πi h·t) F(hR)``. A reflection with ``hR = h`` and ``h·t`` not an integer is
    therefore systematically absent; a reflection is absent in a group iff some operation of the
    group (centring translations included) makes it so. This covers the integral (centring),
    zonal (glide) and serial (screw) conditions of every space group in every setting, from the
    operations spglib holds for its 530 Hall settings; absences caused by atoms on special
    positions are not space-group absences and are not predicted.
Extinction symbols
    Written as the lattice letter and one entry per symmetry direction of the Hermann–Mauguin
    symbol (cubic ``[001] [111] [1-10]``; tetragonal ``[001] [100] [1-10]``; hexagonal and trigonal
    P ``[001] [100] [1-10]``; trigonal R (hexagonal axes) ``[001] [100]``; orthorhombic and
    monoclinic ``[100] [010] [001]``), e.g. ``"F d - -"`` for Fd-3m, ``"P 1 2_1/c 1"`` for
    P2_1/c, ``"R - c"`` for R-3c. An entry is the glide letter of the reflecting operations
    perpendicular to that direction when no centring translation turns them into a mirror
    (``a b c`` when a glide vector lies along an axis, else ``d`` or ``n``; ``e`` for an
    orthorhombic double glide), the screw axis along it when its serial absences
    are not already implied by the centring and the glides (``2_1 3_1 4_1 4_2 6_1 6_2 6_3``,
    enantiomorphs written once), both as ``screw/glide``, or ``-`` (``1`` for a monoclinic
    direction without symmetry). Groups with the same absences share the symbol.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SettingOps",
    "absent",
    "crystal_system_of",
    "extinction_symbol",
    "hall_settings",
    "setting_ops",
]

logger = logging.getLogger(__name__)

_SYSTEM_RANGES = (
    (2, "triclinic"),
    (15, "monoclinic"),
    (74, "orthorhombic"),
    (142, "tetragonal"),
    (167, "trigonal"),
    (194, "hexagonal"),
    (230, "cubic"),
)
_DIRECTIONS: dict[str, list[list[tuple[int, int, int]]]] = {
    "cubic": [
        [(0, 0, 1), (1, 0, 0), (0, 1, 0)],
        [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)],
        [(1, -1, 0), (1, 1, 0), (0, 1, 1), (0, 1, -1), (1, 0, 1), (-1, 0, 1)],
    ],
    "tetragonal": [[(0, 0, 1)], [(1, 0, 0), (0, 1, 0)], [(1, -1, 0), (1, 1, 0)]],
    "hexagonal": [[(0, 0, 1)], [(1, 0, 0), (0, 1, 0), (1, 1, 0)], [(1, -1, 0), (1, 2, 0), (2, 1, 0)]],
    "orthorhombic": [[(1, 0, 0)], [(0, 1, 0)], [(0, 0, 1)]],
    "monoclinic": [[(1, 0, 0)], [(0, 1, 0)], [(0, 0, 1)]],
    "triclinic": [],
}
_HEX_METRIC = np.array([[1.0, -0.5, 0.0], [-0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
_SHIFTS = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)


def crystal_system_of(number: int) -> str:
    """Crystal system of a space-group number (1–230)."""
    for top, name in _SYSTEM_RANGES:
        if 1 <= number <= top:
            return name
    raise ValueError(f"Space-group number must be 1–230, got {number}.")


@dataclass(frozen=True)
class SettingOps:
    """One Hall setting of a space group and its operations (conventional basis).

    Attributes
    ----------
    hall_number
        spglib's Hall number (1–530).
    number
        International number.
    symbol
        Short Hermann–Mauguin symbol (e.g. ``"Fd-3m"``).
    full_symbol
        spglib's ``international_full`` (e.g. ``"F 4_1/d -3 2/m"``).
    choice
        Setting choice (origin, unique axis, ``"H"``/``"R"`` axes; ``""`` if unique).
    rotations, translations
        (O, 3, 3) and (O, 3), centring translations included.
    point_group_order
        Number of distinct rotations.
    """

    hall_number: int
    number: int
    symbol: str
    full_symbol: str
    choice: str
    rotations: NDArray[np.int64]
    translations: NDArray[np.float64]
    point_group_order: int

    @property
    def crystal_system(self) -> str:
        """Crystal system of the group."""
        return crystal_system_of(self.number)

    @property
    def centring(self) -> str:
        """Lattice letter (P, A, B, C, I, F, R)."""
        return self.symbol[0]


@functools.cache
def setting_ops(hall_number: int) -> SettingOps:
    """The operations of one of spglib's 530 Hall settings."""
    import spglib

    if not 1 <= int(hall_number) <= 530:
        raise ValueError(f"Hall numbers run from 1 to 530, got {hall_number}.")
    info = spglib.get_spacegroup_type(int(hall_number))
    ops = spglib.get_symmetry_from_database(int(hall_number))
    rots = np.asarray(ops["rotations"], dtype=np.int64)
    return SettingOps(
        hall_number=int(hall_number),
        number=int(info.number),
        symbol=str(info.international_short),
        full_symbol=str(info.international_full),
        choice=str(info.choice),
        rotations=rots,
        translations=np.asarray(ops["translations"], dtype=float),
        point_group_order=len({r.tobytes() for r in rots}),
    )


@functools.lru_cache(maxsize=1)
def hall_settings() -> tuple[SettingOps, ...]:
    """All 530 Hall settings."""
    return tuple(setting_ops(h) for h in range(1, 531))


def absent(hkl: ArrayLike, rotations: NDArray, translations: NDArray, tol: float = 1e-6) -> NDArray[np.bool_]:
    """Which reflections (H, 3) the operations make systematically absent."""
    h = np.asarray(hkl, dtype=float).reshape(-1, 3)
    out = np.zeros(h.shape[0], dtype=bool)
    rots = np.asarray(rotations)
    trans = np.asarray(translations, dtype=float)
    keys = [r.tobytes() for r in rots]
    for key in dict.fromkeys(keys):  # each distinct rotation once, with all its translations
        idx = [i for i, k in enumerate(keys) if k == key]
        t = trans[idx]
        t = t[np.any(np.abs(t - np.round(t)) > tol, axis=1)]
        if t.shape[0] == 0:
            continue
        fixed = np.nonzero(np.all(np.abs(h @ rots[idx[0]] - h) < tol, axis=1))[0]
        if fixed.size == 0:
            continue
        phase = h[fixed] @ t.T
        out[fixed] |= np.any(np.abs(phase - np.round(phase)) > tol, axis=1)
    return out


def _eigvec(rot: NDArray, value: int) -> NDArray[np.int64]:
    """Integer direction with ``R u = value · u`` (the axis or the mirror normal)."""
    vals, vecs = np.linalg.eig(rot.astype(float))
    v = np.real(vecs[:, np.argmin(np.abs(vals - value))])
    v = v / v[np.argmax(np.abs(v))]
    for m in range(1, 7):
        if np.allclose(v * m, np.round(v * m), atol=1e-6):
            v = np.round(v * m)
            break
    g = np.gcd.reduce(np.abs(v).astype(np.int64))
    return (v / max(g, 1)).astype(np.int64)


def _parallel(u: NDArray, d: tuple[int, int, int]) -> bool:
    return bool(np.allclose(np.cross(u, np.asarray(d)), 0))


def _order(rot: NDArray) -> int:
    m = np.eye(3, dtype=np.int64)
    for k in range(1, 7):
        m = m @ rot
        if np.array_equal(m, np.eye(3, dtype=np.int64)):
            return k
    return 0


@dataclass(frozen=True)
class _OpTable:
    """Per operation: 'm' (reflection), 'r' (proper rotation ≠ 1) or '' and its direction/order."""

    kind: NDArray[np.str_]
    direction: NDArray[np.int64]  # (O, 3); zero where the operation has no direction
    order: tuple[int, ...]

    def along(self, kind: str, direction: tuple[int, int, int]) -> list[int]:
        par = np.all(np.cross(self.direction, np.asarray(direction)) == 0, axis=1)
        return np.nonzero((self.kind == kind) & par & np.any(self.direction != 0, axis=1))[0].tolist()


def _op_table(ops: SettingOps) -> _OpTable:
    eye = np.eye(3, dtype=np.int64)
    cache: dict[bytes, tuple[str, NDArray[np.int64] | None, int]] = {}
    kinds, dirs, orders = [], [], []
    for rot in ops.rotations:
        key = rot.tobytes()
        if key not in cache:
            det = round(np.linalg.det(rot))
            if det == -1 and np.array_equal(rot @ rot, eye) and not np.array_equal(rot, -eye):
                cache[key] = ("m", _eigvec(rot, -1), 2)
            elif det == 1 and not np.array_equal(rot, eye):
                cache[key] = ("r", _eigvec(rot, 1), _order(rot))
            else:
                cache[key] = ("", None, 0)
        k, u, o = cache[key]
        kinds.append(k)
        dirs.append(np.zeros(3, dtype=np.int64) if u is None else u)
        orders.append(o)
    return _OpTable(np.array(kinds), np.array(dirs, dtype=np.int64), tuple(orders))


def _glide_letter(
    ops: SettingOps, table: _OpTable, direction: tuple[int, int, int], metric: NDArray
) -> str | None:
    """Glide letter of the reflections ⊥ direction, '' for a mirror, None if there is none."""
    idx = table.along("m", direction)
    if not idx:
        return None
    candidates = []
    low = np.inf
    for i in idx:
        rot = ops.rotations[i]
        ts = ops.translations[i][None, :] + _SHIFTS
        w = 0.5 * (ts + ts @ rot.T)  # intrinsic (glide) part of every lattice-shifted copy
        low = min(low, float(np.einsum("ni,ij,nj->n", w, metric, w).min()))
        candidates.append(w)
    if low < 1e-8:
        return ""  # a mirror: the centring removes every glide in this orientation
    w_all = np.concatenate(candidates)
    # name the glide after a glide vector along one axis when there is one (a, b, c), else d or n
    nonzero = np.abs(w_all) > 1e-6
    single = (nonzero.sum(axis=1) == 1) & np.isclose(np.abs(w_all).max(axis=1), 0.5, atol=1e-6)
    axial = {"abc"[int(np.argmax(nonzero[j]))] for j in np.nonzero(single)[0]}
    if axial:
        if len(axial) > 1 and ops.crystal_system == "orthorhombic":
            return "e"  # double glide plane (Cmce, Ccce, …)
        return sorted(axial)[0]
    if np.any(np.isclose(np.abs(w_all) % 0.5, 0.25, atol=1e-6)):
        return "d"
    return "n"


def _screw(ops: SettingOps, table: _OpTable, direction: tuple[int, int, int]) -> str | None:
    """Screw symbol along direction if it adds serial absences to centring and glides."""
    axis_ops = table.along("r", direction)
    if not axis_ops:
        return None
    other = sorted(set(range(len(table.kind))) - set(axis_ops))
    n = max(table.order[i] for i in axis_ops)
    # the reciprocal row fixed by the axis rotations, sampled at m = 1..12
    rot = ops.rotations[axis_ops[0]]
    fixed = np.array([h for h in _SHIFTS if np.any(h) and np.array_equal(h @ rot, h)])
    if fixed.size == 0:
        return None
    g = fixed[np.argmin(np.abs(fixed).sum(axis=1))]
    row = np.arange(1, 13)[:, None] * g[None, :]
    with_axis = absent(row, ops.rotations, ops.translations)
    without = absent(row, ops.rotations[other], ops.translations[other])
    if np.array_equal(with_axis, without):
        return None
    screw_only = absent(row, ops.rotations[axis_ops], ops.translations[axis_ops])
    allowed = np.nonzero(~screw_only)[0]
    period = int(allowed[0] + 1) if allowed.size else n
    k = n // period if period > 1 else 0
    k = min(k, n - k) if n != 4 or k != 2 else 2
    return f"{n}_{k}" if k else None


@functools.cache
def _symbol_of_hall(hall_number: int) -> str:
    return _extinction_symbol(setting_ops(hall_number))


def extinction_symbol(ops: SettingOps) -> str:
    """Extinction symbol of a Hall setting (see the module docstring for the convention)."""
    return _symbol_of_hall(ops.hall_number)


def _extinction_symbol(ops: SettingOps) -> str:
    system = ops.crystal_system
    metric = _HEX_METRIC if system in ("hexagonal", "trigonal") else np.eye(3)
    if system == "trigonal":
        positions = _DIRECTIONS["hexagonal"][:2] if ops.centring == "R" else _DIRECTIONS["hexagonal"]
    else:
        positions = _DIRECTIONS[system]
    table = _op_table(ops)
    entries = [ops.centring]
    for pos, dirs in enumerate(positions):
        glide, screw, any_sym = None, None, False
        for d in dirs:
            g = _glide_letter(ops, table, d, metric)
            s = _screw(ops, table, d)
            any_sym = any_sym or g is not None or bool(table.along("r", d))
            glide = glide or g or None  # the first direction of the set with a glide names it
            screw = screw or s
        if system == "cubic" and ops.centring == "P" and pos == 2 and glide == "c":
            glide = "n"  # ITA names this diagonal glide n in primitive cubic groups (Pm-3n, P-43n)
        if screw and glide:
            entries.append(f"{screw}/{glide}")
        else:
            entries.append(screw or glide or ("1" if system == "monoclinic" and not any_sym else "-"))
    return " ".join(entries)

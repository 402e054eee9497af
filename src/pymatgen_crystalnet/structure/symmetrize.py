"""Symmetry of an atomic model on a ladder of tolerances, and the model made exactly symmetric.

spglib (through pymatgen's ``SpacegroupAnalyzer``) finds the space group of the model at each
tolerance of the ladder. The model is then projected onto that symmetry *in its own cell*
(the lattice is the given one and stays as it is): each atom's position becomes the average,
over the group's operations ``(R, t)``, of ``R⁻¹(x_j − t)`` where ``x_j`` is the (nearest image
of the) atom the operation sends it to. The average is the orthogonal projection of the positions
onto the positions with that symmetry, so atoms land exactly on their Wyckoff positions (special
positions included) with the free parameters kept. Each distinct space group of the ladder
gives one model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["DEFAULT_TOLERANCES", "SymmetrizedModel", "symmetrize", "symmetrize_ladder"]

logger = logging.getLogger(__name__)

#: Tolerance ladder (Å) for spglib: from tight to loose.
DEFAULT_TOLERANCES: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class SymmetrizedModel:
    """A model made exactly symmetric.

    Attributes
    ----------
    structure
        The symmetric model on the original lattice.
    space_group
        Hermann–Mauguin symbol.
    space_group_number
        International number.
    symprec
        The tolerance (Å) at which the symmetry was found.
    wyckoffs
        Wyckoff letters with multiplicity of the distinct sites (e.g. ``["4a", "4b"]``).
    max_shift
        Largest distance (Å) an atom moved.
    """

    structure: Structure
    space_group: str
    space_group_number: int
    symprec: float
    wyckoffs: tuple[str, ...]
    max_shift: float


def _project(
    frac: NDArray[np.float64],
    numbers: NDArray[np.int64],
    rotations: NDArray[np.int64],
    translations: NDArray[np.float64],
    lattice: NDArray[np.float64],
    tol: float,
) -> NDArray[np.float64] | None:
    """Average of every atom's images under the group; None if an operation is not a permutation."""
    n = frac.shape[0]
    acc = np.zeros_like(frac)
    for rot, trans in zip(rotations, translations, strict=True):
        moved = frac @ rot.T + trans  # image of atom i under the operation
        d = moved[:, None, :] - frac[None, :, :]
        d -= np.round(d)
        dist = np.linalg.norm(d @ lattice, axis=-1)
        dist[numbers[:, None] != numbers[None, :]] = np.inf
        target = np.argmin(dist, axis=1)
        if np.any(dist[np.arange(n), target] > tol) or np.unique(target).size != n:
            return None
        # x_j (nearest image to R x_i + t), pulled back: R⁻¹ (x_j − t), unwrapped near x_i
        xj = moved - d[np.arange(n), target]
        back = np.linalg.solve(rot.astype(float), (xj - trans).T).T
        shift = back - frac
        acc += frac + (shift - np.round(shift))
    return acc / len(rotations)


def symmetrize(structure: Structure, symprec: float, angle_tolerance: float = 5.0) -> SymmetrizedModel | None:
    """The model projected onto the space group spglib finds at ``symprec`` (None if it fails)."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        sga = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance)
        data = sga.get_symmetry_dataset()
    except Exception as exc:  # spglib raises several types when it finds no dataset
        logger.debug("spglib found no symmetry at symprec=%s: %s", symprec, exc)
        return None
    if data is None:
        return None
    lat = np.asarray(structure.lattice.matrix)
    frac = np.asarray(structure.frac_coords, dtype=float)
    numbers = np.array([site.specie.Z for site in structure])
    projected = _project(
        frac, numbers, np.asarray(data.rotations), np.asarray(data.translations), lat, 2.5 * symprec
    )
    if projected is None:
        return None
    d = projected - frac
    max_shift = float(np.max(np.linalg.norm((d - np.round(d)) @ lat, axis=1)))
    projected -= np.floor(projected)
    projected[np.isclose(projected, 1.0, atol=1e-10)] = 0.0
    model = Structure(structure.lattice, [s.specie for s in structure], projected)
    try:  # the projected model's own symmetry, at a tight tolerance
        check = SpacegroupAnalyzer(model, symprec=1e-3).get_symmetry_dataset()
    except Exception:  # pragma: no cover - a projected model always has a dataset
        return None
    if check is None or int(check.number) != int(data.number):
        logger.debug("projection at symprec=%s did not keep group %s", symprec, data.number)
        return None
    sites = sorted(set(zip(check.equivalent_atoms, check.wyckoffs, strict=True)))
    # multiplicities in the conventional cell (the given cell may be primitive or a supercell)
    per_conv = len(check.std_types) / len(model)
    mult = np.rint(np.bincount(np.asarray(check.equivalent_atoms), minlength=len(model)) * per_conv)
    mult = mult.astype(int)
    wyckoffs = tuple(sorted(f"{mult[i]}{w}" for i, w in sites))
    return SymmetrizedModel(
        structure=model,
        space_group=str(check.international),
        space_group_number=int(check.number),
        symprec=float(symprec),
        wyckoffs=wyckoffs,
        max_shift=max_shift,
    )


def symmetrize_ladder(
    structure: Structure, tolerances: tuple[float, ...] = DEFAULT_TOLERANCES
) -> list[SymmetrizedModel]:
    """One symmetric model per distinct space group found along the tolerance ladder."""
    models: list[SymmetrizedModel] = []
    seen: set[int] = set()
    for tol in tolerances:
        model = symmetrize(structure, tol)
        if model is None or model.space_group_number in seen:
            continue
        seen.add(model.space_group_number)
        models.append(model)
    return models

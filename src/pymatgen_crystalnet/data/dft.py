"""DFT charge densities (CHGCAR) as CMED grids on the dataset's canonical cell, with mp-pyrho.

pymatgen keeps VASP's convention (the data are ρ·V_cell); the grids here are ρ in e/Å³, with
grid point (i, j, k) at fractional (i/n, j/n, k/n) of the cell, as everywhere in the package.

A CHGCAR lives on the cell of the calculation, while the dataset stores densities on its
canonical cell (primitive or conventional standard setting). :func:`cell_mapping` finds the
integer matrix and origin shift that express the canonical cell in the calculation's cell
(checked atom by atom), and :func:`regrid` resamples the density onto it with pyrho's Fourier
interpolation (``ChargeDensity.get_transformed``), the way the CrystalNet paper regridded the
Materials Project densities.

Fourier interpolation conserves the electron count only when the density is band-limited on
the output grid; a smooth valence density is, an all-electron-like one with sharp cores is
not. :attr:`DFTGrid.electrons` reports the count of the result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.physics.cells import grid_electrons

if TYPE_CHECKING:
    from pymatgen.core import Structure
    from pymatgen.io.vasp.outputs import VolumetricData

__all__ = [
    "CellMapping",
    "DFTGrid",
    "cell_mapping",
    "chgcar_on_canonical_cell",
    "regrid",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellMapping:
    """How a target cell sits in a source cell.

    A point with fractional coordinates ``p`` in the target cell is at
    ``p @ matrix + origin`` in the source cell's fractional coordinates, and the target
    lattice equals ``matrix @ source_lattice`` up to a rigid rotation.
    """

    matrix: NDArray[np.int64]
    origin: NDArray[np.float64]

    @property
    def is_identity(self) -> bool:
        """Whether the cells coincide (same basis, same origin)."""
        return bool(np.array_equal(self.matrix, np.eye(3, dtype=np.int64))
                    and np.allclose(self.origin, 0.0, atol=1e-9))


@dataclass(frozen=True)
class DFTGrid:
    """A density grid (e/Å³) on a structure's cell."""

    structure: Structure
    grid: NDArray[np.float32]

    @property
    def electrons(self) -> float:
        """Electrons in the cell: mean density times volume."""
        return grid_electrons(self.grid, self.structure.volume)


def _sites_match(
    source: Structure, target: Structure, matrix: NDArray, origin: NDArray, tol: float
) -> bool:
    """Whether every target site lands on a source site of the same species."""
    src_frac = source.frac_coords
    src_species = [site.species for site in source]
    lattice = source.lattice
    mapped = target.frac_coords @ matrix + origin
    for frac, species in zip(mapped, (site.species for site in target)):
        diff = src_frac - frac
        diff -= np.round(diff)
        dist = np.linalg.norm(diff @ lattice.matrix, axis=1)
        if not any(d < tol and s == species for d, s in zip(dist, src_species)):
            return False
    return True


def cell_mapping(
    source: Structure,
    target: Structure,
    *,
    ltol: float = 0.05,
    atol: float = 2.0,
    site_tol: float = 0.3,
) -> CellMapping:
    """Find how ``target``'s cell sits in ``source``'s (same crystal, possibly rotated).

    Parameters
    ----------
    source
        The structure of the density's cell (e.g. a CHGCAR's).
    target
        The same crystal in another cell: the same or a larger volume (a supercell of
        ``source``'s lattice, e.g. the conventional cell of a primitive input).
    ltol, atol
        Relative length and angle (degrees) tolerances when matching the lattices.
    site_tol
        Distance (Å) within which a mapped target site must meet a source site of the same
        species.

    Returns
    -------
    CellMapping

    Raises
    ------
    ValueError
        If no integer basis change and origin shift map the target onto the source, e.g.
        when the target cell is smaller than the source cell (primitive from conventional)
        or the structures differ.
    """
    if len(target) == 0 or len(source) == 0:
        raise ValueError("Both structures need sites to find the cell mapping.")
    ratio = target.volume / source.volume
    if ratio < 1 - 1e-3 or abs(ratio - round(ratio)) > 1e-2:
        raise ValueError(
            f"The target cell ({target.volume:.3f} Å³) is not an integer multiple of the "
            f"density's cell ({source.volume:.3f} Å³); the density cannot be mapped onto it."
        )
    first = target[0]
    anchor = [site.frac_coords for site in source if site.species == first.species]
    candidates = sorted(
        source.lattice.find_all_mappings(target.lattice, ltol=ltol, atol=atol,
                                         skip_rotation_matrix=True),
        key=lambda m: (np.linalg.det(m[2]) < 0, np.abs(m[2]).sum()),
    )
    for _, _, scale in candidates:
        matrix = np.rint(scale).astype(np.int64)
        for frac in anchor:
            origin = frac - first.frac_coords @ matrix
            origin -= np.floor(origin)
            if _sites_match(source, target, matrix, origin, site_tol):
                return CellMapping(matrix=matrix, origin=np.where(np.isclose(origin, 1.0), 0.0, origin))
    raise ValueError(
        f"No mapping of the {target.composition.reduced_formula} cell onto the density's cell "
        f"was found (ltol={ltol}, site_tol={site_tol} Å)."
    )


def regrid(
    volumetric: VolumetricData,
    n: int,
    *,
    mapping: CellMapping | None = None,
    key: str = "total",
) -> NDArray[np.float32]:
    """Resample volumetric data (pymatgen convention, ρ·V) to an n³ grid in e/Å³ with pyrho.

    Parameters
    ----------
    volumetric
        A ``Chgcar`` or other ``VolumetricData`` with its structure.
    n
        Grid points per axis of the output.
    mapping
        The output cell within the data's cell (default: the same cell).
    key
        Which data set, ``"total"`` (default) or ``"diff"``.

    Returns
    -------
    numpy.ndarray
        (n, n, n) float32, e/Å³ on the output cell.
    """
    from pyrho.charge_density import ChargeDensity

    if key not in volumetric.data:
        raise ValueError(f"The volumetric data hold no {key!r} set ({sorted(volumetric.data)}).")
    if int(n) < 2:
        raise ValueError(f"The grid needs at least 2 points per axis, got {n}.")
    if len(volumetric.structure) == 0:
        raise ValueError("Regridding with mp-pyrho needs the structure's sites.")
    data = np.asarray(volumetric.data[key], dtype=np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError("The volumetric data contain NaN or infinite values.")
    mapping = mapping or CellMapping(np.eye(3, dtype=np.int64), np.zeros(3))
    density = ChargeDensity.from_pmg(volumetric, normalization="vasp")
    out = density.get_transformed(
        sc_mat=mapping.matrix, grid_out=[int(n)] * 3, origin=mapping.origin
    )
    return np.asarray(out.normalized_data[key], dtype=np.float32)


def chgcar_on_canonical_cell(
    volumetric: VolumetricData,
    n: int = 50,
    *,
    cell: str = "primitive",
    symprec: float = 0.1,
    canonical: Structure | None = None,
) -> DFTGrid:
    """A CHGCAR's density on the canonical cell of its structure, as an n³ grid in e/Å³.

    Parameters
    ----------
    volumetric
        The ``Chgcar`` (or ``VolumetricData``).
    n
        Grid points per axis.
    cell, symprec
        Canonical cell choice and symmetry tolerance (see
        :func:`pymatgen_crystalnet.physics.cells.canonical_cell`).
    canonical
        The canonical structure, if already computed.
    """
    from pymatgen_crystalnet.physics.cells import canonical_cell

    structure = volumetric.structure
    target = canonical if canonical is not None else canonical_cell(structure, cell, symprec)
    mapping = cell_mapping(structure, target, site_tol=max(0.3, 3 * symprec))
    logger.debug("cell mapping %s origin %s", mapping.matrix.tolist(), mapping.origin)
    return DFTGrid(structure=target, grid=regrid(volumetric, n, mapping=mapping))


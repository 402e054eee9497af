"""Canonical cells, and CMED grids ↔ pymatgen ``VolumetricData``.

A CMED grid is an ``(n₁, n₂, n₃)`` array of electron density in e/Å³ at the fractional points
``(i/n₁, j/n₂, k/n₃)`` of a cell (the VASP CHGCAR ordering, first point at the origin).
pymatgen's ``VolumetricData`` stores ``ρ × V_cell`` instead; the conversions here keep that
convention, so ``Chgcar.write_file`` writes files that VESTA reads as densities.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.common import VolumetricData
    from pymatgen.io.vasp import Chgcar

__all__ = [
    "CellChoice",
    "canonical_cell",
    "grid_electrons",
    "grid_to_chgcar",
    "grid_to_volumetric",
    "symmetry_info",
    "volumetric_to_grid",
]

logger = logging.getLogger(__name__)

CellChoice = Literal["primitive", "conventional"]
#: Default symmetry tolerance (Å), as the bundled corpus's space groups were found with.
DEFAULT_SYMPREC: float = 0.1


def canonical_cell(
    structure: Structure,
    cell: CellChoice = "primitive",
    symprec: float = DEFAULT_SYMPREC,
    angle_tolerance: float = 5.0,
) -> Structure:
    """The structure in its standard setting: primitive (default) or conventional.

    Parameters
    ----------
    structure
        Any pymatgen ``Structure``.
    cell
        ``"primitive"`` (primitive standard setting, close to the Materials Project's cells) or
        ``"conventional"`` (conventional standard setting).
    symprec, angle_tolerance
        Tolerances passed to spglib through pymatgen's ``SpacegroupAnalyzer``.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if cell not in ("primitive", "conventional"):
        raise ValueError(f"Unknown cell choice {cell!r}; use 'primitive' or 'conventional'.")
    if len(structure) == 0:
        raise ValueError("The structure has no sites.")
    sga = SpacegroupAnalyzer(structure, symprec=symprec, angle_tolerance=angle_tolerance)
    try:
        if cell == "primitive":
            return sga.get_primitive_standard_structure()
        return sga.get_conventional_standard_structure()
    except (TypeError, ValueError) as exc:  # spglib found no symmetry dataset
        raise ValueError(
            f"Symmetry analysis failed for {structure.composition.reduced_formula} at "
            f"symprec={symprec}: {exc}"
        ) from exc


def symmetry_info(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> dict[str, object]:
    """Space-group number and symbol, and crystal system, of a structure."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sga = SpacegroupAnalyzer(structure, symprec=symprec)
    return {
        "spacegroup_number": int(sga.get_space_group_number()),
        "spacegroup_symbol": str(sga.get_space_group_symbol()),
        "crystal_system": str(sga.get_crystal_system()),
    }


def _as_structure(structure_or_lattice: Structure | Lattice | ArrayLike) -> Structure:
    from pymatgen.core import Lattice, Structure

    if isinstance(structure_or_lattice, Structure):
        return structure_or_lattice
    if isinstance(structure_or_lattice, Lattice):
        lattice = structure_or_lattice
    else:
        if structure_or_lattice is None:
            raise ValueError("A lattice (or structure) is needed to place the grid in space.")
        lattice = Lattice(np.asarray(structure_or_lattice, dtype=float))
    # VolumetricData needs a structure; an empty one only carries the lattice
    return Structure(lattice, [], [])


def _check_grid(grid: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(grid, dtype=float)
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"A CMED grid must be a 3-D array, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("The density grid contains NaN or infinite values.")
    return arr


def grid_to_volumetric(
    grid: ArrayLike, structure_or_lattice: Structure | Lattice | ArrayLike
) -> VolumetricData:
    """Place a CMED grid (e/Å³) on a lattice as pymatgen ``VolumetricData`` (data = ρ × V)."""
    from pymatgen.io.common import VolumetricData

    arr = _check_grid(grid)
    structure = _as_structure(structure_or_lattice)
    return VolumetricData(structure, {"total": arr * structure.volume})


def grid_to_chgcar(grid: ArrayLike, structure: Structure) -> Chgcar:
    """A pymatgen ``Chgcar`` holding a CMED grid (e/Å³) on a structure's cell."""
    from pymatgen.io.vasp import Chgcar, Poscar

    arr = _check_grid(grid)
    if len(structure) == 0:
        raise ValueError("A CHGCAR needs a structure with at least one site.")
    return Chgcar(Poscar(structure), {"total": arr * structure.volume})


def volumetric_to_grid(
    volumetric: VolumetricData, n: int | tuple[int, int, int] | None = None, key: str = "total"
) -> NDArray[np.float64]:
    """The CMED grid (e/Å³) of pymatgen ``VolumetricData`` (or a ``Chgcar``).

    Parameters
    ----------
    volumetric
        Volumetric data in pymatgen's convention (ρ × V_cell).
    n
        Output grid size; when it differs from the stored one the data are regridded by
        Fourier interpolation with mp-pyrho (as the Materials Project densities are).
    key
        Which data set (``"total"`` or ``"diff"``).
    """
    if key not in volumetric.data:
        raise ValueError(f"The volumetric data hold no {key!r} set ({sorted(volumetric.data)}).")
    volume = volumetric.structure.volume
    grid = np.asarray(volumetric.data[key], dtype=float) / volume
    if n is None:
        return grid
    dims = (n, n, n) if np.isscalar(n) else tuple(int(v) for v in n)  # type: ignore[arg-type]
    if tuple(grid.shape) == tuple(dims):
        return grid
    from pyrho.charge_density import ChargeDensity

    if len(volumetric.structure) == 0:
        raise ValueError(
            "Regridding with mp-pyrho needs the structure's sites, not only a lattice."
        )
    density = ChargeDensity.from_pmg(volumetric, normalization="vasp")
    regridded = density.get_transformed(sc_mat=np.eye(3), grid_out=list(dims))
    return np.asarray(regridded.normalized_data[key], dtype=float)


def grid_electrons(grid: ArrayLike, volume: float) -> float:
    """Electrons held by a density grid on a cell: the mean density (e/Å³) times the volume (Å³).

    The mean is taken in float64 whatever the grid's dtype, so float32 grids of 50³ points and
    more do not lose digits. This is the one electron count of a grid in the package.

    Parameters
    ----------
    grid
        Density values (e/Å³) on a uniform grid of fractional coordinates, any shape.
    volume
        Cell volume in Å³.
    """
    return float(np.mean(np.asarray(grid), dtype=np.float64) * float(volume))

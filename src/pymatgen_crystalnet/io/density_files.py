"""Writing CMED grids for viewers: VASP CHGCAR, Gaussian cube and XCrySDen XSF.

VESTA opens all three. Units follow each format's convention:

- CHGCAR: ``ρ × V_cell`` (pymatgen ``Chgcar``), grid point (i, j, k) at (i/n₁, j/n₂, k/n₃).
- cube: e/bohr³, lengths in bohr, the x index slowest.
- XSF: e/Å³ on a *general* grid that repeats the first plane at the end of each axis, the
  first index fastest.

Every writer goes through a temporary file in the target folder and renames it, so a failed
or interrupted write leaves no partial file behind.

Partial occupancies: the IAM density handles them (each species of a site weighted by its
occupancy), and so do the cube and XSF writers (a site is listed with its majority species).
A CHGCAR cannot: its POSCAR header lists whole atoms. :func:`check_density_format` says so
before anything is computed or written; call it first when writing several files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from pymatgen_crystalnet.atomic import atomic_path, atomic_write
from pymatgen_crystalnet.physics.cells import grid_to_chgcar

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "BOHR_IN_ANGSTROM",
    "atomic_write",
    "check_density_format",
    "write_chgcar",
    "write_cube",
    "write_density",
    "write_xsf",
]

#: One bohr in Å (CODATA 2018).
BOHR_IN_ANGSTROM: float = 0.529177210903


def _grid_and_structure(grid: ArrayLike, structure: Structure) -> np.ndarray:
    arr = np.asarray(grid, dtype=float)
    if arr.ndim != 3:
        raise ValueError(f"A density grid must be 3-D, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError("The density grid contains NaN or infinite values.")
    if structure is None or len(structure) == 0:
        raise ValueError("Writing a density file needs a structure with at least one site.")
    return arr


def _format_of(fmt: str | None, path: str | os.PathLike | None) -> str:
    name = Path(path).name.lower() if path is not None else ""
    by_name = "cube" if name.endswith(".cube") else "xsf" if name.endswith(".xsf") else "chgcar"
    key = fmt.lower() if fmt else by_name
    if key not in ("chgcar", "cube", "xsf"):
        raise ValueError(f"Unknown density format {fmt!r}; choose one of chgcar, cube, xsf.")
    return key


def check_density_format(
    structure: Structure, path: str | os.PathLike | None = None, fmt: str | None = None
) -> str:
    """Check that a density file of this format can hold ``structure``; return the format.

    The format is ``fmt`` or follows from the file name as in :func:`write_density`.

    Raises
    ------
    ValueError
        For an unknown format, or a CHGCAR of a structure with partial occupancies (the
        message names the first such site and the formats that work).
    """
    key = _format_of(fmt, path)
    if key == "chgcar" and not structure.is_ordered:
        i, site = next((i, s) for i, s in enumerate(structure) if not s.is_ordered)
        raise ValueError(
            f"A CHGCAR cannot hold a structure with partial occupancies (site {i}: "
            f"{site.species.formula}; its POSCAR header lists whole atoms). Write the density as "
            ".cube or .xsf, or order the structure first (e.g. pymatgen's "
            "OrderDisorderedStructureTransformation). The IAM density itself handles partial "
            "occupancy."
        )
    return key


def write_chgcar(grid: ArrayLike, structure: Structure, path: str | os.PathLike) -> Path:
    """Write a CMED grid (e/Å³) on ``structure`` as a VASP CHGCAR (ordered structures only)."""
    arr = _grid_and_structure(grid, structure)
    check_density_format(structure, fmt="chgcar")
    chgcar = grid_to_chgcar(arr, structure)
    target = Path(path)
    with atomic_path(target) as tmp:
        chgcar.write_file(str(tmp))
    return target


def _site_numbers(structure: Structure) -> list[int]:
    """Atomic number of each site's majority species; 0 for a placeholder (dummy) species."""
    from pymatgen.core import Element

    numbers = []
    for site in structure:
        species = max(site.species.items(), key=lambda kv: kv[1])[0]
        symbol = getattr(species, "symbol", "")
        numbers.append(Element(symbol).Z if Element.is_valid_symbol(symbol) else 0)
    return numbers


def write_cube(
    grid: ArrayLike, structure: Structure, path: str | os.PathLike, comment: str = ""
) -> Path:
    """Write a CMED grid (e/Å³) on ``structure`` as a Gaussian cube file (e/bohr³)."""
    arr = _grid_and_structure(grid, structure)
    lattice = structure.lattice.matrix / BOHR_IN_ANGSTROM
    data = arr * BOHR_IN_ANGSTROM**3
    with atomic_write(path) as fh:
        fh.write(f"CMED of {structure.composition.reduced_formula} (pymatgen-crystalnet)\n")
        fh.write(f"{comment or 'electron density, e/bohr^3'}\n")
        fh.write(f"{len(structure):5d} {0.0:12.6f} {0.0:12.6f} {0.0:12.6f}\n")
        for axis in range(3):
            step = lattice[axis] / arr.shape[axis]
            fh.write(f"{arr.shape[axis]:5d} {step[0]:12.6f} {step[1]:12.6f} {step[2]:12.6f}\n")
        for z, site in zip(_site_numbers(structure), structure):
            x, y, w = site.coords / BOHR_IN_ANGSTROM
            fh.write(f"{z:5d} {float(z):12.6f} {x:12.6f} {y:12.6f} {w:12.6f}\n")
        rows = data.reshape(-1, arr.shape[2])
        for row in rows:
            for start in range(0, row.size, 6):
                fh.write(" ".join(f"{v:13.5e}" for v in row[start : start + 6]) + "\n")
    return Path(path)


def write_xsf(grid: ArrayLike, structure: Structure, path: str | os.PathLike) -> Path:
    """Write a CMED grid (e/Å³) on ``structure`` as an XCrySDen XSF file."""
    arr = _grid_and_structure(grid, structure)
    general = np.pad(arr, [(0, 1)] * 3, mode="wrap")
    lattice = structure.lattice.matrix
    with atomic_write(path) as fh:
        fh.write("CRYSTAL\nPRIMVEC\n")
        for vec in lattice:
            fh.write(f" {vec[0]:14.8f} {vec[1]:14.8f} {vec[2]:14.8f}\n")
        fh.write(f"PRIMCOORD\n {len(structure)} 1\n")
        for z, site in zip(_site_numbers(structure), structure):
            x, y, w = site.coords
            fh.write(f" {z:3d} {x:14.8f} {y:14.8f} {w:14.8f}\n")
        fh.write("BEGIN_BLOCK_DATAGRID_3D\n CMED\n BEGIN_DATAGRID_3D_density\n")
        fh.write(" {} {} {}\n".format(*general.shape))
        fh.write(" 0.0 0.0 0.0\n")
        for vec in lattice:
            fh.write(f" {vec[0]:14.8f} {vec[1]:14.8f} {vec[2]:14.8f}\n")
        flat = general.ravel(order="F")
        for start in range(0, flat.size, 6):
            fh.write(" ".join(f"{v:13.5e}" for v in flat[start : start + 6]) + "\n")
        fh.write(" END_DATAGRID_3D\nEND_BLOCK_DATAGRID_3D\n")
    return Path(path)


_WRITERS = {"chgcar": write_chgcar, "cube": write_cube, "xsf": write_xsf}


def write_density(
    grid: ArrayLike, structure: Structure, path: str | os.PathLike, fmt: str | None = None
) -> Path:
    """Write a CMED grid in the format named by ``fmt`` or by the file name.

    ``*.cube`` → cube, ``*.xsf`` → XSF, anything else (``CHGCAR*``, ``*.vasp``) → CHGCAR.
    """
    return _WRITERS[_format_of(fmt, path)](grid, structure, path)

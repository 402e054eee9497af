"""Express a crystal found on one cell on another cell of the same lattice.

A density lives on the solver's canonical (primitive) cell while the pattern may be described
on another cell of the same lattice (e.g. the conventional cubic cell an indexing returns). The
two are related by an integer matrix ``M`` with ``L_pattern = M · L_density`` (rows are the
cell vectors, same orientation): a supercell of the model (``|det M| ≥ 1``), or a fold of the
model into a smaller cell (``M⁻¹`` integer), which is only valid when the model has the smaller
cell's translations.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

__all__ = ["on_lattice"]


def _integer(m: np.ndarray, tol: float) -> np.ndarray | None:
    r = np.round(m)
    return r.astype(int) if np.allclose(m, r, atol=tol) and abs(round(np.linalg.det(r))) >= 1 else None


def on_lattice(structure: Structure, lattice: Lattice, tol: float = 0.03, site_tol: float = 0.3) -> Structure:
    """The crystal ``structure`` written on ``lattice`` (same lattice, possibly another cell).

    Parameters
    ----------
    structure
        The model on its own cell.
    lattice
        The target cell, same orientation, related by an integer matrix (either way).
    tol
        Largest deviation of the transformation matrix from integers.
    site_tol
        Distance (Å) under which folded sites coincide.

    Raises
    ------
    ValueError
        When the cells are not related by an integer matrix, or the model lacks the
        translations of the smaller target cell.
    """
    src = structure.lattice.matrix
    if np.allclose(src, lattice.matrix, atol=1e-8):
        return structure
    m = lattice.matrix @ np.linalg.inv(src)
    up = _integer(m, tol)
    if up is not None:
        sup = structure.copy()
        sup.make_supercell(up)
        return Structure(lattice, sup.species, sup.frac_coords)
    down = _integer(np.linalg.inv(m), tol)
    if down is None:
        raise ValueError(
            "the density's cell and the pattern's cell are not related by an integer matrix in the same "
            f"orientation (M = {np.round(m, 3).tolist()})"
        )
    n_cells = abs(round(np.linalg.det(down)))
    frac = lattice.get_fractional_coords(structure.cart_coords) % 1.0
    species = [site.specie for site in structure]
    keep: list[int] = []
    for i in range(len(structure)):
        dup = False
        for j in keep:
            if species[j] != species[i]:
                continue
            d = frac[i] - frac[j]
            d -= np.round(d)
            if np.linalg.norm(d @ lattice.matrix) < site_tol:
                dup = True
                break
        if not dup:
            keep.append(i)
    if len(keep) * n_cells != len(structure):
        raise ValueError(
            f"the model ({len(structure)} sites) lacks the translations of the pattern's cell, "
            f"{n_cells} times smaller ({len(keep)} distinct sites after folding)"
        )
    return Structure(lattice, [species[i] for i in keep], frac[keep])

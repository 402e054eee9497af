"""Helpers of the solve result: compact JSON codecs and atoms placed on a density's cell.

- :func:`pack_array` / :func:`unpack_array`: arrays as ``{"dtype", "shape", "zlib_b64"}``
  (lossless at their own dtype; see :func:`pymatgen_crystalnet.data.schema.encode_array`).
- :func:`verification_to_dict` / :func:`verification_from_dict`: a
  :class:`~pymatgen_crystalnet.scoring.verification.Verification` with its stick pattern.
- :func:`atoms_on_lattice`: the sites of a structure expressed in another cell of the same
  crystal (the refined structure may come back in the conventional cell while the density lives
  on the primitive one), or None when the two cells are not related by lattice translations.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pymatgen.core import Lattice, Structure

    from pymatgen_crystalnet.scoring.verification import Verification

__all__ = [
    "atoms_on_lattice",
    "pack_array",
    "unpack_array",
    "verification_from_dict",
    "verification_to_dict",
]

logger = logging.getLogger(__name__)

#: Tolerance on "integer" entries of a cell transformation.
_INTEGER_TOL = 1e-3


def pack_array(array: Any, dtype: str | None = None) -> dict[str, Any]:
    """An array packed compactly and losslessly at ``dtype`` (default: its own dtype)."""
    from pymatgen_crystalnet.data.schema import encode_array

    arr = np.asarray(array)
    return encode_array(arr, dtype=dtype or arr.dtype.str)


def unpack_array(packed: dict[str, Any]) -> NDArray:
    """Inverse of :func:`pack_array`; a plain list is accepted too.

    Raises
    ------
    ValueError
        If ``packed`` is neither a packed array nor a list.
    """
    from pymatgen_crystalnet.data.schema import decode_array

    if isinstance(packed, dict) and "zlib_b64" in packed:
        return decode_array(packed)
    if isinstance(packed, (list, tuple)):
        return np.asarray(packed)
    raise ValueError(f"Not a packed array: {type(packed).__name__}.")


def verification_to_dict(verification: Verification) -> dict[str, Any]:
    """A JSON-able dict of a verification (its stick pattern as pymatgen's dict)."""
    pattern = verification.pattern
    return {
        "cosine": float(verification.cosine),
        "rwp": float(verification.rwp),
        "compared_bins": int(verification.compared_bins),
        "vector": pack_array(verification.vector, "float32"),
        "pattern": {
            "x": pack_array(pattern.x, "float64"),
            "y": pack_array(pattern.y, "float64"),
            "hkls": pattern.hkls,
            "d_hkls": [float(d) for d in pattern.d_hkls],
        },
    }


def verification_from_dict(data: dict[str, Any]) -> Verification:
    """Inverse of :func:`verification_to_dict`."""
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    from pymatgen_crystalnet.scoring.verification import Verification

    pat = data["pattern"]
    hkls = [[{**h, "hkl": tuple(h["hkl"])} for h in group] for group in pat["hkls"]]
    pattern = DiffractionPattern(unpack_array(pat["x"]), unpack_array(pat["y"]), hkls, list(pat["d_hkls"]))
    return Verification(
        cosine=float(data["cosine"]),
        rwp=float(data["rwp"]),
        pattern=pattern,
        vector=unpack_array(data["vector"]).astype(np.float32, copy=False),
        compared_bins=int(data["compared_bins"]),
    )


def _near_integer(m: NDArray) -> bool:
    return bool(np.all(np.abs(m - np.round(m)) < _INTEGER_TOL))


def atoms_on_lattice(structure: Structure, lattice: Lattice) -> Structure | None:
    """The atoms of ``structure`` in the cell ``lattice`` (same Cartesian frame), or None.

    Works when one cell is a supercell of the other (a conventional cell and its primitive
    cell, or the same cell): the sites are folded into ``lattice`` and duplicates merged. Cells
    that are not related by whole lattice translations (rotated frames, a different crystal)
    give None.

    Parameters
    ----------
    structure
        The atomic model.
    lattice
        The cell to express it in (e.g. the cell a density grid lives on).
    """
    from pymatgen.core import Structure

    if np.allclose(structure.lattice.matrix, lattice.matrix, atol=1e-4):
        return Structure(lattice, structure.species, structure.frac_coords)
    # the model's cell vectors in the target cell's coordinates: integers when the target cell's
    # lattice contains the model's (model = supercell of target)
    model_in_target = lattice.get_fractional_coords(structure.lattice.matrix)
    target_in_model = structure.lattice.get_fractional_coords(lattice.matrix)
    if _near_integer(model_in_target):
        source = structure
    elif _near_integer(target_in_model):
        source = structure * np.round(target_in_model).astype(int).tolist()  # supercell on the target
    else:
        logger.debug("No whole-translation relation between %s and %s", structure.lattice, lattice)
        return None
    frac = lattice.get_fractional_coords(source.cart_coords) % 1.0
    folded = Structure(lattice, source.species, frac)
    folded.merge_sites(tol=0.05, mode="delete")
    ratio = len(structure) * lattice.volume / structure.lattice.volume
    if abs(len(folded) - ratio) > 0.5:
        logger.debug("Folding %d sites gave %d, expected %.2f", len(structure), len(folded), ratio)
        return None
    return folded.get_sorted_structure()

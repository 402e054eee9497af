"""Compact JSON codecs of the solve result's arrays and verifications.

- :func:`pack_array` / :func:`unpack_array`: arrays as ``{"dtype", "shape", "zlib_b64"}``
  (lossless at their own dtype; see :func:`pymatgen_crystalnet.data.schema.encode_array`).
- :func:`verification_to_dict` / :func:`verification_from_dict`: a
  :class:`~pymatgen_crystalnet.scoring.verification.Verification` with its stick pattern.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pymatgen_crystalnet.scoring.verification import Verification

__all__ = [
    "pack_array",
    "unpack_array",
    "verification_from_dict",
    "verification_to_dict",
]

logger = logging.getLogger(__name__)


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

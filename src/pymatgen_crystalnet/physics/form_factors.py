"""Neutral-atom X-ray form factors, Waasmaier–Kirfel (1995) five-Gaussian fits.

``f0(s) = Σᵢ aᵢ · exp(−bᵢ s²) + c`` with ``s = sin θ / λ`` in Å⁻¹. The coefficients are read
from xraydb's ``Waasmaier`` table (H … Cf, Z = 1 … 98), not typed in here.

The coefficients are also available as one dense table (:func:`coefficient_table`), which
is what the dataset export carries so that training can run where xraydb is not installed.
"""

from __future__ import annotations

import functools
import json

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_Z",
    "N_GAUSSIANS",
    "coefficient_table",
    "electron_count",
    "form_factor",
    "has_form_factor",
    "wk_coefficients",
]

#: Highest atomic number with Waasmaier–Kirfel coefficients (Cf).
MAX_Z: int = 98
#: Gaussians in one Waasmaier–Kirfel fit.
N_GAUSSIANS: int = 5


@functools.lru_cache(maxsize=1)
def coefficient_table() -> NDArray[np.float64]:
    """Waasmaier–Kirfel coefficients of the neutral atoms as a dense table.

    Returns
    -------
    numpy.ndarray
        Shape ``(MAX_Z + 1, 11)``; row ``Z`` holds ``a1..a5, b1..b5, c`` (b in Å²).
        Row 0 and any element without coefficients are NaN.
    """
    import xraydb  # deferred: xraydb opens its SQLite database on import

    db = xraydb.get_xraydb()
    table = db.tables["Waasmaier"]
    out = np.full((MAX_Z + 1, 2 * N_GAUSSIANS + 1), np.nan)
    for row in db.query(table).all():
        if row.ion != row.element or not 1 <= row.atomic_number <= MAX_Z:
            continue  # ions and valence-only entries such as "Cval"
        out[row.atomic_number, :N_GAUSSIANS] = json.loads(row.scale)
        out[row.atomic_number, N_GAUSSIANS : 2 * N_GAUSSIANS] = json.loads(row.exponents)
        out[row.atomic_number, -1] = row.offset
    out.setflags(write=False)
    return out


def has_form_factor(z: int) -> bool:
    """Whether the neutral atom of atomic number ``z`` has Waasmaier–Kirfel coefficients.

    True for Z = 1 (H) … 98 (Cf); False for Z ≤ 0, Z > 98 (Es … Og) and any row the table
    lacks.
    """
    z = int(z)
    return 1 <= z <= MAX_Z and not bool(np.isnan(coefficient_table()[z, 0]))


def _z_of(element: int | str) -> int:
    if isinstance(element, (int, np.integer)):
        return int(element)
    from pymatgen.core import Element

    sym = str(element).strip()
    if not Element.is_valid_symbol(sym):
        raise ValueError(f"Unknown element {element!r}.")
    return Element(sym).Z


def wk_coefficients(element: int | str) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Waasmaier–Kirfel ``(a, b, c)`` of a neutral atom given by atomic number or symbol.

    Raises
    ------
    ValueError
        For an unknown element or one without coefficients (Z = 0 or Z > 98).
    """
    z = _z_of(element)
    table = coefficient_table()
    if not 1 <= z <= MAX_Z or np.isnan(table[z, 0]):
        raise ValueError(
            f"No Waasmaier–Kirfel X-ray form factor for element {element!r} (Z={z}); "
            f"coefficients exist for Z = 1 (H) to {MAX_Z} (Cf)."
        )
    row = table[z]
    return row[:N_GAUSSIANS].copy(), row[N_GAUSSIANS : 2 * N_GAUSSIANS].copy(), float(row[-1])


def form_factor(element: int | str, s: ArrayLike, b_factor: float = 0.0) -> NDArray[np.float64]:
    """Form factor ``f0(s) · exp(−B s²)`` of a neutral atom.

    Parameters
    ----------
    element
        Atomic number or symbol.
    s
        ``sin θ / λ`` in Å⁻¹ (any shape).
    b_factor
        Isotropic Debye–Waller factor B in Å² (0 for the static atom).
    """
    a, b, c = wk_coefficients(element)
    s2 = np.asarray(s, dtype=float)[..., None] ** 2
    f0 = np.sum(a * np.exp(-b * s2), axis=-1) + c
    return f0 * np.exp(-b_factor * s2[..., 0])


def electron_count(
    atomic_numbers: ArrayLike,
    occupancies: ArrayLike | None = None,
    coefficients: NDArray[np.float64] | None = None,
) -> float:
    """Electrons in an IAM cell: ``Σ occupancy · f0(0)`` (within 0.1 % of ``Σ Z``).

    This is what the IAM density of :mod:`.iam` integrates to over one cell.

    Parameters
    ----------
    atomic_numbers
        (A,) atomic numbers.
    occupancies
        (A,) site occupancies (default 1).
    coefficients
        The table of :func:`coefficient_table` (read from xraydb when omitted).
    """
    zs = np.asarray(atomic_numbers, dtype=np.int64).ravel()
    occ = np.ones(zs.size) if occupancies is None else np.asarray(occupancies, float).ravel()
    table = coefficient_table() if coefficients is None else np.asarray(coefficients, float)
    rows = table[zs]
    return float(np.sum((rows[:, :N_GAUSSIANS].sum(axis=1) + rows[:, -1]) * occ))

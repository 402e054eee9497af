"""Indexing cubic powder patterns: the lattice parameter and centring from peak positions.

For a cubic lattice ``1/d² = N / a²`` with ``N = h² + k² + l²``, and N can be any sum of three
squares (never 7, 15, 23, 28, … = 4ᵃ(8b + 7)). Candidate lattice parameters come from assigning
the first lines small N; the smallest ``a`` that indexes every line within ``tolerance`` degrees
of 2θ wins (larger multiples of a true cell index everything too, so the smallest is the
physical one), and ``a`` is then refined by least squares on all lines. The extinctions of
the indexed N give the centring: all N even → body-centred (I), h, k, l all odd or all even →
face-centred (F), otherwise primitive (P).

The tolerance is in degrees of 2θ at the pattern's wavelength (default 0.05°, well above the
scatter of peak positions picked from a measured profile at 0.01° steps, well below the
separation of neighbouring cubic lines).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.units import d_to_two_theta, resolve_wavelength, two_theta_to_d

if TYPE_CHECKING:
    from pymatgen.core import Lattice

__all__ = ["CubicIndexing", "IndexingError", "index_cubic", "index_cubic_with_a"]

logger = logging.getLogger(__name__)

Centring = Literal["P", "I", "F"]
_MAX_N = 400
_HKL = np.stack(np.meshgrid(*[np.arange(21)] * 3, indexing="ij"), -1).reshape(-1, 3)[1:]
_SUMS_OF_THREE_SQUARES = np.unique((_HKL**2).sum(axis=1))
_ALLOWED = set(_SUMS_OF_THREE_SQUARES[_SUMS_OF_THREE_SQUARES <= _MAX_N].tolist())
_F_ALLOWED = set(((_HKL[np.all(_HKL % 2 == _HKL[:, :1] % 2, axis=1)]) ** 2).sum(axis=1).tolist())
_SPACE_GROUP_OF = {"P": "Pm-3m", "I": "Im-3m", "F": "Fm-3m"}


class IndexingError(ValueError):
    """The peak positions do not index as a cubic lattice."""


@dataclass(frozen=True)
class CubicIndexing:
    """Result of :func:`index_cubic`.

    Attributes
    ----------
    a
        Refined cubic lattice parameter (Å).
    centring
        ``"P"``, ``"I"`` or ``"F"``, from the extinctions of the indexed lines.
    n_values
        ``h² + k² + l²`` of each line.
    residuals
        Observed − calculated 2θ of each line (degrees).
    wavelength
        Wavelength of the input positions (Å).
    """

    a: float
    centring: Centring
    n_values: NDArray[np.int64]
    residuals: NDArray[np.float64]
    wavelength: float

    def conventional_lattice(self) -> Lattice:
        """The cubic conventional lattice ``a·I``."""
        from pymatgen.core import Lattice

        return Lattice.cubic(self.a)

    def lattice(self, cell: Literal["primitive", "conventional"] = "primitive") -> Lattice:
        """The lattice of the canonical cell a CMED lives on (primitive standard setting by
        default), built with the same symmetry code the dataset uses.
        """
        from pymatgen.core import Structure

        from pymatgen_crystalnet.physics.cells import canonical_cell

        dummy = Structure.from_spacegroup(
            _SPACE_GROUP_OF[self.centring], self.conventional_lattice(), ["H"], [[0, 0, 0]]
        )
        return canonical_cell(dummy, cell).lattice


def _centring(n_values: NDArray[np.int64]) -> Centring:
    if np.all(n_values % 2 == 0):
        return "I"
    if all(int(n) in _F_ALLOWED for n in n_values):
        return "F"
    return "P"


def _fit(a0: float, tt: NDArray, lam: float, tolerance: float, *, refine: bool) -> CubicIndexing | None:
    """Index lines at 2θ = ``tt`` with a cubic ``a0``; None unless every line fits."""
    q = 1.0 / two_theta_to_d(tt, lam) ** 2
    n_int = np.rint(q * a0**2).astype(np.int64)
    if np.any(n_int < 1) or np.any(n_int > _MAX_N) or not all(int(n) in _ALLOWED for n in n_int):
        return None
    # refine 1/a² by least squares on q = N / a²
    a = 1.0 / np.sqrt(float(np.sum(n_int * q) / np.sum(n_int * n_int))) if refine else a0
    calc = d_to_two_theta(a / np.sqrt(n_int), lam)
    residuals = tt - calc
    if not (np.all(np.isfinite(calc)) and np.max(np.abs(residuals)) <= tolerance):
        return None
    return CubicIndexing(
        a=float(a), centring=_centring(n_int), n_values=n_int, residuals=residuals, wavelength=lam
    )


def _lines(
    two_theta: ArrayLike, intensities: ArrayLike | None, min_intensity: float, max_lines: int, min_lines: int
) -> NDArray:
    tt = np.asarray(two_theta, dtype=float).ravel()
    if not np.all(np.isfinite(tt)) or np.any((tt <= 0) | (tt >= 180)):
        raise IndexingError("Peak positions must be finite and inside (0°, 180°) 2θ.")
    if intensities is not None:
        inten = np.asarray(intensities, dtype=float).ravel()
        if inten.shape != tt.shape:
            raise IndexingError("Peak positions and intensities differ in length.")
        tt = tt[inten >= min_intensity * inten.max()]
    tt = np.unique(np.round(np.sort(tt), 6))[:max_lines]
    if tt.size < min_lines:
        raise IndexingError(
            f"Only {tt.size} peak(s) to index; at least {min_lines} are needed to determine a "
            "cubic lattice parameter."
        )
    return tt


def index_cubic_with_a(
    two_theta: ArrayLike,
    wavelength: float | str,
    a: float,
    *,
    intensities: ArrayLike | None = None,
    tolerance: float = 0.05,
    max_lines: int = 20,
    min_intensity: float = 0.01,
) -> CubicIndexing:
    """Index peak positions with a given cubic ``a`` (Å): the centring and the residuals.

    Raises
    ------
    IndexingError
        When some line is farther than ``tolerance`` from every cubic reflection of ``a``.
    """
    lam = resolve_wavelength(wavelength)
    tt = _lines(two_theta, intensities, min_intensity, max_lines, 1)
    result = _fit(float(a), tt, lam, tolerance, refine=False)
    if result is None:
        raise IndexingError(f"The peaks do not index with a cubic a = {a} Å within {tolerance}° 2θ.")
    return result


def index_cubic(
    two_theta: ArrayLike,
    wavelength: float | str,
    *,
    intensities: ArrayLike | None = None,
    tolerance: float = 0.05,
    max_lines: int = 20,
    min_lines: int = 3,
    min_intensity: float = 0.01,
) -> CubicIndexing:
    """Find the cubic lattice parameter and centring that index peak positions.

    Parameters
    ----------
    two_theta
        Peak positions (degrees) at ``wavelength``.
    wavelength
        Å or a name such as ``"CuKa1"``.
    intensities
        Optional peak heights; lines weaker than ``min_intensity`` of the strongest are ignored
        (they are the most likely to be noise).
    tolerance
        Largest allowed |observed − calculated| 2θ (degrees) of every line.
    max_lines
        Index at most this many lines, lowest angles first.
    min_lines
        Refuse patterns with fewer usable lines.

    Raises
    ------
    IndexingError
        When no cubic cell indexes every line within the tolerance, or too few lines are given.
    """
    lam = resolve_wavelength(wavelength)
    tt = _lines(two_theta, intensities, min_intensity, max_lines, min_lines)
    d = two_theta_to_d(tt, lam)
    q = 1.0 / d**2
    # candidate a from the first two lines assigned every allowed N
    candidates = []
    for first in (0, 1):
        for n in _SUMS_OF_THREE_SQUARES[_SUMS_OF_THREE_SQUARES <= 60]:
            candidates.append(np.sqrt(n / q[first]))
    best: CubicIndexing | None = None
    for a0 in sorted(set(np.round(candidates, 8))):
        best = _fit(a0, tt, lam, tolerance, refine=True)
        if best is not None:
            break  # candidates are sorted: the smallest a that indexes everything
    if best is None:
        raise IndexingError(
            f"The {tt.size} lowest-angle peaks do not index as a cubic lattice within "
            f"{tolerance}° 2θ; give the lattice explicitly (lattice=...)."
        )
    logger.info(
        "Indexed %d lines as cubic %s, a = %.5f Å (max |Δ2θ| = %.4f°)",
        tt.size,
        best.centring,
        best.a,
        np.max(np.abs(best.residuals)),
    )
    return best

"""Reflections of a lattice inside the limiting sphere, merged by 2θ as pymatgen merges them.

The enumeration follows pymatgen's ``XRDCalculator`` convention exactly, so that a pattern
built from these reflections is the same pattern, reflection for reflection:

- reciprocal-lattice points ``g = h a* + k b* + l c*`` (crystallographic reciprocal lattice,
  no 2π) with ``min_r ≤ |g| ≤ max_r (+1e-8)``, where ``r = 2 sin θ / λ`` at the ends of the
  2θ range;
- one Friedel half-space only (``h > 0``, or ``h = 0, k > 0``, or ``h = k = 0, l > 0``):
  the form factors are real, so ``I(-g) = I(g)`` and each half-space intensity counts twice;
- sorted by ``|g|`` then by ``-h, -k, -l``;
- reflections whose 2θ round to the same multiple of ``TWO_THETA_TOL`` (1e-5°) are one merged
  peak (their intensities add: this is the multiplicity), reported at the 2θ of the first
  reflection of the group in that order.

Because 2θ grows with ``|g|``, each merged group is a contiguous run of the sorted list, so a
pattern is merged with one ``np.add.reduceat`` over all reflections (and all trial crystals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.physics.units import TWO_THETA_MAX

__all__ = ["TWO_THETA_TOL", "ReflectionSet", "enumerate_reflections", "lorentz_polarisation_theta"]

#: 2θ tolerance (degrees) within which pymatgen merges reflections into one peak.
TWO_THETA_TOL: float = 1e-5
#: tolerance on the sphere radius pymatgen's ``get_points_in_sphere`` applies
_SPHERE_TOL = 1e-8
#: the 2θ = 180° reflection has an infinite Lorentz factor; the range stops just short of it
_TWO_THETA_CAP = TWO_THETA_MAX - 1e-6
#: refuse enumerations larger than this many grid points (a typo in the lattice, not a crystal)
_MAX_GRID_POINTS = 50_000_000


@dataclass(frozen=True)
class ReflectionSet:
    """The reflections of one lattice at one wavelength over one 2θ range.

    Attributes
    ----------
    hkl
        ``(R, 3)`` integer Miller indices of the Friedel half-space, in pymatgen's order.
    g
        ``(R,)`` ``|g| = 1/d`` in Å⁻¹.
    two_theta
        ``(R,)`` 2θ of each reflection in degrees.
    starts
        ``(M,)`` index of the first reflection of each merged peak (for ``np.add.reduceat``).
    group
        ``(R,)`` index of the merged peak each reflection belongs to.
    wavelength
        Å.
    """

    hkl: NDArray[np.int64]
    g: NDArray[np.float64]
    two_theta: NDArray[np.float64]
    starts: NDArray[np.int64]
    group: NDArray[np.int64]
    wavelength: float

    @property
    def merged_two_theta(self) -> NDArray[np.float64]:
        """``(M,)`` 2θ of the merged peaks (degrees), ascending."""
        return self.two_theta[self.starts]

    @property
    def s2(self) -> NDArray[np.float64]:
        """``(R,)`` ``s² = (sin θ / λ)² = (|g| / 2)²``, the form-factor argument squared."""
        return (self.g / 2) ** 2

    @property
    def lorentz_polarisation(self) -> NDArray[np.float64]:
        """``(R,)`` Lorentz–polarisation factor of each reflection."""
        return lorentz_polarisation_theta(np.radians(self.two_theta) / 2)

    def __len__(self) -> int:
        return len(self.g)


def lorentz_polarisation_theta(theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(1 + cos² 2θ) / (sin² θ cos θ)`` of θ in radians, written as pymatgen writes it."""
    return (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))


def _check_range(two_theta_range: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in two_theta_range)
    except (TypeError, ValueError):
        raise ValueError(f"two_theta_range must be two numbers (degrees), got {two_theta_range!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not 0 <= lo < hi <= TWO_THETA_MAX:
        raise ValueError(f"two_theta_range must satisfy 0 ≤ min < max ≤ 180, got {two_theta_range!r}.")
    return lo, min(hi, _TWO_THETA_CAP)


def enumerate_reflections(
    lattice_matrix: NDArray[np.float64], wavelength: float, two_theta_range: tuple[float, float]
) -> ReflectionSet:
    """All reflections of a lattice within a 2θ range, ordered and merged as pymatgen does.

    Parameters
    ----------
    lattice_matrix
        ``(3, 3)`` real-space lattice vectors as rows (Å).
    wavelength
        Wavelength in Å.
    two_theta_range
        ``(min, max)`` 2θ in degrees, ``0 ≤ min < max ≤ 180``; a maximum of 180° stops at
        180° − 1e-6° (the Lorentz factor is infinite at 180°).

    Returns
    -------
    ReflectionSet
        Possibly empty (no reflection in the range).

    Raises
    ------
    ValueError
        For a singular or non-finite lattice, a bad range or wavelength.
    """
    mat = np.asarray(lattice_matrix, dtype=np.float64)
    if mat.shape != (3, 3) or not np.all(np.isfinite(mat)) or abs(np.linalg.det(mat)) < 1e-8:
        raise ValueError("The lattice must be a finite, non-singular 3×3 matrix of row vectors (Å).")
    if not math.isfinite(wavelength) or wavelength <= 0:
        raise ValueError(f"The wavelength must be a finite positive number of Å, got {wavelength!r}.")
    lo, hi = _check_range(two_theta_range)
    min_r = 2 * math.sin(math.radians(lo / 2)) / wavelength
    max_r = 2 * math.sin(math.radians(hi / 2)) / wavelength
    # |h| = |a · g| ≤ |a| |g|: the box of Miller indices that holds the sphere
    bounds = np.floor(np.linalg.norm(mat, axis=1) * (max_r + _SPHERE_TOL)).astype(np.int64)
    if np.prod(2 * bounds + 1) > _MAX_GRID_POINTS:
        raise ValueError(
            f"The 2θ range holds too many reflections for this cell (Miller bounds {bounds.tolist()})."
        )
    axes = [np.arange(-b, b + 1) for b in bounds]
    hkl = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    h, k, ell = hkl.T
    half = (h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (ell > 0))
    hkl = hkl[half]
    recip = np.linalg.inv(mat).T  # rows a*, b*, c* without the 2π
    g = np.linalg.norm(hkl @ recip, axis=1)
    keep = g <= max_r + _SPHERE_TOL
    if min_r:
        keep &= g >= min_r
    hkl, g = hkl[keep], g[keep]
    order = np.lexsort((-hkl[:, 2], -hkl[:, 1], -hkl[:, 0], g))
    hkl, g = hkl[order], g[order]
    theta = np.arcsin(np.clip(wavelength * g / 2, -1, 1))
    two_theta = np.degrees(2 * theta)
    keys = np.round(two_theta / TWO_THETA_TOL).astype(np.int64)
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    return ReflectionSet(
        hkl=hkl, g=g, two_theta=two_theta, starts=starts, group=group, wavelength=float(wavelength)
    )

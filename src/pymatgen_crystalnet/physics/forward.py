"""Forward model: the powder pattern of a density grid on a lattice.

A CMED grid ρ(i/n₁, j/n₂, k/n₃) on a cell of volume V gives structure factors by one FFT,
``F(hkl) = V/N · Σ ρ(x) exp(2πi h·x)``; every reflection inside the sphere the grid resolves
contributes ``|F|² · LP(θ)`` at its Bragg angle, with pymatgen's Lorentz–polarisation factor
``(1 + cos² 2θ) / (sin² θ cos θ)``. Summing all reflections (not one per family) gives the
multiplicities; reflections at the same 2θ are merged into one peak, as pymatgen's
``XRDCalculator`` does. The result is a pymatgen ``DiffractionPattern`` (intensities scaled to
100) and so feeds :func:`~pymatgen_crystalnet.featurize.xrd_vector.pattern_to_vector`.

The Debye–Waller damping and the form factors are already in the density, so nothing else is
applied. A grid with ``n`` points along a lattice vector of length ``a`` resolves
``|h| ≤ ⌊(n − 1)/2⌋`` along it, hence every reflection with ``1/d ≤ ⌊(n − 1)/2⌋ / a_max``:
:func:`resolved_two_theta_max` turns that into the largest 2θ the pattern is complete to.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.powder import lorentz_polarisation
from pymatgen_crystalnet.physics.units import MO_KA, TWO_THETA_MAX, check_two_theta_range, resolve_wavelength

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern
    from pymatgen.core import Lattice

__all__ = [
    "density_structure_factors",
    "pattern_from_density",
    "resolved_two_theta_max",
]

logger = logging.getLogger(__name__)

#: Reflections closer than this in 2θ (degrees) are one peak (pymatgen's TWO_THETA_TOL).
TWO_THETA_TOL: float = 1e-5
#: Peaks weaker than this fraction of the strongest are dropped (pymatgen: 1e-3 on a 100 scale).
RELATIVE_INTENSITY_TOL: float = 1e-5


def _lattice_matrix(lattice: Lattice | ArrayLike) -> NDArray[np.float64]:
    if lattice is None:
        raise ValueError("A lattice is needed to compute a pattern from a density grid.")
    mat = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
    if mat.shape != (3, 3) or not np.all(np.isfinite(mat)) or abs(np.linalg.det(mat)) < 1e-6:
        raise ValueError("The lattice must be a finite, non-singular (3, 3) matrix.")
    return mat


def resolved_two_theta_max(
    lattice: Lattice | ArrayLike, shape: int | tuple[int, int, int], wavelength: float | str = MO_KA
) -> float:
    """Largest 2θ (degrees) up to which a grid of ``shape`` on ``lattice`` resolves every
    reflection at ``wavelength`` (180 when the whole range is covered).
    """
    mat = _lattice_matrix(lattice)
    dims = np.array((shape,) * 3 if np.isscalar(shape) else shape, dtype=int)
    lam = resolve_wavelength(wavelength)
    s_res = np.min(((dims - 1) // 2) / np.linalg.norm(mat, axis=1))
    ratio = lam * s_res / 2
    return TWO_THETA_MAX if ratio >= 1 else float(2 * np.degrees(np.arcsin(ratio)))


def density_structure_factors(
    grid: ArrayLike, lattice: Lattice | ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.complex128], NDArray[np.float64]]:
    """Structure factors of a density grid for every reflection the grid resolves.

    Returns
    -------
    tuple
        ``(hkl (H, 3), F (H,) in electrons, 1/d (H,) in Å⁻¹)``, excluding 000.
    """
    rho = np.asarray(grid, dtype=float)
    if rho.ndim != 3:
        raise ValueError(f"The density grid must be 3-D, got shape {rho.shape}.")
    if not np.all(np.isfinite(rho)):
        raise ValueError("The density grid contains NaN or infinite values.")
    mat = _lattice_matrix(lattice)
    volume = abs(np.linalg.det(mat))
    dims = np.array(rho.shape)
    f_grid = np.fft.ifftn(rho) * volume  # (V/N) Σ ρ exp(+2πi h·x)
    h_max = (dims - 1) // 2
    axes = [np.arange(-h, h + 1) for h in h_max]
    hkl = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    recip = np.linalg.inv(mat).T
    inv_d = np.linalg.norm(hkl @ recip, axis=1)
    s_res = np.min(h_max / np.linalg.norm(mat, axis=1))
    keep = (inv_d > 0) & (inv_d <= s_res * (1 + 1e-12))
    hkl, inv_d = hkl[keep], inv_d[keep]
    f_hkl = f_grid[hkl[:, 0] % dims[0], hkl[:, 1] % dims[1], hkl[:, 2] % dims[2]]
    return hkl.astype(np.int64), f_hkl, inv_d


def pattern_from_density(
    grid: ArrayLike,
    lattice: Lattice | ArrayLike,
    *,
    wavelength: float | str = MO_KA,
    two_theta_range: tuple[float, float] = (0.0, TWO_THETA_MAX),
) -> DiffractionPattern:
    """Powder stick pattern of a density grid (e/Å³) on a lattice, intensities scaled to 100.

    The range is cut at :func:`resolved_two_theta_max` when the grid resolves less. A flat
    density (no Bragg intensity) gives an empty pattern.

    Raises
    ------
    ValueError
        For a bad grid or lattice, or when no reflection falls in the range.
    """
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    lam = resolve_wavelength(wavelength)
    lo, hi = check_two_theta_range(two_theta_range)
    hkl, f_hkl, inv_d = density_structure_factors(grid, lattice)
    hi_res = resolved_two_theta_max(lattice, np.shape(grid), lam)
    if hi_res < hi:
        logger.info("Grid %s resolves 2θ up to %.2f° at λ = %.5f Å.", np.shape(grid), hi_res, lam)
        hi = hi_res
    sin_theta = lam * inv_d / 2
    reach = sin_theta < 1
    hkl, f_hkl, sin_theta = hkl[reach], f_hkl[reach], sin_theta[reach]
    theta = np.arcsin(sin_theta)
    two_theta = np.degrees(2 * theta)
    inside = (two_theta >= lo) & (two_theta <= hi)
    hkl, f_hkl, theta, two_theta = hkl[inside], f_hkl[inside], theta[inside], two_theta[inside]
    if two_theta.size == 0:
        raise ValueError(f"No reflection of this lattice falls in 2θ = {lo}–{hi}° at λ = {lam} Å.")
    intensity = np.abs(f_hkl) ** 2 * lorentz_polarisation(two_theta)

    order = np.argsort(two_theta, kind="stable")
    two_theta, intensity, hkl = two_theta[order], intensity[order], hkl[order]
    starts = np.concatenate([[True], np.diff(two_theta) > TWO_THETA_TOL])
    group = np.cumsum(starts) - 1
    peak_int = np.bincount(group, weights=intensity)
    peak_tt = two_theta[starts]
    multiplicity = np.bincount(group)
    first = np.nonzero(starts)[0]
    if peak_int.max() <= 0:  # a flat density has no Bragg intensity
        return DiffractionPattern(np.zeros(0), np.zeros(0), [], [])
    strong = peak_int > RELATIVE_INTENSITY_TOL * peak_int.max()
    x = peak_tt[strong]
    y = peak_int[strong] / peak_int.max() * 100.0
    hkls = [
        [{"hkl": tuple(int(v) for v in hkl[first[g]]), "multiplicity": int(multiplicity[g])}]
        for g in np.nonzero(strong)[0]
    ]
    d_hkls = list(lam / (2 * np.sin(np.radians(x) / 2)))
    return DiffractionPattern(x, y, hkls, d_hkls)

"""IAM density on the n₁×n₂×n₃ grid of fractional points ``(i/n₁, j/n₂, k/n₃)``.

The real-space terms are summed on a local stencil around each atom; the reciprocal-space
terms are folded onto the grid's frequencies and transformed with one FFT (the method is
described in :mod:`.iam`). Values equal the exact point values of :mod:`.iam_points` to the
truncation tolerance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.grid_limits import check_grid_size
from pymatgen_crystalnet.physics.iam_terms import (
    DEFAULT_B_FACTOR,
    DEFAULT_EPS,
    FOUR_PI2,
    GRID_SPLIT_WIDTH,
    split_terms,
    structure_arrays,
    wide_structure_factors,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["iam_density_grid", "iam_grid_from_arrays"]


def iam_grid_from_arrays(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    n: int | tuple[int, int, int],
    *,
    occupancies: ArrayLike | None = None,
    b_factor: float = DEFAULT_B_FACTOR,
    coefficients: NDArray[np.float64] | None = None,
    split_width: float = GRID_SPLIT_WIDTH,
    eps: float = DEFAULT_EPS,
) -> NDArray[np.float64]:
    """IAM density (e/Å³) on the grid of fractional points ``(i/n₁, j/n₂, k/n₃)``.

    The real-space part is summed on a local stencil around each atom; the reciprocal part is
    folded onto the grid's frequencies and transformed with one FFT. Values equal
    :func:`iam_density_from_arrays` at the same points to the truncation tolerance.

    Returns
    -------
    numpy.ndarray
        Shape ``(n₁, n₂, n₃)``.

    Raises
    ------
    GridSizeError
        (a ``ValueError``) If ``n`` is not a grid size or the grid would need more memory than
        :func:`.grid_limits.check_grid_size` allows (``$CRYSTALNET_MAX_GRID_BYTES``, 2 GiB).
    """
    check_grid_size(n)  # refuses a bad size, or one whose memory estimate is over the limit
    dims = (n, n, n) if np.isscalar(n) else tuple(int(v) for v in n)  # type: ignore[arg-type]
    dims = tuple(int(v) for v in dims)
    terms = split_terms(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients, split_width, eps
    )
    lat, frac, weights, widths, narrow, r_cut, delta = terms.real_space()
    dims_arr = np.array(dims)
    total = np.zeros(int(np.prod(dims)))

    if np.any(narrow):
        amp = weights * (4 * np.pi / widths) ** 1.5
        alpha = FOUR_PI2 / widths
        idx_parts, val_parts = [], []
        for j in range(frac.shape[0]):
            active = np.nonzero(narrow[j] & (weights[j] != 0))[0]
            if active.size == 0:
                continue
            lo = np.ceil((frac[j] - delta) * dims_arr).astype(int)
            hi = np.floor((frac[j] + delta) * dims_arr).astype(int)
            axes = [np.arange(lo[i], hi[i] + 1) for i in range(3)]
            df = [axes[i] / dims[i] - frac[j, i] for i in range(3)]
            cart = [
                df[0][:, None, None] * lat[0, c]
                + df[1][None, :, None] * lat[1, c]
                + df[2][None, None, :] * lat[2, c]
                for c in range(3)
            ]
            r2 = cart[0] ** 2 + cart[1] ** 2 + cart[2] ** 2
            near = r2 <= r_cut**2
            r2n = r2[near]
            vals = np.zeros(r2n.size)
            for t in active:
                vals += amp[j, t] * np.exp(-alpha[j, t] * r2n)
            flat = (
                (np.mod(axes[0], dims[0])[:, None, None] * dims[1]) + np.mod(axes[1], dims[1])[None, :, None]
            ) * dims[2] + np.mod(axes[2], dims[2])[None, None, :]
            idx_parts.append(flat[near])
            val_parts.append(vals)
        if idx_parts:
            total += np.bincount(np.concatenate(idx_parts), np.concatenate(val_parts), minlength=total.size)

    hkl, f_real, f_imag, _ = wide_structure_factors(
        lat, terms.recip, frac, weights, widths, ~narrow, terms.log_eps, half=False
    )
    if hkl.shape[0]:
        folded = np.zeros(dims, dtype=complex)
        idx = tuple(np.mod(hkl[:, i], dims[i]) for i in range(3))
        np.add.at(folded, idx, f_real + 1j * f_imag)
        total += np.fft.fftn(folded).real.ravel() / terms.volume
    return total.reshape(dims)


def iam_density_grid(
    structure: Structure,
    n: int | tuple[int, int, int] = 50,
    *,
    b_factor: float = DEFAULT_B_FACTOR,
    eps: float = DEFAULT_EPS,
) -> NDArray[np.float64]:
    """IAM density (e/Å³) of a pymatgen ``Structure`` on its n×n×n fractional grid."""
    lat, frac, zs, occ = structure_arrays(structure)
    return iam_grid_from_arrays(lat, frac, zs, n, occupancies=occ, b_factor=b_factor, eps=eps)

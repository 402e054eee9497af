"""Exact IAM density at any fractional points: the per-crystal plan and its evaluation.

:func:`build_plan` precomputes one crystal's arrays (:class:`IAMPlan`): the narrow terms of the
atom images within the real-space cutoff, and the wide terms' structure factors on one Friedel
half of the reflections. :func:`evaluate_plan` sums both at any points; the values are exact to
the truncation tolerance (the method is described in :mod:`.iam`). :mod:`.iam_torch` evaluates
the same plans in torch, batched over crystals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.iam_terms import (
    CHUNK_ELEMENTS,
    DEFAULT_B_FACTOR,
    DEFAULT_EPS,
    FOUR_PI2,
    POINT_SPLIT_WIDTH,
    split_terms,
    structure_arrays,
    wide_structure_factors,
)

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "IAMPlan",
    "build_plan",
    "evaluate_plan",
    "iam_density",
    "iam_density_direct",
    "iam_density_from_arrays",
]


@dataclass(frozen=True)
class IAMPlan:
    """Arrays that evaluate one crystal's IAM density at any fractional point.

    Attributes
    ----------
    lattice
        (3, 3) lattice vectors as rows, Å.
    image_frac
        (M, 3) fractional positions of the atom images within ``r_cut`` of the unit cell
        (real-space part).
    amplitude
        (M, K) real-space peak heights ``a (4π/w)^{3/2}`` (e/Å³) of each image's narrow terms;
        zero where an atom has fewer narrow terms than K.
    alpha
        (M, K) real-space exponents ``4π²/w`` (Å⁻²).
    r_cut
        Real-space cutoff (Å); pairs farther apart are not summed.
    hkl
        (H, 3) Miller indices of one Friedel half of the reflections of the wide terms.
    f_real, f_imag
        (H,) real and imaginary parts of the wide terms' structure factor ``F(hkl)`` (e).
    f000
        Wide terms' ``F(000)`` (e).
    volume
        Cell volume (Å³).
    """

    lattice: NDArray[np.float64]
    image_frac: NDArray[np.float64]
    amplitude: NDArray[np.float64]
    alpha: NDArray[np.float64]
    r_cut: float
    hkl: NDArray[np.int64]
    f_real: NDArray[np.float64]
    f_imag: NDArray[np.float64]
    f000: float
    volume: float


def build_plan(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    *,
    occupancies: ArrayLike | None = None,
    b_factor: float = DEFAULT_B_FACTOR,
    coefficients: NDArray[np.float64] | None = None,
    split_width: float = POINT_SPLIT_WIDTH,
    eps: float = DEFAULT_EPS,
) -> IAMPlan:
    """Precompute the arrays that evaluate a crystal's IAM density at any point.

    Parameters
    ----------
    lattice
        (3, 3) lattice vectors as rows (Å).
    frac_coords
        (A, 3) fractional coordinates of the atoms.
    atomic_numbers
        (A,) atomic numbers (1 … 98).
    occupancies
        (A,) site occupancies (default 1).
    b_factor
        Isotropic Debye–Waller factor B (Å², > 0).
    coefficients
        The (99, 11) Waasmaier–Kirfel table (:func:`.form_factors.coefficient_table`); read
        from xraydb when omitted.
    split_width
        Terms with ``w = b + B`` below this width (Å²) are summed in real space, the others
        in reciprocal space. Any value gives the same density; it only moves the work.
    eps
        Relative truncation tolerance of each term.
    """
    terms = split_terms(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients, split_width, eps
    )
    lat, frac, weights, widths, narrow, r_cut, delta = terms.real_space()

    # real-space part: narrow terms of every atom image within r_cut of the cell
    amplitude = np.where(narrow, weights * (4 * np.pi / widths) ** 1.5, 0.0)
    alpha = np.where(narrow, FOUR_PI2 / widths, 0.0)
    has_narrow = np.any(narrow & (weights != 0), axis=1)
    order = np.argsort(~narrow, axis=1, kind="stable")  # narrow terms first
    k_max = int(narrow.sum(axis=1).max()) if np.any(narrow) else 0
    amplitude = np.take_along_axis(amplitude, order, axis=1)[:, :k_max]
    alpha = np.take_along_axis(alpha, order, axis=1)[:, :k_max]
    if k_max and np.any(has_narrow):
        ranges = [np.arange(int(np.floor(-d - 1)), int(np.ceil(1 + d)) + 1) for d in delta]
        shifts = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
        atoms = np.nonzero(has_narrow)[0]
        images = frac[atoms, None, :] + shifts[None, :, :]  # (A', T, 3)
        keep = np.all((images >= -delta) & (images <= 1 + delta), axis=-1)
        atom_idx = np.broadcast_to(atoms[:, None], keep.shape)[keep]
        image_frac = images[keep]
        amplitude, alpha = amplitude[atom_idx], alpha[atom_idx]
    else:
        image_frac = np.zeros((0, 3))
        amplitude = np.zeros((0, k_max))
        alpha = np.zeros((0, k_max))

    hkl, f_real, f_imag, f000 = wide_structure_factors(
        lat, terms.recip, frac, weights, widths, ~narrow, terms.log_eps, half=True
    )
    return IAMPlan(
        lattice=lat,
        image_frac=image_frac,
        amplitude=amplitude,
        alpha=alpha,
        r_cut=r_cut,
        hkl=hkl,
        f_real=f_real,
        f_imag=f_imag,
        f000=f000,
        volume=terms.volume,
    )


def evaluate_plan(plan: IAMPlan, frac_points: ArrayLike) -> NDArray[np.float64]:
    """IAM density (e/Å³) of a planned crystal at fractional points of shape (..., 3)."""
    pts = np.asarray(frac_points, dtype=float)
    if pts.shape[-1:] != (3,):
        raise ValueError(f"Points must have shape (..., 3), got {pts.shape}.")
    if not np.all(np.isfinite(pts)):
        raise ValueError("The query points contain NaN or infinite values.")
    shape = pts.shape[:-1]
    pts = pts.reshape(-1, 3)
    pts = pts - np.floor(pts)
    out = np.zeros(pts.shape[0])
    n_img = plan.image_frac.shape[0]
    if n_img:
        img_cart = plan.image_frac @ plan.lattice
        step = max(1, CHUNK_ELEMENTS // (n_img * max(1, plan.amplitude.shape[1])))
        rc2 = plan.r_cut**2
        for start in range(0, pts.shape[0], step):
            cart = pts[start : start + step] @ plan.lattice
            d = cart[:, None, :] - img_cart[None, :, :]
            r2 = np.einsum("pmi,pmi->pm", d, d)
            p_idx, m_idx = np.nonzero(r2 <= rc2)  # only pairs within the cutoff
            r2_near = r2[p_idx, m_idx]
            vals = np.einsum("nk,nk->n", plan.amplitude[m_idx], np.exp(-plan.alpha[m_idx] * r2_near[:, None]))
            out[start : start + step] += np.bincount(p_idx, vals, minlength=cart.shape[0])
    if plan.hkl.shape[0]:
        step = max(1, CHUNK_ELEMENTS // plan.hkl.shape[0])
        for start in range(0, pts.shape[0], step):
            phase = 2 * np.pi * (pts[start : start + step] @ plan.hkl.T)
            wide = np.cos(phase) @ plan.f_real + np.sin(phase) @ plan.f_imag
            out[start : start + step] += (plan.f000 + 2.0 * wide) / plan.volume
    elif plan.f000:
        out += plan.f000 / plan.volume
    return out.reshape(shape)


def iam_density_from_arrays(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    frac_points: ArrayLike,
    *,
    occupancies: ArrayLike | None = None,
    b_factor: float = DEFAULT_B_FACTOR,
    coefficients: NDArray[np.float64] | None = None,
    eps: float = DEFAULT_EPS,
) -> NDArray[np.float64]:
    """IAM density (e/Å³) at fractional points, from plain arrays (no pymatgen needed).

    Parameters
    ----------
    lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients, eps
        As in :func:`build_plan`.
    frac_points
        (..., 3) fractional coordinates; any values (wrapped into the cell).

    Returns
    -------
    numpy.ndarray
        Density of shape ``frac_points.shape[:-1]``.
    """
    plan = build_plan(
        lattice,
        frac_coords,
        atomic_numbers,
        occupancies=occupancies,
        b_factor=b_factor,
        coefficients=coefficients,
        eps=eps,
    )
    return evaluate_plan(plan, frac_points)


def iam_density(
    structure: Structure,
    frac_points: ArrayLike,
    *,
    b_factor: float = DEFAULT_B_FACTOR,
    eps: float = DEFAULT_EPS,
) -> NDArray[np.float64]:
    """IAM density (e/Å³) of a pymatgen ``Structure`` at fractional points (..., 3)."""
    lat, frac, zs, occ = structure_arrays(structure)
    return iam_density_from_arrays(lat, frac, zs, frac_points, occupancies=occ, b_factor=b_factor, eps=eps)


def iam_density_direct(
    structure: Structure,
    frac_points: ArrayLike,
    *,
    b_factor: float = DEFAULT_B_FACTOR,
    eps: float = 1e-12,
) -> NDArray[np.float64]:
    """Reference IAM density: every term summed in real space over all images within reach.

    Slow (the cutoff is set by the widest Gaussian); used to check the fast paths.
    """
    lat, frac, zs, occ = structure_arrays(structure)
    plan = build_plan(lat, frac, zs, occupancies=occ, b_factor=b_factor, split_width=np.inf, eps=eps)
    return evaluate_plan(plan, frac_points)

"""Independent-atom-model (IAM) electron density of a crystal (DESIGN §3).

Each atom contributes the inverse Fourier transform of its Waasmaier–Kirfel form factor damped
by an isotropic Debye–Waller factor ``exp(−B s²)``. Every one of the six terms of a form factor
(five Gaussians and the constant) becomes a normalised Gaussian in real space::

    a · exp(−w s²)   ⟷   a · (4π / w)^{3/2} · exp(−4π² r² / w),     w = b + B  (w = B for c)

so the density is a sum of Gaussians over atoms and lattice translations, in e/Å³, and it
integrates to ``Σ f0(0) ≈ Z`` electrons per atom.

How it is evaluated
-------------------
Narrow terms (small ``w``) are summed in real space over the periodic images within a short
cutoff; wide terms (large ``w``, whose Fourier transforms fall off fast) are summed in
reciprocal space over the few reflections where they matter. The split (an Ewald-style
partition of the terms, not of each Gaussian) keeps both sums short for any cell shape, and
every truncation drops only contributions below ``eps`` of a term's peak (real space) or of
its value at ``S = 0`` (reciprocal space). The results are exact point values to that
tolerance, not band-limited approximations.

- :func:`iam_density` / :func:`iam_density_from_arrays`: any fractional points.
- :func:`iam_density_grid` / :func:`iam_grid_from_arrays`: the n×n×n grid of points
  ``(i/n, j/n, k/n)``: local stencils for the real-space part, one FFT for the reciprocal part.
- :func:`iam_density_direct`: the plain real-space sum of all terms (the slow reference).
- :class:`IAMPlan`: the per-crystal arrays both evaluations use; :mod:`.iam_torch` evaluates
  the same plans in torch, batched over crystals.

Only numpy is needed here (pymatgen only for the ``Structure`` conveniences), so training can
compute targets on a machine without pymatgen or xraydb when given the coefficient table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.form_factors import MAX_Z, N_GAUSSIANS, coefficient_table

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "DEFAULT_B_FACTOR",
    "IAMPlan",
    "build_plan",
    "electron_count",
    "evaluate_plan",
    "iam_density",
    "iam_density_direct",
    "iam_density_from_arrays",
    "iam_density_grid",
    "iam_grid_from_arrays",
    "structure_arrays",
]

logger = logging.getLogger(__name__)

#: Default isotropic Debye–Waller factor B (Å²) of the IAM density and training patterns.
DEFAULT_B_FACTOR: float = 1.0
#: Default relative truncation tolerance of every Gaussian term.
DEFAULT_EPS: float = 1e-10
#: Default split width (Å²): terms with w < split go to real space. Tuned for grids.
GRID_SPLIT_WIDTH: float = 12.0
#: Default split width for point evaluation (fewer reflections per point).
POINT_SPLIT_WIDTH: float = 80.0
_FOUR_PI2 = 4.0 * np.pi**2
_CHUNK_ELEMENTS = 1 << 22


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


# --------------------------------------------------------------------------- inputs


def structure_arrays(
    structure: Structure,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Lattice, fractional coordinates, atomic numbers and occupancies of a ``Structure``.

    A disordered site contributes one entry per species, weighted by its occupancy.

    Returns
    -------
    tuple
        ``(lattice (3, 3), frac_coords (A, 3), atomic_numbers (A,), occupancies (A,))``.
    """
    frac, zs, occ = [], [], []
    for site in structure:
        for species, amount in site.species.items():
            z = getattr(species, "Z", None)
            if z is None or not 1 <= int(z) <= 118:
                raise ValueError(f"Site {site} holds {species!r}, which is not a chemical element.")
            frac.append(site.frac_coords)
            zs.append(int(z))
            occ.append(float(amount))
    if not zs:
        raise ValueError("The structure has no atoms.")
    return (
        np.array(structure.lattice.matrix, dtype=float),
        np.array(frac, dtype=float),
        np.array(zs, dtype=np.int64),
        np.array(occ, dtype=float),
    )


def _check_inputs(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    occupancies: ArrayLike | None,
    b_factor: float,
    coefficients: NDArray[np.float64] | None,
) -> tuple[NDArray, NDArray, NDArray, NDArray, float]:
    lat = np.asarray(lattice, dtype=float)
    if lat.shape != (3, 3) or not np.all(np.isfinite(lat)):
        raise ValueError(f"The lattice must be a finite (3, 3) matrix, got shape {lat.shape}.")
    volume = abs(np.linalg.det(lat))
    if volume < 1e-6:
        raise ValueError("The lattice is singular (zero cell volume).")
    frac = np.asarray(frac_coords, dtype=float).reshape(-1, 3)
    zs = np.asarray(atomic_numbers).astype(np.int64).ravel()
    if frac.shape[0] != zs.size:
        raise ValueError(f"{frac.shape[0]} fractional coordinates but {zs.size} atomic numbers were given.")
    if zs.size == 0:
        raise ValueError("The crystal has no atoms.")
    if not np.all(np.isfinite(frac)):
        raise ValueError("The fractional coordinates contain NaN or infinite values.")
    occ = np.ones(zs.size) if occupancies is None else np.asarray(occupancies, float).ravel()
    if occ.size != zs.size or np.any(~np.isfinite(occ)) or np.any(occ < 0):
        raise ValueError("Occupancies must be one finite non-negative value per atom.")
    table = coefficient_table() if coefficients is None else np.asarray(coefficients, float)
    bad = (zs < 1) | (zs > min(MAX_Z, table.shape[0] - 1))
    if not np.any(bad):
        bad = np.isnan(table[zs, 0])
    if np.any(bad):
        z = int(zs[np.argmax(bad)])
        raise ValueError(
            f"No X-ray form factor for atomic number {z}; the IAM density covers Z = 1 to {MAX_Z}."
        )
    if not np.isfinite(b_factor) or b_factor <= 0:
        raise ValueError(
            f"The IAM density needs a positive Debye–Waller factor B (Å²), got {b_factor}; "
            "with B = 0 the constant term of the form factor would be a delta function."
        )
    rows = table[zs]
    widths = np.concatenate(
        [rows[:, N_GAUSSIANS : 2 * N_GAUSSIANS] + b_factor, np.full((zs.size, 1), b_factor)], axis=1
    )
    if np.any(widths <= 0):
        raise ValueError(f"B = {b_factor} Å² is too small for these form factors (b + B ≤ 0).")
    weights = np.concatenate([rows[:, :N_GAUSSIANS], rows[:, -1:]], axis=1) * occ[:, None]
    return lat, frac, weights, widths, float(volume)


def _reciprocal(lattice: NDArray[np.float64]) -> NDArray[np.float64]:
    """Crystallographic reciprocal vectors as rows (``a_i · b_j = δ_ij``, no 2π)."""
    return np.linalg.inv(lattice).T


@dataclass(frozen=True)
class _Terms:
    """Checked inputs and the real/reciprocal split shared by the point and grid paths.

    ``weights``/``widths`` are (A, 6): the five Gaussians and the constant of each atom
    (occupancy-weighted), ``w = b + B``; ``narrow`` marks the real-space terms, summed within
    ``r_cut``, which spans ``delta`` in fractional units along each axis.
    """

    lattice: NDArray[np.float64]
    frac: NDArray[np.float64]
    weights: NDArray[np.float64]
    widths: NDArray[np.float64]
    volume: float
    recip: NDArray[np.float64]
    log_eps: float
    narrow: NDArray[np.bool_]
    r_cut: float
    delta: NDArray[np.float64]


def _split_terms(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    occupancies: ArrayLike | None,
    b_factor: float,
    coefficients: NDArray[np.float64] | None,
    split_width: float,
    eps: float,
) -> _Terms:
    lat, frac, weights, widths, volume = _check_inputs(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients
    )
    log_eps = float(np.log(1.0 / eps))
    recip = _reciprocal(lat)
    narrow = widths < split_width
    w_narrow = widths[narrow].max() if np.any(narrow) else 0.0
    r_cut = float(np.sqrt(w_narrow * log_eps / _FOUR_PI2))
    return _Terms(
        lattice=lat,
        frac=frac - np.floor(frac),
        weights=weights,
        widths=widths,
        volume=volume,
        recip=recip,
        log_eps=log_eps,
        narrow=narrow,
        r_cut=r_cut,
        delta=r_cut * np.linalg.norm(recip, axis=1),
    )


# --------------------------------------------------------------------------- plan


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
    terms = _split_terms(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients, split_width, eps
    )
    lat, frac, weights, widths, narrow = (
        terms.lattice,
        terms.frac,
        terms.weights,
        terms.widths,
        terms.narrow,
    )
    r_cut, delta = terms.r_cut, terms.delta

    # real-space part: narrow terms of every atom image within r_cut of the cell
    amplitude = np.where(narrow, weights * (4 * np.pi / widths) ** 1.5, 0.0)
    alpha = np.where(narrow, _FOUR_PI2 / widths, 0.0)
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

    hkl, f_real, f_imag, f000 = _wide_structure_factors(
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


def _wide_structure_factors(
    lattice: NDArray[np.float64],
    recip: NDArray[np.float64],
    frac: NDArray[np.float64],
    weights: NDArray[np.float64],
    widths: NDArray[np.float64],
    wide: NDArray[np.bool_],
    log_eps: float,
    *,
    half: bool,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], float]:
    """Structure factor of the wide terms on all reflections where it exceeds ``eps``.

    Returns Miller indices (one Friedel half without 000 if ``half``, else every reflection
    with 000 first), real and imaginary parts, and ``F(000)``.
    """
    if not np.any(wide & (weights != 0)):
        return np.zeros((0, 3), np.int64), np.zeros(0), np.zeros(0), 0.0
    w_min = widths[wide].min()
    s_max = 2.0 * np.sqrt(log_eps / w_min)  # |S| = 1/d where exp(-w S²/4) = eps
    h_max = np.floor(s_max * np.linalg.norm(lattice, axis=1)).astype(int)
    axes = [np.arange(-h, h + 1) for h in h_max]
    hkl = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    s2 = np.einsum("hi,ij,hj->h", hkl, recip @ recip.T, hkl)
    inside = s2 <= s_max**2
    if half:
        h, k, l_ = hkl.T
        inside &= (h > 0) | ((h == 0) & (k > 0)) | ((h == 0) & (k == 0) & (l_ > 0))
    hkl, s2 = hkl[inside], s2[inside]
    # form factors of the wide terms for each atom: (A, H)
    wide_w = np.where(wide, weights, 0.0)
    f_atoms = np.zeros((frac.shape[0], hkl.shape[0]))
    for t in range(widths.shape[1]):
        if np.any(wide_w[:, t] != 0):
            f_atoms += wide_w[:, t, None] * np.exp(-widths[:, t, None] * s2[None, :] / 4.0)
    f_real = np.zeros(hkl.shape[0])
    f_imag = np.zeros(hkl.shape[0])
    step = max(1, _CHUNK_ELEMENTS // max(1, frac.shape[0]))
    for start in range(0, hkl.shape[0], step):
        sl = slice(start, start + step)
        phase = 2 * np.pi * (frac @ hkl[sl].T)  # (A, h)
        f_real[sl] = np.sum(f_atoms[:, sl] * np.cos(phase), axis=0)
        f_imag[sl] = np.sum(f_atoms[:, sl] * np.sin(phase), axis=0)
    f000 = float(wide_w.sum())
    return hkl.astype(np.int64), f_real, f_imag, f000


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
        step = max(1, _CHUNK_ELEMENTS // (n_img * max(1, plan.amplitude.shape[1])))
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
        step = max(1, _CHUNK_ELEMENTS // plan.hkl.shape[0])
        for start in range(0, pts.shape[0], step):
            phase = 2 * np.pi * (pts[start : start + step] @ plan.hkl.T)
            wide = np.cos(phase) @ plan.f_real + np.sin(phase) @ plan.f_imag
            out[start : start + step] += (plan.f000 + 2.0 * wide) / plan.volume
    elif plan.f000:
        out += plan.f000 / plan.volume
    return out.reshape(shape)


# --------------------------------------------------------------------------- points


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


# --------------------------------------------------------------------------- grids


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
    """
    dims = (n, n, n) if np.isscalar(n) else tuple(int(v) for v in n)  # type: ignore[arg-type]
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"Grid size must be a positive integer or three of them, got {n!r}.")
    dims = tuple(int(v) for v in dims)
    terms = _split_terms(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients, split_width, eps
    )
    lat, frac, weights, widths, narrow = (
        terms.lattice,
        terms.frac,
        terms.weights,
        terms.widths,
        terms.narrow,
    )
    r_cut, delta = terms.r_cut, terms.delta
    dims_arr = np.array(dims)
    total = np.zeros(int(np.prod(dims)))

    if np.any(narrow):
        amp = weights * (4 * np.pi / widths) ** 1.5
        alpha = _FOUR_PI2 / widths
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

    hkl, f_real, f_imag, _ = _wide_structure_factors(
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


def electron_count(
    atomic_numbers: ArrayLike,
    occupancies: ArrayLike | None = None,
    coefficients: NDArray[np.float64] | None = None,
) -> float:
    """Electrons in the IAM cell: ``Σ occupancy · f0(0)`` (within 0.1 % of ``Σ Z``)."""
    zs = np.asarray(atomic_numbers, dtype=np.int64).ravel()
    occ = np.ones(zs.size) if occupancies is None else np.asarray(occupancies, float).ravel()
    table = coefficient_table() if coefficients is None else np.asarray(coefficients, float)
    rows = table[zs]
    return float(np.sum((rows[:, :N_GAUSSIANS].sum(axis=1) + rows[:, -1]) * occ))

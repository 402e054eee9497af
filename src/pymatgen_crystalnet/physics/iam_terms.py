"""The terms of an IAM density: checked inputs, their real/reciprocal split and wide-term structure factors.

Shared by the point evaluation (:mod:`.iam_points`) and the grids (:mod:`.iam_grid`); the
method is described in :mod:`.iam`. Each atom contributes six terms (five Gaussians and the
constant of its Waasmaier–Kirfel form factor), weighted by occupancy, with widths
``w = b + B`` (``w = B`` for the constant). Terms narrower than a split width are summed in
real space within a cutoff ``r_cut``; the others in reciprocal space over the reflections
where they exceed ``eps`` of their value at ``S = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.form_factors import MAX_Z, N_GAUSSIANS, coefficient_table

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "CHUNK_ELEMENTS",
    "DEFAULT_B_FACTOR",
    "DEFAULT_EPS",
    "FOUR_PI2",
    "GRID_SPLIT_WIDTH",
    "POINT_SPLIT_WIDTH",
    "Terms",
    "split_terms",
    "structure_arrays",
    "wide_structure_factors",
]

#: Default isotropic Debye–Waller factor B (Å²) of the IAM density and training patterns.
DEFAULT_B_FACTOR: float = 1.0
#: Default relative truncation tolerance of every Gaussian term.
DEFAULT_EPS: float = 1e-10
#: Default split width (Å²): terms with w < split go to real space. Tuned for grids.
GRID_SPLIT_WIDTH: float = 12.0
#: Default split width for point evaluation (fewer reflections per point).
POINT_SPLIT_WIDTH: float = 80.0
#: 4π², the real-space exponent numerator.
FOUR_PI2 = 4.0 * np.pi**2
#: Elements evaluated at once in the chunked sums (bounds memory).
CHUNK_ELEMENTS = 1 << 22


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
class Terms:
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

    def real_space(self) -> tuple:
        """``(lattice, frac, weights, widths, narrow, r_cut, delta)``: what the real-space sums read."""
        return self.lattice, self.frac, self.weights, self.widths, self.narrow, self.r_cut, self.delta


def split_terms(
    lattice: ArrayLike,
    frac_coords: ArrayLike,
    atomic_numbers: ArrayLike,
    occupancies: ArrayLike | None,
    b_factor: float,
    coefficients: NDArray[np.float64] | None,
    split_width: float,
    eps: float,
) -> Terms:
    """Check a crystal's arrays and split its terms into real-space and reciprocal-space ones.

    Parameters are those of :func:`pymatgen_crystalnet.physics.iam_points.build_plan`; terms with
    ``w < split_width`` go to real space, and ``r_cut`` is where the widest of them falls to
    ``eps`` of its peak.

    Raises
    ------
    ValueError
        On a bad lattice, coordinates, atomic numbers, occupancies or B.
    """
    lat, frac, weights, widths, volume = _check_inputs(
        lattice, frac_coords, atomic_numbers, occupancies, b_factor, coefficients
    )
    log_eps = float(np.log(1.0 / eps))
    recip = _reciprocal(lat)
    narrow = widths < split_width
    w_narrow = widths[narrow].max() if np.any(narrow) else 0.0
    r_cut = float(np.sqrt(w_narrow * log_eps / FOUR_PI2))
    return Terms(
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


def wide_structure_factors(
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

    Returns Miller indices (one Friedel half without 000 if ``half``, else every reflection,
    000 included, in no particular order), real and imaginary parts, and ``F(000)``.
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
    step = max(1, CHUNK_ELEMENTS // max(1, frac.shape[0]))
    for start in range(0, hkl.shape[0], step):
        sl = slice(start, start + step)
        phase = 2 * np.pi * (frac @ hkl[sl].T)  # (A, h)
        f_real[sl] = np.sum(f_atoms[:, sl] * np.cos(phase), axis=0)
        f_imag[sl] = np.sum(f_atoms[:, sl] * np.sin(phase), axis=0)
    f000 = float(wide_w.sum())
    return hkl.astype(np.int64), f_real, f_imag, f000

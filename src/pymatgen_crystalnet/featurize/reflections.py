"""The pattern placed on the lattice: observed amplitudes of the reflections a known cell allows.

Given the model's 1024-bin XRD vector (Mo Kα, 2θ = 0–180°, peak heights, largest 1) and the
cell the density grid lives on, :func:`read_reflections` lists the reflections ``h`` of that
cell (Miller indices of the cell, one Friedel half-space, ordered by d-spacing as
:func:`~pymatgen_crystalnet.physics.reflections.enumerate_reflections` orders them, at most
``k`` of them) and reads, for each, an observed structure-factor amplitude from the pattern:

1. each reflection falls in the bin ``bin_index(2θ_h)`` of the vector;
2. each observed (non-zero, covered) bin is given to the nearest bin that holds a reflection,
   if it lies within ``tolerance_bins`` of it (so a pattern with a small zero shift or a
   slightly different cell is still read; with exact positions every peak lands at distance
   0 and nothing leaks between reflections), and the heights given to a bin add up;
3. a bin's height ``I`` is shared among all the reflections in it as if their ``|F|²`` were
   equal, with the conventions of pymatgen's ``XRDCalculator`` (and :mod:`.physics.powder_batch`):
   ``I = Σ_h 2 |F_h|² LP(θ_h)`` over the half-space reflections of the bin, so
   ``|F_h|² = I / Σ_h 2 LP(θ_h)``;
4. the amplitudes ``|F_h|`` of the kept reflections are scaled to unit norm,
   ``Σ_h |F_h|² = 1`` (an absolute scale is not in a pattern whose largest peak is 1).

Reflections outside the data's 2θ coverage (``covered``) get amplitude 0, as do rows padding a
cell with fewer than ``k`` reflections (their Miller indices are 0 0 0). Accidental overlaps
(two reflections of different |F| in one bin) are shared equally: the binned vector cannot
separate them. The bin value is the largest peak of the bin, so two separate peaks of one
bin are read as the larger one.

For a centrosymmetric crystal with the origin on an inversion centre the density is
``ρ(x) = F₀₀₀/V + (2/V) Σ_h s_h |F_h| cos(2π h·x)`` with signs ``s_h = ±1``: the per-point
features ``|F_h| cos(2π h·x)`` (and ``|F_h| sin(2π h·x)`` for other origins) that the model
computes from these arrays span the density up to the phases, which it has to learn.

:class:`CellInputSpec` bundles the settings and turns the arrays of many crystals (an export,
a batch, the solver's pattern on each of its cells) into the compact per-crystal arrays the
model reads: ``lattice (3, 3) float32``, ``hkl (k, 3) int16`` and ``amplitude (k,) float32``.
Only numpy is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.featurize.xrd_vector import BIN_WIDTH, N_BINS, bin_index
from pymatgen_crystalnet.physics.reflections import (
    ReflectionSet,
    enumerate_reflections,
    lorentz_polarisation_theta,
)
from pymatgen_crystalnet.physics.units import MO_KA, TWO_THETA_MAX

__all__ = ["CellInputSpec", "ReflectionAmplitudes", "read_reflections", "reflection_arrays"]

#: The largest |g| = 1/d (Å⁻¹) the Mo Kα axis reaches (2θ just short of 180°).
_G_MAX = 2 * math.sin(math.radians(TWO_THETA_MAX - 1e-6) / 2) / MO_KA


@dataclass(frozen=True)
class ReflectionAmplitudes:
    """Observed amplitudes of the first reflections of one cell.

    Attributes
    ----------
    hkl
        ``(k, 3)`` int16 Miller indices (half-space, by increasing |g|; 0 0 0 rows pad).
    amplitude
        ``(k,)`` float32 ``|F_h|`` read from the pattern, unit norm (all 0 when nothing matched).
    g
        ``(k,)`` float64 ``|g| = 1/d`` (Å⁻¹) of each row (0 for padding).
    n_reflections
        Rows that hold a reflection (the rest pad).
    n_matched
        Observed bins that were given to a reflection.
    """

    hkl: NDArray[np.int16]
    amplitude: NDArray[np.float32]
    g: NDArray[np.float64]
    n_reflections: int
    n_matched: int


def _two_theta_of_g(g: float) -> float:
    """2θ (degrees, Mo Kα) of |g| = 1/d, capped at 180°."""
    return math.degrees(2 * math.asin(min(1.0, g * MO_KA / 2)))


def _enumerate(
    lattice: NDArray[np.float64], k: int, g_keep: float, tolerance_bins: int
) -> tuple[ReflectionSet, int]:
    """The reflections needed to read the first ``k`` with ``|g| ≤ g_keep``, and how many those are.

    The list reaches ``tolerance_bins`` bins past the bin of the last kept reflection: the
    height of a bin is shared among every reflection in it, kept or not, and an observed peak
    near a kept bin must be able to find its own reflection if it has one.
    """
    volume = abs(float(np.linalg.det(lattice)))
    # half of the reciprocal-space ball of radius G holds about (2π/3) G³ V lattice points
    g = min(g_keep, 1.5 * (3.0 * k / (2.0 * math.pi * volume)) ** (1.0 / 3.0) + 0.05)
    while True:
        refl = enumerate_reflections(lattice, MO_KA, (0.0, _two_theta_of_g(g)))
        n_keep = int(np.count_nonzero(refl.g <= g_keep))
        if n_keep > k or g >= g_keep:
            break
        g = min(g_keep, 1.5 * g)
    n_keep = min(k, n_keep)
    if n_keep:
        last = int(bin_index(refl.two_theta[n_keep - 1]))
        edge_tt = min(TWO_THETA_MAX, (last + 1 + tolerance_bins) * BIN_WIDTH)
        edge_g = 2 * math.sin(math.radians(edge_tt) / 2) / MO_KA
        if edge_g > g:
            refl = enumerate_reflections(lattice, MO_KA, (0.0, _two_theta_of_g(edge_g)))
    return refl, n_keep


def read_reflections(
    vector: ArrayLike,
    lattice: ArrayLike,
    *,
    k: int = 128,
    d_min: float = 0.0,
    tolerance_bins: int = 2,
    covered: ArrayLike | None = None,
) -> ReflectionAmplitudes:
    """Amplitudes ``|F_h|`` of the first ``k`` reflections of ``lattice`` read from ``vector``.

    Parameters
    ----------
    vector
        ``(1024,)`` XRD vector on the model's Mo Kα axis (any non-negative scale).
    lattice
        ``(3, 3)`` real-space lattice vectors as rows (Å): the cell of the density grid.
    k
        Number of reflections kept (by increasing |g|); fewer exist when ``d_min`` or the
        2θ = 180° limit cuts them, and the rest of the ``k`` rows pad.
    d_min
        Smallest d-spacing (Å) read; 0 reads up to 2θ = 180° (d = 0.355 Å at Mo Kα).
    tolerance_bins
        How far (in bins) an observed peak may lie from the bin of the nearest reflection
        and still be given to it.
    covered
        ``(1024,)`` bool: bins the data cover (all when None). Reflections in uncovered bins
        get amplitude 0.

    Raises
    ------
    ValueError
        For a vector of the wrong length, negative or non-finite values, a singular lattice,
        ``k < 1`` or a negative ``d_min`` / tolerance.
    """
    vec = np.asarray(vector, dtype=np.float64).ravel()
    if vec.shape != (N_BINS,):
        raise ValueError(f"The XRD vector must have {N_BINS} bins, got shape {np.shape(vector)}.")
    if not np.all(np.isfinite(vec)) or np.any(vec < 0):
        raise ValueError("The XRD vector must be finite and non-negative.")
    mat = np.asarray(lattice, dtype=np.float64)
    if mat.shape != (3, 3) or not np.all(np.isfinite(mat)) or abs(np.linalg.det(mat)) < 1e-8:
        raise ValueError("The lattice must be a finite, non-singular 3×3 matrix of row vectors (Å).")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    if not math.isfinite(d_min) or d_min < 0:
        raise ValueError(f"d_min must be finite and ≥ 0 Å, got {d_min!r}.")
    if tolerance_bins < 0:
        raise ValueError(f"tolerance_bins must be ≥ 0, got {tolerance_bins!r}.")
    k = int(k)
    if covered is not None:
        cov = np.asarray(covered, dtype=bool).ravel()
        if cov.shape != (N_BINS,):
            raise ValueError(f"covered must have {N_BINS} entries, got shape {np.shape(covered)}.")
        vec = np.where(cov, vec, 0.0)
    else:
        cov = np.ones(N_BINS, dtype=bool)

    g_keep = _G_MAX if d_min == 0 else min(_G_MAX, 1.0 / d_min)
    refl, n = _enumerate(mat, k, g_keep, int(tolerance_bins))
    hkl_out = np.zeros((k, 3), dtype=np.int16)
    amp_out = np.zeros(k, dtype=np.float32)
    g_out = np.zeros(k, dtype=np.float64)
    if n == 0:
        return ReflectionAmplitudes(hkl_out, amp_out, g_out, 0, 0)
    bins = bin_index(refl.two_theta)
    weight = 2.0 * lorentz_polarisation_theta(np.radians(refl.two_theta) / 2)
    uniq, inverse = np.unique(bins, return_inverse=True)  # bins holding reflections, ascending
    # every observed bin goes to the nearest bin holding a reflection, within the tolerance
    observed = np.flatnonzero(vec > 0)
    pos = np.searchsorted(uniq, observed)
    lo = np.clip(pos - 1, 0, len(uniq) - 1)
    hi = np.clip(pos, 0, len(uniq) - 1)
    nearest = np.where(np.abs(uniq[hi] - observed) < np.abs(observed - uniq[lo]), hi, lo)
    close = np.abs(uniq[nearest] - observed) <= tolerance_bins
    height = np.zeros(len(uniq))
    np.add.at(height, nearest[close], vec[observed[close]])
    shared = np.zeros(len(uniq))
    np.add.at(shared, inverse, weight)
    f2 = height[inverse] / shared[inverse]
    f2[~cov[bins]] = 0.0

    amp = np.sqrt(f2[:n])
    norm = math.sqrt(float(np.sum(amp**2)))
    if norm > 0:
        amp = amp / norm
    hkl_out[:n] = refl.hkl[:n]
    amp_out[:n] = amp
    g_out[:n] = refl.g[:n]
    return ReflectionAmplitudes(hkl_out, amp_out, g_out, n, int(np.count_nonzero(close)))


def reflection_arrays(
    vectors: ArrayLike,
    lattices: ArrayLike,
    *,
    k: int = 128,
    d_min: float = 0.0,
    tolerance_bins: int = 2,
    covered: ArrayLike | None = None,
) -> tuple[NDArray[np.int16], NDArray[np.float32]]:
    """:func:`read_reflections` of many crystals: ``hkl (N, k, 3) int16``, ``amplitude (N, k) float32``.

    ``vectors`` is ``(N, 1024)``, ``lattices`` ``(N, 3, 3)``; ``covered`` is ``(1024,)`` for all
    or ``(N, 1024)``.
    """
    vecs = np.asarray(vectors)
    lats = np.asarray(lattices, dtype=np.float64)
    if vecs.ndim != 2 or lats.ndim != 3 or vecs.shape[0] != lats.shape[0]:
        raise ValueError(
            f"Give (N, {N_BINS}) vectors and (N, 3, 3) lattices, got {vecs.shape} and {lats.shape}."
        )
    cov = None if covered is None else np.broadcast_to(np.asarray(covered, dtype=bool), vecs.shape)
    hkl = np.zeros((len(vecs), k, 3), dtype=np.int16)
    amp = np.zeros((len(vecs), k), dtype=np.float32)
    for i in range(len(vecs)):
        r = read_reflections(
            vecs[i], lats[i], k=k, d_min=d_min, tolerance_bins=tolerance_bins,
            covered=None if cov is None else cov[i],
        )
        hkl[i], amp[i] = r.hkl, r.amplitude
    return hkl, amp


@dataclass(frozen=True)
class CellInputSpec:
    """Which per-crystal cell inputs a model reads, and how the reflections are read.

    Attributes
    ----------
    lattice
        The model reads the cell (``lattice``, ``(3, 3)`` rows in Å).
    n_reflections
        Reflections read from the pattern (0: none; the model then reads no ``hkl`` /
        ``amplitude``). Reflections need the lattice too.
    d_min, tolerance_bins
        See :func:`read_reflections`.
    """

    lattice: bool = False
    n_reflections: int = 0
    d_min: float = 0.0
    tolerance_bins: int = 2

    @property
    def needed(self) -> bool:
        """Whether the model reads any cell input at all."""
        return self.lattice or self.n_reflections > 0

    def arrays(
        self, vectors: ArrayLike, lattices: ArrayLike, covered: ArrayLike | None = None
    ) -> dict[str, np.ndarray]:
        """The model's cell inputs of N crystals: ``lattice``, ``hkl``, ``amplitude`` (as needed).

        Parameters
        ----------
        vectors
            ``(N, 1024)`` XRD vectors (the patterns the model reads).
        lattices
            ``(N, 3, 3)`` cells of the density grids (rows, Å).
        covered
            ``(1024,)`` or ``(N, 1024)`` bins the data cover (None: all).

        Returns
        -------
        dict
            ``{}`` when nothing is needed; else ``lattice (N, 3, 3) float32`` and, with
            reflections, ``hkl (N, k, 3) int16`` and ``amplitude (N, k) float32``.
        """
        if not self.needed:
            return {}
        lats = np.asarray(lattices, dtype=np.float64)
        out: dict[str, np.ndarray] = {"lattice": lats.astype(np.float32)}
        if self.n_reflections > 0:
            out["hkl"], out["amplitude"] = reflection_arrays(
                vectors, lats, k=self.n_reflections, d_min=self.d_min,
                tolerance_bins=self.tolerance_bins, covered=covered,
            )
        return out

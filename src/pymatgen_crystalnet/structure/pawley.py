"""Pawley extraction: integrated intensities of every reflection of a known cell from a profile.

:func:`pawley_fit` fits a measured profile with the model of :mod:`.profile_model` on the given
cell: one free, non-negative integrated intensity per reflection group (reflections at one 2θ
are one unknown: their split cannot be measured), a Chebyshev background, and the nonlinear
peak parameters (zero shift, Caglioti ``U, V, W``, pseudo-Voigt mixing ``η₀, η₁``, the Kα2
ratio of a laboratory doublet and the cell's metric coefficients). Given the peak parameters
the profile is linear in the intensities and the background, so the fit alternates

1. a bounded linear least-squares solve for the intensities (≥ 0) and the background
   coefficients (:func:`.profile_lm.bounded_least_squares`: Lawson–Hanson active sets on the
   sparse normal equations, warm-started from the previous cycle), and
2. Levenberg–Marquardt steps on the peak parameters with those fixed (Jacobian by forward-mode
   automatic differentiation, :mod:`.profile_lm`);

each half can only lower χ², so the alternation descends. The first cycles refine only the zero
shift, ``W`` and ``η₀`` (and the cell), later ones every parameter. The result's
:meth:`PawleyResult.sticks` are the extracted intensities on the given cell, with clusters of
reflections closer than half a peak width (whose split is ill-determined), for the stick-based
structure search and refinement.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.physics.reflections import enumerate_reflections
from pymatgen_crystalnet.physics.units import resolve_wavelength
from pymatgen_crystalnet.structure.pawley_result import ExtractedSticks, PawleyResult
from pymatgen_crystalnet.structure.profile_lm import (
    agreement,
    bounded_least_squares,
    lm_minimise,
    profile_weights,
)
from pymatgen_crystalnet.structure.profile_model import (
    SHAPE_NAMES,
    CellMetric,
    EmissionLines,
    PeakProfile,
    chebyshev_basis,
    emission_lines,
    shape_jacobian,
)

__all__ = ["ExtractedSticks", "PawleyResult", "initial_fwhm", "pawley_fit"]

logger = logging.getLogger(__name__)

#: Fewest measured points a profile fit accepts.
MIN_POINTS: int = 50
#: Reflections this far (degrees) outside the measured range are fitted too (their tails).
RANGE_MARGIN: float = 1.0
#: A weighted-Kα profile whose fitted Kα2/Kα1 ratio stays below this is refitted with one line.
NO_KALPHA2: float = 0.1
#: Parameters refined in the first cycles (then every parameter).
_FIRST = ("zero", "W", "eta0")


def initial_fwhm(two_theta: NDArray[np.float64], intensity: NDArray[np.float64]) -> float:
    """Median FWHM (degrees) of the profile's prominent peaks, over a SNIP background.

    Raises
    ------
    ValueError
        When no peak stands out of the background.
    """
    from scipy.signal import find_peaks, peak_widths

    from pymatgen_crystalnet.featurize.profile import snip_background

    net = intensity - snip_background(two_theta, intensity, 1.0)
    top = float(net.max())
    if not top > 0:
        raise ValueError("The profile has no peak above its background.")
    peaks, _ = find_peaks(net, height=0.05 * top, prominence=0.05 * top)
    if peaks.size == 0:
        raise ValueError("The profile has no peak above its background.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        widths = peak_widths(net, peaks, rel_height=0.5)[0]
    step = np.gradient(two_theta)[peaks]
    good = widths * step
    good = good[np.isfinite(good) & (good > 0)]
    return float(max(np.median(good), 2.0 * float(np.median(np.diff(two_theta))))) if good.size else 0.1


class _PawleyProblem:
    """The data, the peak model and the linear solve of one Pawley fit."""

    def __init__(self, tt: NDArray, y: NDArray, w: NDArray, peaks: PeakProfile, n_background: int) -> None:
        self.y, self.w, self.peaks = y, w, peaks
        self.sqrt_w = np.sqrt(w)
        self.bg_basis = chebyshev_basis(tt, n_background, float(tt[0]), float(tt[-1]))
        as_t = lambda a: torch.as_tensor(np.array(a, dtype=float), dtype=peaks.dtype, device=peaks.device)  # noqa: E731
        self.y_t, self.sqrt_w_t, self.bg_t = as_t(y), as_t(self.sqrt_w), as_t(self.bg_basis)
        self.last: tuple[NDArray, NDArray] | None = None

    def solve_linear(self, theta: torch.Tensor) -> tuple[NDArray, NDArray, float]:
        """Intensities (≥ 0), background coefficients and χ² at peak parameters ``theta``."""
        from scipy.sparse import diags, hstack

        design = self.peaks.design_scipy(theta, self.peaks.windows(theta))
        n_g = design.shape[1]
        matrix = (diags(self.sqrt_w) @ hstack([design, self.bg_basis])).tocsc()
        target = self.sqrt_w * self.y
        nonneg = np.arange(matrix.shape[1]) < n_g
        start = None if self.last is None else np.concatenate([self.last[0], self.last[1]])
        coef = bounded_least_squares(matrix, target, nonneg, start)
        self.last = (coef[:n_g], coef[n_g:])
        resid = target - matrix @ coef
        return coef[:n_g], coef[n_g:], float(resid @ resid)

    def residual_fn(self, intensities: NDArray, background: NDArray) -> tuple[Any, Any]:
        """Residuals and Jacobian of the peak parameters with intensities and background fixed."""
        inten = torch.as_tensor(intensities, dtype=self.peaks.dtype, device=self.peaks.device)
        bg = self.bg_t @ torch.as_tensor(background, dtype=self.peaks.dtype, device=self.peaks.device)

        def residuals(theta: torch.Tensor) -> torch.Tensor:
            calc = self.peaks.peaks(theta, self.peaks.windows(theta), inten) + bg
            return self.sqrt_w_t * (self.y_t - calc)

        def jacobian(theta: torch.Tensor) -> torch.Tensor:
            return shape_jacobian(self.peaks, theta, inten) * (-self.sqrt_w_t[:, None])

        return residuals, jacobian


def _check_profile(profile: PowderProfile) -> tuple[NDArray, NDArray, NDArray]:
    tt = np.asarray(profile.two_theta, dtype=float)
    y = np.asarray(profile.intensity, dtype=float)
    if tt.size < MIN_POINTS:
        raise ValueError(f"A profile fit needs at least {MIN_POINTS} measured points, got {tt.size}.")
    return tt, y, profile_weights(y, profile.sigma)


def pawley_fit(
    profile: PowderProfile,
    lattice: Lattice,
    *,
    wavelength: float | str | None = None,
    kalpha2: bool | str = "auto",
    n_background: int = 12,
    refine_cell: bool = True,
    max_cycles: int = 12,
    lm_steps: int = 4,
    time_budget_s: float | None = None,
    device: str | torch.device = "cpu",
) -> PawleyResult:
    """Extract the integrated intensity of every reflection group of ``lattice`` from ``profile``.

    Parameters
    ----------
    profile
        The measured profile (counts or any non-negative scale; esds used as weights when given).
    lattice
        The cell (its reflections are the peaks).
    wavelength
        Å or a name; default ``profile.wavelength``.
    kalpha2
        Model a Kα1/Kα2 doublet: ``"auto"`` (laboratory Kα wavelengths), True or False
        (:func:`.profile_model.emission_lines`). With ``"auto"``, a profile given at a weighted
        Kα (e.g. 1.5418 Å) whose refined Kα2 ratio stays below :data:`NO_KALPHA2` is fitted
        again with one line at the given wavelength.
    n_background
        Chebyshev background terms.
    refine_cell
        Refine the cell's metric (its symmetry kept) with the peak parameters.
    max_cycles, lm_steps
        Alternation cycles at most, and Levenberg–Marquardt iterations per cycle.
    time_budget_s
        Stop starting new cycles after this many seconds.
    device
        Torch device of the profile computations (anything
        :func:`~pymatgen_crystalnet.devices.resolve_device` accepts).

    Returns
    -------
    PawleyResult
        ``ok`` False (with ``message``) when the fit gave no finite χ² or no positive intensity.

    Raises
    ------
    ValueError
        For a profile without a wavelength, with fewer than :data:`MIN_POINTS` points, without a
        peak above its background, for a cell with no reflection in the range, or for more
        unknowns than measured points.
    """
    start = time.perf_counter()
    deadline = None if time_budget_s is None else start + float(time_budget_s)
    lam = profile.wavelength if wavelength is None else resolve_wavelength(wavelength)
    if lam is None:
        raise ValueError("The profile's wavelength is unknown; pass wavelength=.")
    if int(n_background) < 1:
        raise ValueError(f"n_background must be ≥ 1, got {n_background}.")
    tt, y, w = _check_profile(profile)
    lines = emission_lines(float(lam), kalpha2)
    fwhm0 = initial_fwhm(tt, y)
    lo = max(tt[0] - RANGE_MARGIN, 0.0)
    hi = min(tt[-1] + RANGE_MARGIN, 179.0)
    refl = enumerate_reflections(lattice.matrix, lines.wavelength, (lo, hi))
    if len(refl) == 0:
        raise ValueError(
            f"The cell has no reflection in 2θ = {tt[0]:.3g}–{tt[-1]:.3g}° at λ = {lines.wavelength} Å."
        )
    hkl = refl.hkl[refl.starts]
    two_theta = refl.two_theta[refl.starts]
    in_range = (two_theta >= tt[0]) & (two_theta <= tt[-1])
    if not in_range.any():
        raise ValueError(f"No reflection of the cell lies inside the measured 2θ {tt[0]:.3g}–{tt[-1]:.3g}°.")
    metric = CellMetric(lattice)
    peaks = PeakProfile(tt, hkl, metric, lines, device=resolve_device(device))
    n_unknowns = len(hkl) + int(n_background) + peaks.n_params
    if tt.size < 2 * n_unknowns:
        raise ValueError(
            f"Too few measured points ({tt.size}) for {len(hkl)} reflection groups, {n_background} "
            "background terms and the peak parameters: measure a finer step or a shorter range."
        )
    problem = _PawleyProblem(tt, y, w, peaks, n_background)
    theta = peaks.initial(fwhm0)
    first = torch.tensor([name in _FIRST for name in peaks.names])
    every = torch.tensor([name not in ("ratio",) or lines.doublet for name in SHAPE_NAMES]
                         + [True] * metric.n_params)  # fmt: skip
    if refine_cell:
        first[len(SHAPE_NAMES) :] = True
    else:
        every[len(SHAPE_NAMES) :] = False
    inten, bg, chi2 = problem.solve_linear(theta)
    cycles, converged = 0, False
    for cycles in range(1, int(max_cycles) + 1):
        if deadline is not None and time.perf_counter() > deadline:
            break
        residuals, jacobian = problem.residual_fn(inten, bg)
        lm = lm_minimise(residuals, jacobian, theta, free=first if cycles <= 2 else every,
                         clamp=peaks.clamp, max_iter=lm_steps, deadline=deadline)  # fmt: skip
        theta = lm.x
        inten, bg, chi2_new = problem.solve_linear(theta)
        small = chi2 - chi2_new <= 1e-4 * chi2
        chi2 = min(chi2, chi2_new)
        if small and cycles > 2:
            converged = True
            break
    result = _result(problem, theta, inten, bg, hkl, refl, two_theta, in_range, lines, metric, (lo, hi),
                     cycles, converged, time.perf_counter() - start)  # fmt: skip
    weighted = lines.doublet and lines.wavelength != lam
    if kalpha2 == "auto" and weighted and result.params["ratio"] < NO_KALPHA2:
        # a weighted Kα was given but the profile shows no Kα2: one line at the given wavelength
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.25 * float(time_budget_s))
        single = pawley_fit(profile, lattice, wavelength=lam, kalpha2=False, n_background=n_background,
                            refine_cell=refine_cell, max_cycles=max_cycles, lm_steps=lm_steps,
                            time_budget_s=left, device=device)  # fmt: skip
        if single.ok:
            anode = lines.description.split(" ")[0]
            ratio = result.params["ratio"]
            why = f"{anode} weighted Kα given; the fit found no Kα2 (ratio {ratio:.2f}): one line"
            single.lines = EmissionLines(float(lam), None, 0.0, why)
            single.seconds += result.seconds
            return single
    return result


def _result(problem: _PawleyProblem, theta: torch.Tensor, inten: NDArray, bg: NDArray, hkl: NDArray,
            refl: Any, two_theta: NDArray, in_range: NDArray, lines: EmissionLines, metric: CellMetric,
            reflection_range: tuple[float, float], cycles: int, converged: bool,
            seconds: float) -> PawleyResult:  # fmt: skip
    peaks = problem.peaks
    with torch.no_grad():
        inten_t = torch.as_tensor(inten, dtype=peaks.dtype, device=peaks.device)
        calc_peaks = peaks.peaks(theta, peaks.windows(theta), inten_t).cpu().numpy()
    background = problem.bg_basis @ bg
    calc = calc_peaks + background
    n_params = int(in_range.sum()) + bg.size + peaks.n_params
    fig = agreement(problem.y, calc, problem.w, n_params)
    th = theta.detach().cpu().numpy()
    ok, message = True, ""
    if not np.isfinite(fig["rwp"]) or not np.all(np.isfinite(th)):
        ok, message = False, "the profile fit diverged (non-finite figures)"
    elif not np.any(inten[in_range] > 0):
        ok, message = False, "the profile fit found no positive reflection intensity"
    try:
        cell = metric.lattice(th[len(SHAPE_NAMES) :])
    except ValueError as exc:
        cell, ok, message = metric.lattice0, False, str(exc)
    counts = np.diff(np.append(refl.starts, len(refl.hkl)))
    design = peaks.design_scipy(theta, peaks.windows(theta))
    curvature = np.asarray(design.multiply(design).T @ problem.w).ravel()
    with np.errstate(divide="ignore"):
        esd = np.where(curvature > 0, np.sqrt(max(fig["chi2"], 0.0) / curvature), np.inf)
    logger.info("Pawley fit: %d groups, Rwp %.4f (Rexp %.4f), %d cycles, %.1f s",
                int(in_range.sum()), fig["rwp"], fig["rexp"], cycles, seconds)  # fmt: skip
    return PawleyResult(
        hkl=hkl.astype(np.int64),
        two_theta=two_theta,
        multiplicity=counts.astype(np.int64),
        intensity=np.asarray(inten, dtype=float),
        esd=esd,
        in_range=in_range,
        params={name: float(v) for name, v in zip(SHAPE_NAMES, th)},
        theta=th,
        background=np.asarray(bg, dtype=float),
        lattice=cell,
        start_lattice=metric.lattice0,
        reflection_range=reflection_range,
        lines=lines,
        rwp=fig["rwp"],
        rp=fig["rp"],
        rexp=fig["rexp"],
        chi2=fig["chi2"],
        two_theta_profile=peaks.two_theta_np.copy(),
        observed=problem.y.copy(),
        calculated=calc,
        background_profile=background,
        cycles=cycles,
        converged=converged,
        seconds=seconds,
        ok=ok and math.isfinite(fig["rwp"]),
        message=message,
    )

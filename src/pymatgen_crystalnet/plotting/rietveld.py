"""The Rietveld-style pattern plot: observed, calculated, difference and reflection ticks.

:func:`plot_rietveld` draws on one Axes what a Rietveld program shows: the observed pattern
(the measured profile as points on a line, or sticks when only peak positions and heights are
known), the calculated pattern over it, a row of tick marks at the reflection positions, and
the difference observed − calculated offset below, on the observed points. A calculated stick
pattern is rendered on the observed profile's grid with pseudo-Voigt peaks of the observed
peak width (:func:`estimate_fwhm`) before it is drawn and subtracted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.agreement import simulate_profile

__all__ = ["estimate_fwhm", "looks_like_sticks", "plot_rietveld"]

Kind = Literal["auto", "profile", "sticks"]


def looks_like_sticks(x: ArrayLike, y: ArrayLike) -> bool:
    """Whether ``(x, y)`` is a stick pattern rather than a profile on a regular grid.

    Sticks: fewer than 20 points, irregular spacing (a step over 5 × the median), or mostly
    zero intensities (a binned vector such as the model's 1024-bin input).
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 20:
        return True
    steps = np.diff(xs)
    if np.any(steps <= 0) or steps.max() > 5 * np.median(steps):
        return True
    return bool(np.mean(ys > 0) < 0.5)


def estimate_fwhm(two_theta: ArrayLike, intensity: ArrayLike, default: float = 0.1) -> float:
    """Median full width at half maximum (degrees) of the prominent peaks of a profile."""
    from scipy.signal import find_peaks, peak_widths

    x, y = np.asarray(two_theta, dtype=float), np.asarray(intensity, dtype=float)
    if x.size < 5 or not np.any(y > 0):
        return default
    y = y - np.percentile(y, 10)
    peaks, _ = find_peaks(y, height=0.05 * y.max(), prominence=0.05 * y.max())  # height first: fast
    if peaks.size == 0:
        return default
    widths = peak_widths(y, peaks, rel_height=0.5)[0] * float(np.median(np.diff(x)))
    good = widths[np.isfinite(widths) & (widths > 0)]
    return float(np.median(good)) if good.size else default


def _sticks_on(x_obs: NDArray, x_calc: NDArray, y_calc: NDArray) -> NDArray:
    """Stick heights placed on the observed stick positions (nearest, within half a step)."""
    out = np.zeros_like(x_obs)
    if x_obs.size == 0 or x_calc.size == 0:
        return out
    tol = 0.5 * float(np.median(np.diff(x_obs))) if x_obs.size > 1 else 1e-6
    idx = np.clip(np.searchsorted(x_obs, x_calc), 0, x_obs.size - 1)
    left = np.clip(idx - 1, 0, x_obs.size - 1)
    nearest = np.where(np.abs(x_obs[left] - x_calc) < np.abs(x_obs[idx] - x_calc), left, idx)
    ok = np.abs(x_obs[nearest] - x_calc) <= tol
    np.maximum.at(out, nearest[ok], y_calc[ok])
    return out


def _draw_sticks(ax: Any, x: NDArray, y: NDArray, base: float, **kw: Any) -> None:
    keep = y != 0
    ax.vlines(x[keep], base, base + y[keep], **kw)


def plot_rietveld(
    ax: Any,
    *,
    observed_x: ArrayLike,
    observed_y: ArrayLike,
    calculated_x: ArrayLike,
    calculated_y: ArrayLike,
    sticks_x: ArrayLike | None = None,
    label_observed: str = "measured",
    label_calculated: str = "calculated",
    shade: Sequence[tuple[float, float]] | None = None,
    observed_as: Kind = "auto",
    calculated_as: Kind = "auto",
    fwhm: float | None = None,
    others: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    xlabel: str = "2θ (°)",
    ylabel: str = "intensity",
) -> None:
    """Observed and calculated patterns with their difference, as a Rietveld plot shows them.

    Parameters
    ----------
    ax
        A matplotlib Axes.
    observed_x, observed_y
        The input: a measured profile (drawn as points on a thin line) or sticks (vertical
        lines), on the same 2θ axis as the calculated pattern.
    calculated_x, calculated_y
        The calculated pattern, on the observed intensity scale: a profile (interpolated onto
        the observed points for the difference) or sticks. Sticks against a measured profile
        are rendered on its grid as pseudo-Voigt peaks of width ``fwhm``.
    sticks_x
        Reflection positions, drawn as a row of tick marks between the patterns and the
        difference (default: the calculated sticks, when the calculated pattern is sticks).
    label_observed, label_calculated
        Legend entries.
    shade
        2θ intervals ``(lo, hi)`` shaded grey (e.g. where the patterns were not compared).
    observed_as, calculated_as
        ``"profile"``, ``"sticks"`` or ``"auto"`` (:func:`looks_like_sticks`).
    fwhm
        Peak width (degrees) for rendering calculated sticks; default
        :func:`estimate_fwhm` of the observed profile.
    others
        Further calculated patterns (label → (x, y) profile or sticks) drawn as thin dashed
        lines, not subtracted.
    xlabel, ylabel
        Axis labels.

    Raises
    ------
    ValueError
        If the arrays of a pattern differ in length, are empty or hold NaN.
    """
    x_obs, y_obs = _pair(observed_x, observed_y, "observed")
    x_calc, y_calc = _pair(calculated_x, calculated_y, "calculated")
    obs_sticks = looks_like_sticks(x_obs, y_obs) if observed_as == "auto" else observed_as == "sticks"
    calc_sticks = looks_like_sticks(x_calc, y_calc) if calculated_as == "auto" else calculated_as == "sticks"
    if sticks_x is None and calc_sticks:
        sticks_x = x_calc[y_calc > 0]

    if obs_sticks:
        calc_on_obs = _sticks_on(x_obs, x_calc, y_calc) if calc_sticks else np.interp(x_obs, x_calc, y_calc)
        lo, hi = 0.0, float(x_obs[y_obs > 0].max() if np.any(y_obs > 0) else x_obs.max())
        hi = hi + 0.05 * (hi - lo) + 1.0
        _draw_sticks(ax, x_obs, y_obs, 0.0, color="black", lw=1.2, label=label_observed)
        if calc_sticks:
            _draw_sticks(ax, x_obs, calc_on_obs, 0.0, color="C3", lw=0.7, alpha=0.9, label=label_calculated)
        else:
            ax.plot(x_calc, y_calc, color="C3", lw=0.8, label=label_calculated)
    else:
        if calc_sticks:
            width = fwhm if fwhm is not None else estimate_fwhm(x_obs, y_obs)
            rendered = simulate_profile(x_calc, np.clip(y_calc, 0, None), x_obs, fwhm=width)
            x_calc, y_calc, calc_on_obs = x_obs, rendered, rendered
        else:
            inside = (x_obs >= x_calc.min()) & (x_obs <= x_calc.max())
            calc_on_obs = np.where(inside, np.interp(x_obs, x_calc, y_calc), np.nan)
        lo, hi = float(x_obs.min()), float(x_obs.max())
        ax.plot(x_obs, y_obs, color="0.55", lw=0.5, zorder=1)
        ax.plot(x_obs, y_obs, ls="none", marker="+", ms=3, mew=0.6, color="black", label=label_observed,
                zorder=2)  # fmt: skip
        ax.plot(x_calc, y_calc, color="C3", lw=0.9, label=label_calculated, zorder=3)

    for i, (name, (ox, oy)) in enumerate((others or {}).items()):
        ox_arr, oy_arr = _pair(ox, oy, name)
        if looks_like_sticks(ox_arr, oy_arr):
            _draw_sticks(ax, ox_arr, oy_arr, 0.0, color=f"C{4 + i}", lw=0.6, ls="--", label=name)
        else:
            ax.plot(ox_arr, oy_arr, color=f"C{4 + i}", lw=0.7, ls="--", label=name)

    diff = y_obs - calc_on_obs
    top = float(np.nanmax([np.nanmax(y_obs), np.nanmax(calc_on_obs)]))
    bottom = min(0.0, float(np.nanmin(y_obs)))
    span = max(top - bottom, 1e-12)
    tick_row = bottom - 0.07 * span
    finite = np.isfinite(diff)
    diff_top = float(np.max(diff[finite])) if np.any(finite) else 0.0
    diff_base = tick_row - 0.06 * span - max(diff_top, 0.0)
    if sticks_x is not None:
        ticks = np.asarray(sticks_x, dtype=float)
        ticks = ticks[(ticks >= lo) & (ticks <= hi)]
        ax.plot(ticks, np.full(ticks.shape, tick_row), ls="none", marker="|", ms=7, color="C2",
                label="reflections")  # fmt: skip
    ax.axhline(diff_base, color="0.6", lw=0.5)
    if obs_sticks:
        _draw_sticks(ax, x_obs, diff, diff_base, color="C0", lw=0.9, label="difference")
    else:
        ax.plot(x_obs, diff_base + diff, color="C0", lw=0.7, label="difference")
    for k, (a, b) in enumerate(shade or []):
        ax.axvspan(a, b, color="0.92", zorder=-1, label="not compared" if k == 0 else None)
    diff_low = float(np.min(diff[finite])) if np.any(finite) else 0.0
    ax.set_ylim(diff_base + min(diff_low, 0.0) - 0.04 * span, top + 0.08 * span)
    ax.set_xlim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper right", fontsize=7, ncols=2)


def _pair(x: ArrayLike, y: ArrayLike, what: str) -> tuple[NDArray, NDArray]:
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise ValueError(
            f"The {what} pattern's 2θ and intensities differ in length ({xs.size} vs {ys.size})."
        )
    if xs.size == 0:
        raise ValueError(f"The {what} pattern is empty.")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError(f"The {what} pattern holds NaN or infinite values.")
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]

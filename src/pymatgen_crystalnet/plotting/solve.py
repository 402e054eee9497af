"""The figure ``crystalnet solve`` writes: Rietveld-style pattern panels over density maps.

For each shown candidate, one pattern panel (:func:`~.rietveld.plot_rietveld`):

- with a measured profile (``profile=`` or ``result.profile``): the profile as measured, at
  its own wavelength; when the candidate's structure was Rietveld-refined against it, the
  fitted profile itself (refined peak shapes, background and scale); else the candidate's
  calculated pattern at that wavelength (the FFT forward pattern of its density, or the pattern
  of its atomic model ``candidate.structure`` when it has one), rendered with the measured peak
  width, put on the SNIP background of the measurement and scaled by least squares; the
  difference below; the reflection ticks; the 2θ range the density's grid does not resolve
  shaded;
- without one (sticks or a 1024-vector were given): the model's input vector and the
  candidate's computed vector on the Mo Kα axis, as sticks, with their difference.

Below, the densities (truth when given, then the candidates) are drawn in the cell's metric
(:func:`~.density.plot_density_slices`).
"""

from __future__ import annotations

import logging
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.featurize.xrd_vector import bin_centres
from pymatgen_crystalnet.plotting._figure import new_figure
from pymatgen_crystalnet.plotting.density import density_rows, row_height
from pymatgen_crystalnet.plotting.rietveld import estimate_fwhm, plot_rietveld

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pymatgen_crystalnet.physics.powder_profile import PowderProfile
    from pymatgen_crystalnet.solver.solver import Candidate, SolveResult

__all__ = ["calculated_sticks", "solve_figure"]

logger = logging.getLogger(__name__)


def _as_profile(profile: Any, wavelength: float | None) -> PowderProfile | None:
    if profile is None:
        return None
    from pymatgen_crystalnet.physics.powder_profile import PowderProfile

    if isinstance(profile, (str, PathLike)):
        from pymatgen_crystalnet.io.patterns import read_profile

        profile = read_profile(profile, wavelength=wavelength)
    if not isinstance(profile, PowderProfile):
        raise ValueError(f"profile must be a PowderProfile or a profile file, got {type(profile).__name__}.")
    if profile.wavelength is None and wavelength is None:
        raise ValueError("The profile's wavelength is unknown; the calculated pattern needs it.")
    return profile


def calculated_sticks(
    candidate: Candidate,
    wavelength: float,
    two_theta_range: tuple[float, float],
    source: str = "auto",
) -> tuple[NDArray, NDArray, str]:
    """The candidate's stick pattern at ``wavelength``.

    Parameters
    ----------
    candidate
        A solver candidate.
    wavelength
        Å.
    two_theta_range
        Degrees.
    source
        ``"structure"``: the pattern of its atomic model ``candidate.structure``;
        ``"density"``: the FFT forward pattern of its density; ``"auto"``: the atomic model
        when the candidate has one, else the density.

    Returns
    -------
    two_theta, heights, what
        ``what`` is ``"atomic model"`` or ``"density"``.
    """
    structure = getattr(candidate, "structure", None)
    if source == "structure" or (source == "auto" and structure is not None):
        if structure is None:
            raise ValueError("The candidate has no atomic model (candidate.structure).")
        from pymatgen_crystalnet.physics.powder import xrd_pattern

        pattern = xrd_pattern(structure, wavelength=wavelength, two_theta_range=two_theta_range)
        what = "atomic model"
    else:
        from pymatgen_crystalnet.physics.forward import pattern_from_density

        pattern = pattern_from_density(
            candidate.grid, candidate.lattice, wavelength=wavelength, two_theta_range=two_theta_range
        )
        what = "density"
    return np.asarray(pattern.x, dtype=float), np.asarray(pattern.y, dtype=float), what


def _fitted(sx: NDArray, sy: NDArray, tt: NDArray, net: NDArray, background: NDArray, fwhm: float) -> NDArray:
    """Sticks rendered on the profile grid, scaled to the net profile, on the background."""
    from pymatgen_crystalnet.physics.agreement import simulate_profile

    rendered = simulate_profile(sx, sy, tt, fwhm=fwhm) if sx.size else np.zeros_like(tt)
    norm = float(rendered @ rendered)
    scale = float(net @ rendered) / norm if norm > 0 else 0.0
    return background + max(scale, 0.0) * rendered


def _rietveld_fit(cand: Candidate, tt: NDArray) -> dict[str, NDArray] | None:
    """The candidate's Rietveld fit when it was made on these measured points, else None."""
    fit = getattr(getattr(cand, "solution", None), "fit", None) or {}
    x = fit.get("profile_two_theta")
    if x is None or fit.get("profile_calculated") is None or np.shape(x) != tt.shape:
        return None
    return fit if np.allclose(x, tt) else None


def _profile_panel(ax: Any, cand: Candidate, profile: PowderProfile, wavelength: float, title: str) -> None:
    from pymatgen_crystalnet.featurize.profile import snip_background
    from pymatgen_crystalnet.physics.forward import resolved_two_theta_max

    tt = np.asarray(profile.two_theta, dtype=float)
    y = np.asarray(profile.intensity, dtype=float)
    fit = _rietveld_fit(cand, tt)
    if fit is not None:
        plot_rietveld(
            ax, observed_x=tt, observed_y=y, calculated_x=tt,
            calculated_y=np.asarray(fit["profile_calculated"]), sticks_x=fit.get("reflections"),
            label_calculated="calculated (Rietveld fit of its structure)",
            calculated_as="profile", observed_as="profile",
            others={"background": (tt, np.asarray(fit["profile_background"]))}
            if fit.get("profile_background") is not None else None,
            xlabel=f"2θ (°, λ = {wavelength:.5f} Å)", ylabel="intensity (counts)",
        )  # fmt: skip
        rwp = cand.solution.rwp if cand.solution is not None else None
        ax.set_title(title + ("" if rwp is None else f"; structure profile Rwp {rwp:.3f}"), fontsize=9)
        return
    lo, hi = float(tt.min()), float(tt.max())
    background = snip_background(tt, y, 1.0)
    net = y - background
    fwhm = estimate_fwhm(tt, net)
    sx, sy, what = calculated_sticks(cand, wavelength, (lo, hi))
    calc = _fitted(sx, sy, tt, net, background, fwhm)
    shade, others = [], None
    if what == "density":
        resolved = resolved_two_theta_max(cand.lattice, np.shape(cand.grid), wavelength)
        if resolved < hi:
            shade.append((resolved, hi))
    else:  # the density's own pattern, for comparison with its atomic model's
        dx, dy, _ = calculated_sticks(cand, wavelength, (lo, hi), source="density")
        others = {"calculated (density)": (tt, _fitted(dx, dy, tt, net, background, fwhm))}
    plot_rietveld(
        ax,
        observed_x=tt,
        observed_y=y,
        calculated_x=tt,
        calculated_y=calc,
        sticks_x=sx,
        label_calculated=f"calculated ({what})",
        shade=shade,
        calculated_as="profile",
        observed_as="profile",
        others=others,
        xlabel=f"2θ (°, λ = {wavelength:.5f} Å)",
        ylabel="intensity (counts)",
    )
    ax.set_title(title, fontsize=9)


def _vector_panel(ax: Any, cand: Candidate, result: SolveResult, title: str) -> None:
    x = bin_centres()
    target = np.asarray(result.input_vector, dtype=float)
    computed = np.asarray(cand.verification.vector, dtype=float)
    covered = np.asarray(result.covered, dtype=bool)
    norm = float(computed[covered] @ computed[covered])
    scale = float(target[covered] @ computed[covered]) / norm if norm > 0 else 0.0
    shade = [(float(x[i]), float(x[j])) for i, j in _runs(~covered)]
    plot_rietveld(
        ax,
        observed_x=x,
        observed_y=target,
        calculated_x=x,
        calculated_y=scale * computed,
        label_observed="input (model vector)",
        label_calculated="calculated (density)",
        shade=shade,
        observed_as="sticks",
        calculated_as="sticks",
        xlabel="2θ (°, Mo Kα)",
        ylabel="intensity (max = 1)",
    )
    ax.set_title(title, fontsize=9)


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(first, last) index of each run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    return list(zip(starts.tolist(), stops.tolist()))


def solve_figure(
    result: SolveResult,
    truth: ArrayLike | None = None,
    max_candidates: int = 3,
    *,
    profile: PowderProfile | str | PathLike | None = None,
) -> Figure:
    """The summary figure of a solve: Rietveld-style pattern panels on top, densities below.

    Parameters
    ----------
    result
        What :meth:`CrystalNetSolver.solve` returned.
    truth
        The true density on the same grid and cell, drawn as the first density row.
    max_candidates
        How many of the best candidates to draw.
    profile
        The measured profile (or its file) the pattern came from; default ``result.profile``
        when the result carries one. Without a profile the model's input vector is drawn.
    """
    shown = list(result)[:max_candidates]
    if not shown:
        raise ValueError("The result holds no candidate to draw.")
    wavelength = result.info.get("wavelength")
    prof = _as_profile(profile if profile is not None else getattr(result, "profile", None), wavelength)
    lam = None
    if prof is not None:
        lam = float(prof.wavelength if prof.wavelength is not None else wavelength)  # type: ignore[arg-type]
    grids: dict[str, ArrayLike] = {}
    if truth is not None:
        grids["truth"] = truth
    for c in shown:
        grids[f"#{c.rank + 1} (cos {c.agreement['cosine']:.3f})"] = c.grid
    pattern_h, density_h = 2.7 * len(shown), row_height(result.lattice, 12) * len(grids)
    fig = new_figure(12, pattern_h + density_h + 0.6)
    top, bottom = fig.subfigures(2, 1, height_ratios=[pattern_h, density_h])
    pattern_axes = top.subplots(len(shown), 1, squeeze=False, sharex=True)[:, 0]
    for ax, cand in zip(pattern_axes, shown):
        title = (
            f"#{cand.rank + 1}: cosine {cand.agreement['cosine']:.3f}, Rwp {cand.agreement['rwp']:.3f} "
            "(model vectors, compared bins)"
        )
        if prof is not None and lam is not None:
            _profile_panel(ax, cand, prof, lam, title)
        else:
            _vector_panel(ax, cand, result, title)
    for ax in pattern_axes[:-1]:
        ax.set_xlabel("")
    axes = bottom.subplots(len(grids), 4, squeeze=False)
    density_rows(bottom, axes, grids, result.lattice)
    abc = ", ".join(f"{v:.3f}" for v in result.lattice.abc)
    angles = ", ".join(f"{v:.1f}" for v in result.lattice.angles)
    fig.suptitle(f"CrystalNet candidates on a, b, c = {abc} Å, α, β, γ = {angles}° [{result.lattice_source}]")
    return fig

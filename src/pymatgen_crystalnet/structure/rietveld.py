"""Rietveld refinement: a crystal's computed profile against the measured counts.

The calculated profile is that of :mod:`.profile_model` with the reflection intensities of the
crystal instead of free ones:

    y_c(2θ_i) = s Σ_g I_g(p, B) Ω_g(2θ_i; θ) + Σ_j b_j T_j(x_i)

``I_g`` are the merged ``2 |F|² LP`` of each reflection group exactly as
:class:`~.forward_torch.StickModel` computes them (pymatgen's scattering factors and
Lorentz–polarisation factor, the twin of ``physics.powder_batch.batch_sticks``), from the free
Wyckoff parameters ``p`` of ``x = x0 + A p`` (:mod:`.wyckoff_params`) and one isotropic ``B``;
``Ω_g`` are the peak shapes of the Pawley fit's model (zero shift, ``U, V, W``, ``η₀, η₁``, Kα2
ratio, cell), started from its refined values. Scale ``s`` and background ``b`` are linear: for
every ``q = (p, B, θ)`` they are the weighted least-squares solution (variable projection), so
the residual is ``r(q) = P⊥(q) √w y`` and its exact Jacobian (Golub–Pereyra) is

    ∂r/∂q = −s P⊥ J_a − u (rᵀ J_a),    J_a = √w ∂(Σ_g I_g Ω_g)/∂q,

with ``u`` the first row of the pseudo-inverse of the weighted linear design. ``J_a`` for ``p``
and ``B`` is the sparse peak-shape matrix times ``∂I_g/∂(p, B)`` (one reverse pass through the
structure factors, as in :mod:`.stick_problem`), for the peak parameters one forward-mode pass
each. Levenberg–Marquardt (:mod:`.profile_lm`) refines ``(p, B)`` first, then everything.

Figures: profile ``Rwp``, ``Rp``, ``Rexp`` and ``R_Bragg = Σ|I_o − I_c| / Σ I_o`` over the groups
inside the measured range, with ``I_o`` the observed intensity apportioned by Rietveld's
formula ``I_o,g = I_c,g Σ_i Ω_g(i) (y_o,i − y_b,i)/(y_c,i − y_b,i)``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from pymatgen.core import Structure

from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.structure.contacts import DEFAULT_FACTOR, DEFAULT_FLOOR, Contact, closest_contact
from pymatgen_crystalnet.structure.pawley_result import PawleyResult
from pymatgen_crystalnet.structure.profile_lm import agreement, lm_minimise
from pymatgen_crystalnet.structure.profile_model import SHAPE_NAMES
from pymatgen_crystalnet.structure.rietveld_problem import RietveldProblem
from pymatgen_crystalnet.structure.wyckoff_params import CoordinateParametrisation

__all__ = ["RietveldProblem", "RietveldResult", "rietveld_refine"]

logger = logging.getLogger(__name__)


@dataclass
class RietveldResult:
    """A crystal refined against a measured profile.

    Attributes
    ----------
    structure
        The refined crystal (on the refined cell; same species and site order as the input).
    rwp, rp, rexp, chi2
        Profile agreement (:func:`.profile_lm.agreement`).
    r_bragg
        Bragg R of the groups inside the measured range.
    start_rwp
        Rwp of the given crystal with the Pawley fit's peak parameters (before refinement).
    scale, b_factor
        Refined scale and isotropic B (Å²).
    params
        Refined free Wyckoff parameters.
    profile_params
        Refined peak parameters by name (zero … ratio).
    parametrisation
        The symmetry kept (:mod:`.wyckoff_params`).
    contact
        Closest contact of the refined crystal.
    accepted, message
        False with the reason when the fit diverged or left atoms too close.
    iterations, converged, seconds
        Levenberg–Marquardt iterations, convergence, wall time.
    two_theta, observed, calculated, background
        The fitted profile (measured points).
    reflections
        Refined 2θ (Kα1) of the reflection groups inside the range that the crystal does not
        extinguish (tick marks).
    """

    structure: Structure
    rwp: float
    rp: float
    rexp: float
    chi2: float
    r_bragg: float
    start_rwp: float
    scale: float
    b_factor: float
    params: NDArray[np.float64]
    profile_params: dict[str, float]
    parametrisation: CoordinateParametrisation
    contact: Contact
    accepted: bool
    message: str
    iterations: int
    converged: bool
    seconds: float
    two_theta: NDArray[np.float64] = field(repr=False)
    observed: NDArray[np.float64] = field(repr=False)
    calculated: NDArray[np.float64] = field(repr=False)
    background: NDArray[np.float64] = field(repr=False)
    reflections: NDArray[np.float64] = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures (no arrays)."""
        return {
            "profile_rwp": self.rwp,
            "profile_rp": self.rp,
            "profile_rexp": self.rexp,
            "profile_chi2": self.chi2,
            "r_bragg": self.r_bragg,
            "start_rwp": self.start_rwp,
            "scale": self.scale,
            "b_factor": self.b_factor,
            "n_free": self.parametrisation.n_free,
            "profile_params": dict(self.profile_params),
            "lattice": [float(v) for v in (*self.structure.lattice.abc, *self.structure.lattice.angles)],
            "iterations": self.iterations,
            "converged": self.converged,
            "seconds": self.seconds,
            "accepted": self.accepted,
            "message": self.message,
        }


def rietveld_refine(
    structure: Structure,
    profile: PowderProfile,
    pawley: PawleyResult,
    *,
    symprec: float | None = 0.01,
    b_start: float = 1.0,
    b_max: float = 10.0,
    refine_profile: bool = True,
    refine_cell: bool = True,
    max_iter: int = 30,
    time_budget_s: float | None = None,
    contact_factor: float = DEFAULT_FACTOR,
    contact_floor: float = DEFAULT_FLOOR,
    device: str | torch.device = "cpu",
) -> RietveldResult:
    """Refine a crystal (free Wyckoff parameters, B, scale) and the peak parameters against a profile.

    Parameters
    ----------
    structure
        The starting crystal, on the Pawley fit's cell.
    profile
        The measured profile the Pawley fit was made on.
    pawley
        :func:`.pawley.pawley_fit` of the profile (peak model and starting values).
    symprec
        spglib tolerance of the symmetry kept; None refines every coordinate.
    b_start, b_max
        Starting B and its upper bound (Å²).
    refine_profile, refine_cell
        Refine the peak parameters (zero, widths, shape, Kα2 ratio) and the cell too, after a
        first round of the structure alone.
    max_iter
        Levenberg–Marquardt iterations at most (both rounds).
    time_budget_s
        No iteration starts after this many seconds.
    contact_factor, contact_floor
        Minimum interatomic distances (:mod:`.contacts`).
    device
        Torch device.

    Raises
    ------
    ValueError
        For a crystal on another cell, a disordered crystal or one spglib finds no symmetry in.
    """
    start_time = time.perf_counter()
    deadline = None if time_budget_s is None else start_time + float(time_budget_s)
    problem = RietveldProblem(structure, profile, pawley, symprec=symprec, device=device)
    q0 = problem.start(structure, float(np.clip(b_start, 0.0, b_max)))
    n_q = q0.numel()
    names = problem.peaks.names
    structural = torch.zeros(n_q, dtype=torch.bool)
    structural[: problem.n_p + 1] = True
    every = structural.clone()
    if refine_profile:
        for k, name in enumerate(names):
            if name.startswith("cell_"):
                every[problem.n_p + 1 + k] = refine_cell
            else:
                every[problem.n_p + 1 + k] = name != "ratio" or pawley.lines.doublet
    start_rwp = _rwp(problem, q0)
    struct_cols = list(range(problem.n_p + 1))
    first = lm_minimise(problem.residuals, lambda q: problem.jacobian(q, struct_cols), q0, free=structural,
                        clamp=lambda q: problem.clamp(q, b_max), max_iter=max(1, max_iter // 2),
                        deadline=deadline)  # fmt: skip
    q, iterations, converged = first.x, first.iterations, first.converged
    if refine_profile and (deadline is None or time.perf_counter() < deadline):
        second = lm_minimise(problem.residuals, problem.jacobian, q, free=every,
                             clamp=lambda q: problem.clamp(q, b_max), max_iter=max(1, max_iter - iterations),
                             deadline=deadline)  # fmt: skip
        q, iterations, converged = second.x, iterations + second.iterations, second.converged
    return _finish(problem, q, structure, start_rwp, iterations, converged, contact_factor, contact_floor,
                   time.perf_counter() - start_time)  # fmt: skip


def _rwp(problem: RietveldProblem, q: torch.Tensor) -> float:
    r = problem.residuals(q)
    wyy = float((problem.sqrt_w * problem.y).pow(2).sum())
    return float(torch.sqrt((r * r).sum() / wyy)) if wyy > 0 else float("nan")


def _finish(problem: RietveldProblem, q: torch.Tensor, structure: Structure, start_rwp: float,
            iterations: int, converged: bool, contact_factor: float, contact_floor: float,
            seconds: float) -> RietveldResult:  # fmt: skip
    p, b, theta = problem.split(q)
    with torch.no_grad():
        ev = problem.evaluate(q)
        scale = float(ev["coef"][0])
        background = (problem.bg @ ev["coef"][1:]).cpu().numpy()
        calc = scale * ev["ypk"].cpu().numpy() + background
        coords = (problem.x0 + torch.einsum("nip,p->ni", problem.basis, p)).cpu().numpy()
    th = theta.cpu().numpy()
    n_fit = problem.n_params + 1 + problem.bg.shape[1]
    fig = agreement(problem.y_np, calc, problem.w_np, n_fit)
    message = ""
    try:
        lattice = problem.peaks.metric.lattice(th[len(SHAPE_NAMES) :])
    except ValueError as exc:
        lattice, message = problem.pawley.start_lattice, str(exc)
    refined = Structure(lattice, problem.species, coords % 1.0)
    contact = closest_contact(refined, contact_factor, contact_floor)
    if not np.isfinite(fig["rwp"]):
        message = "The Rietveld refinement diverged (non-finite Rwp)."
    elif scale <= 0:
        message = "The Rietveld refinement gave a non-positive scale."
    elif not contact.ok:
        message = (f"The Rietveld refinement leaves atoms too close: sites {contact.sites} at "
                   f"{contact.distance:.3f} Å (minimum {contact.minimum:.3f} Å).")  # fmt: skip
    r_bragg = problem.r_bragg(q) if not message else float("nan")
    logger.info("Rietveld %s: Rwp %.4f → %.4f, R_Bragg %.4f, B %.3f, %d iterations, %.1f s",
                structure.composition.reduced_formula, start_rwp, fig["rwp"], r_bragg, float(b),
                iterations, seconds)  # fmt: skip
    with torch.no_grad():
        centres = problem.peaks.centres(theta)[0].cpu().numpy()
        inten = ev["inten"].cpu().numpy()
    ticks = centres[problem.pawley.in_range & (inten > 1e-8 * max(float(inten.max()), 1e-300))]
    return RietveldResult(
        structure=refined,
        rwp=fig["rwp"],
        rp=fig["rp"],
        rexp=fig["rexp"],
        chi2=fig["chi2"],
        r_bragg=r_bragg,
        start_rwp=start_rwp,
        scale=scale,
        b_factor=float(b),
        params=p.cpu().numpy().copy(),
        profile_params={name: float(v) for name, v in zip(SHAPE_NAMES, th)},
        parametrisation=problem.par,
        contact=contact,
        accepted=not message,
        message=message,
        iterations=iterations,
        converged=converged,
        seconds=seconds,
        two_theta=problem.peaks.two_theta_np.copy(),
        observed=problem.y_np.copy(),
        calculated=calc,
        background=background,
        reflections=ticks,
    )

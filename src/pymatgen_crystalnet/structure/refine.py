"""Refine a crystal against a stick pattern: free Wyckoff parameters, overall B and scale.

:func:`refine` writes the crystal's coordinates as ``x = x0 + A p`` over its free Wyckoff
parameters (:mod:`.wyckoff_params`; every coordinate free with ``symprec=None``), computes
its merged stick intensities exactly as :func:`~pymatgen_crystalnet.physics.powder_batch.batch_sticks`
does (in torch, :mod:`.forward_torch`), bins them against the target sticks
(:mod:`.stick_match`) and minimises the weighted sum of squares over ``p``, one isotropic B
and the scale by Levenberg–Marquardt with autodiff Jacobians (:mod:`.stick_problem`), from
several starts at once (the given coordinates and random displacements of them). The best
start whose atoms keep a sensible distance (:mod:`.contacts`) is returned; if every start
leaves atoms too close, the result says so and is not accepted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Structure

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.physics.units import TWO_THETA_MAX, resolve_wavelength
from pymatgen_crystalnet.structure.contacts import DEFAULT_FACTOR, DEFAULT_FLOOR, Contact, closest_contact
from pymatgen_crystalnet.structure.forward_torch import StickModel
from pymatgen_crystalnet.structure.stick_match import check_target, match_sticks, stick_figures
from pymatgen_crystalnet.structure.stick_problem import StickProblem, levenberg_marquardt
from pymatgen_crystalnet.structure.wyckoff_params import CoordinateParametrisation, symmetry_parametrisation

__all__ = ["RefinementResult", "refine"]

logger = logging.getLogger(__name__)


@dataclass
class RefinementResult:
    """A refined crystal and how well it reproduces the target sticks.

    Attributes
    ----------
    structure
        The refined crystal (same lattice, species and site order as the input).
    rwp, r_bragg, cosine
        Stick figures of merit after refinement (:mod:`.stick_match`).
    b_factor
        Refined isotropic B (Å²), the same for every atom.
    scale
        Target intensity per unit of pymatgen's unscaled intensity.
    params
        Refined free Wyckoff parameters ``p`` of ``x = x0 + A p``.
    parametrisation
        The parametrisation (space group, orbits, ``x0``, ``A``).
    contact
        The closest contact of the refined crystal (:func:`.contacts.closest_contact`).
    accepted
        False when no start kept atoms apart or the fit did not produce finite numbers;
        ``message`` then says why.
    message
        Empty when accepted.
    start_rwp
        Rwp of the given crystal at the starting B (least-squares scale).
    rwp_per_start
        Final Rwp of every start (start 0 is the given coordinates).
    iterations, converged
        Levenberg–Marquardt iterations run, and whether the chosen start converged.
    two_theta, observed, calculated
        The bins (target sticks, then model-only reflections), their target intensities and
        the refined model's, on the target's scale: what a Rietveld-style plot draws.
    """

    structure: Structure
    rwp: float
    r_bragg: float
    cosine: float
    b_factor: float
    scale: float
    params: NDArray[np.float64]
    parametrisation: CoordinateParametrisation
    contact: Contact
    accepted: bool
    message: str
    start_rwp: float
    rwp_per_start: NDArray[np.float64]
    iterations: int
    converged: bool
    two_theta: NDArray[np.float64] = field(repr=False)
    observed: NDArray[np.float64] = field(repr=False)
    calculated: NDArray[np.float64] = field(repr=False)

    @property
    def n_free(self) -> int:
        """Number of free Wyckoff parameters refined."""
        return self.parametrisation.n_free

    @property
    def space_group(self) -> str:
        """Hermann–Mauguin symbol of the symmetry kept."""
        return self.parametrisation.space_group


def _displacement_scale(par: CoordinateParametrisation, matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(P,)`` largest Cartesian displacement (Å) of any site per unit of each parameter."""
    if par.n_free == 0:
        return np.zeros(0)
    cart = np.einsum("nip,ij->npj", par.basis, matrix)  # (N, P, 3)
    return np.linalg.norm(cart, axis=2).max(axis=0)


def _check_options(
    n_starts: int, start_displacement: float, b_start: float, b_max: float, max_iter: int
) -> None:
    if int(n_starts) < 1:
        raise ValueError(f"n_starts must be ≥ 1, got {n_starts}.")
    if not (math.isfinite(start_displacement) and start_displacement >= 0):
        raise ValueError(f"start_displacement must be a finite number ≥ 0 Å, got {start_displacement}.")
    if not (math.isfinite(b_max) and b_max > 0 and math.isfinite(b_start) and 0 <= b_start <= b_max):
        raise ValueError(f"Need 0 ≤ b_start ≤ b_max (finite, Å²), got b_start={b_start}, b_max={b_max}.")
    if int(max_iter) < 1:
        raise ValueError(f"max_iter must be ≥ 1, got {max_iter}.")


def refine(
    structure: Structure,
    two_theta: ArrayLike,
    intensities: ArrayLike,
    wavelength: float | str = "MoKa",
    *,
    two_theta_range: tuple[float, float] | None = None,
    symprec: float | None = 0.01,
    refine_b: bool = True,
    b_start: float = 0.5,
    b_max: float = 10.0,
    n_starts: int = 8,
    start_displacement: float = 0.1,
    max_iter: int = 100,
    match_tol: float = 0.02,
    contact_factor: float = DEFAULT_FACTOR,
    contact_floor: float = DEFAULT_FLOOR,
    seed: int = 0,
    device: str | torch.device | None = "auto",
    groups: ArrayLike | None = None,
) -> RefinementResult:
    """Refine free Wyckoff parameters, an overall B and the scale against target sticks.

    Parameters
    ----------
    structure
        The starting crystal (ordered; symmetric within ``symprec``), in any cell.
    two_theta, intensities
        The target stick pattern (degrees; any intensity scale).
    wavelength
        Å or a name such as ``"MoKa"`` (the target's wavelength).
    two_theta_range
        The 2θ range the target covers; by default from its first to its last stick, widened
        by ``match_tol``. Model reflections inside it with no target stick count as absent.
    symprec
        spglib tolerance (Å) of the symmetry kept; None refines every coordinate (P1).
    refine_b
        Refine the overall B; else keep ``b_start``.
    b_start, b_max
        Starting B and its upper bound (Å²); B is kept in ``[0, b_max]``.
    n_starts
        Starts refined together: the given coordinates and ``n_starts - 1`` random
        displacements of them (``start_displacement`` Å per parameter, symmetry kept).
    max_iter
        Levenberg–Marquardt iterations at most.
    match_tol
        2θ tolerance (degrees) pairing model reflections with target sticks.
    contact_factor, contact_floor
        Minimum interatomic distance, ``max(factor × Σ covalent radii, floor)`` (:mod:`.contacts`).
    seed
        Seed of the random starts.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``… (:func:`~pymatgen_crystalnet.devices.resolve_device`).
    groups
        One group index per target stick (in the order given): sticks of a group are compared
        as one bin (overlapped reflections of extracted intensities, :mod:`.stick_match`).

    Returns
    -------
    RefinementResult

    Raises
    ------
    ValueError
        For an empty or disordered structure, a bad target pattern, wavelength, range or
        option, or a lattice with no reflection in the range.
    """
    if not isinstance(structure, Structure) or len(structure) == 0:
        raise ValueError("refine needs a pymatgen Structure with at least one site.")
    _check_options(n_starts, start_displacement, b_start, b_max, max_iter)
    lam = resolve_wavelength(wavelength)
    tt, _ = check_target(two_theta, intensities)
    if two_theta_range is None:
        two_theta_range = (max(0.0, tt[0] - match_tol), min(TWO_THETA_MAX, tt[-1] + match_tol))
    dev = resolve_device(device)
    par = symmetry_parametrisation(structure, symprec=symprec)
    model = StickModel(
        structure.lattice, structure.species, lam, two_theta_range, device=dev, rotations=par.rotations
    )
    bins = match_sticks(model.two_theta, two_theta, intensities, tol=match_tol, groups=groups)
    problem = StickProblem(model, par.x0, par.basis, bins)

    rng = np.random.default_rng(seed)
    p_given = par.params_of(structure.frac_coords)
    starts = np.repeat(p_given[None], n_starts, axis=0)
    if par.n_free and n_starts > 1:
        step = start_displacement / np.maximum(_displacement_scale(par, structure.lattice.matrix), 1e-12)
        starts[1:] += rng.normal(0.0, 1.0, (n_starts - 1, par.n_free)) * step
    q0 = np.concatenate([starts, np.full((n_starts, 1), float(b_start))], axis=1)
    q0_t = torch.as_tensor(q0, dtype=model.dtype, device=dev)
    outcome = levenberg_marquardt(problem, q0_t, refine_b=refine_b, b_max=b_max, max_iter=max_iter)

    with torch.no_grad():
        calc0 = problem.calculated(q0_t[:1]).cpu().numpy()[0]
        calc = problem.calculated(outcome.q).cpu().numpy()
        coords = problem.coords(outcome.q).cpu().numpy()
    q = outcome.q.cpu().numpy()
    start_rwp = stick_figures(bins, calc0)["rwp"]
    figures = [stick_figures(bins, c) for c in calc]
    rwps = np.array([f["rwp"] if np.isfinite(f["rwp"]) else np.inf for f in figures])
    candidates = [Structure(structure.lattice, structure.species, c % 1.0) for c in coords]
    contacts = [closest_contact(s, contact_factor, contact_floor) for s in candidates]
    ok = np.array([c.ok for c in contacts]) & np.isfinite(rwps)
    best = int(np.argmin(np.where(ok, rwps, np.inf))) if ok.any() else int(np.argmin(rwps))
    message = ""
    if not np.isfinite(rwps[best]):
        message = "The refinement produced no finite figure of merit."
    elif not ok[best]:
        c = contacts[best]
        message = (
            f"Every start leaves atoms too close: sites {c.sites} at {c.distance:.3f} Å "
            f"(minimum {c.minimum:.3f} Å)."
        )
    fig = figures[best]
    logger.info(
        "refined %s (%s, %d free): Rwp %.4f → %.4f, B %.3f Å², %d iterations",
        structure.composition.reduced_formula,
        par.space_group,
        par.n_free,
        start_rwp,
        fig["rwp"],
        q[best, -1],
        outcome.iterations,
    )
    return RefinementResult(
        structure=candidates[best],
        rwp=fig["rwp"],
        r_bragg=fig["r_bragg"],
        cosine=fig["cosine"],
        b_factor=float(q[best, -1]),
        scale=fig["scale"],
        params=q[best, :-1].copy(),
        parametrisation=par,
        contact=contacts[best],
        accepted=not message,
        message=message,
        start_rwp=start_rwp,
        rwp_per_start=rwps,
        iterations=outcome.iterations,
        converged=bool(outcome.converged[best]),
        two_theta=bins.two_theta.copy(),
        observed=bins.observed.copy(),
        calculated=fig["scale"] * calc[best],
    )

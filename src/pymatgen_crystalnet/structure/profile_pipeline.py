"""From a measured profile on a known cell to crystal structures refined against the profile.

::

    from pymatgen_crystalnet.structure.profile_pipeline import solve_structures_from_profile
    solution = solve_structures_from_profile(lattice, "Mg2Si", profile)   # a PowderProfile
    solution.profile_fit["rwp"]                 # the Pawley fit
    best = solution.candidates[0]
    best.rwp, best.r_bragg                      # profile Rwp and R_Bragg after Rietveld
    best.refinement["profile_calculated"]       # the fitted profile on the measured points

Stages:

1. **Pawley** (:func:`.pawley.pawley_fit`): the intensity of every reflection group of the cell,
   with the peak widths, shape, zero shift, Kα2 ratio, background and the cell refined; at most
   :data:`PAWLEY_SHARE` of the time budget.
2. **Sticks**: those intensities (clusters of overlapped reflections compared as one, clusters
   below three esds set to zero) go through
   :func:`.pipeline.solve_structures` as a stick pattern on the given cell: space-group
   hypotheses, the symmetry search and the decoded densities in one pool, stick refinement.
   That stage leaves :data:`RIETVELD_SHARE` of the budget to the next one.
3. **Rietveld** (:func:`.rietveld.rietveld_refine`): the best ``n_rietveld`` structures refined
   against the measured counts (free Wyckoff parameters, B, scale, background, peak parameters
   and the cell); ranked by profile Rwp ahead of the structures that were not (or could not
   be) Rietveld-refined, which keep their stick figures. A Rietveld fit that diverges or
   brings atoms too close leaves the stick-refined structure in place, with the reason in its
   provenance.
4. **More rounds** while the budget lasts and the best profile Rwp stays above
   :data:`GOOD_FIT_RATIO` × the Pawley Rwp (no structure explains the profile as well as free
   intensities do): stages 2–3 again with a new seed and more space-group hypotheses, pooled
   with the earlier structures (``timings["rounds"]``); odd rounds try, one each, the Z the
   cell volume allows that the first round did not (unless ``config.z`` is given).

Nothing raises for a bad profile: too few points, no peak, a cell without reflections in the
range or a fit that diverges give ``solution.reason``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.structure.candidate_pool import (
    CandidatePool,
    StructureCandidate,
    min_distance_violation,
)
from pymatgen_crystalnet.structure.config import StructureSolveConfig
from pymatgen_crystalnet.structure.pipeline import solve_structures
from pymatgen_crystalnet.structure.pipeline_steps import rwp_key
from pymatgen_crystalnet.structure.solution import StructureSolution

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

    from pymatgen_crystalnet.structure.pawley import PawleyResult
    from pymatgen_crystalnet.structure.pawley_result import ExtractedSticks
    from pymatgen_crystalnet.structure.rietveld import RietveldResult

__all__ = ["PAWLEY_SHARE", "RIETVELD_SHARE", "solve_structures_from_profile"]

logger = logging.getLogger(__name__)

#: Share of the time budget the Pawley fit may use.
PAWLEY_SHARE: float = 0.3
#: Share of the budget left after the Pawley fit that is kept for the Rietveld refinements.
RIETVELD_SHARE: float = 0.35
#: A structure whose profile Rwp is within this factor of the Pawley Rwp (the best any structure
#: can reach with the same peak model) ends the search; a correct structure usually comes within
#: 10–30 % (more with texture or anisotropic broadening, which the model lacks).
GOOD_FIT_RATIO: float = 1.3
#: Search rounds at most (each with a new seed and more hypotheses) while the fit stays worse.
MAX_ROUNDS: int = 5
#: A new round starts only with this many seconds of the budget left.
MIN_ROUND_S: float = 8.0
#: Levenberg–Marquardt iterations of each Rietveld refinement (a right model converges in ~10).
RIETVELD_ITERATIONS: int = 20
#: Space-group hypotheses searched at most in a later round.
MAX_HYPOTHESES: int = 12
#: Keys of a candidate's ``refinement`` holding the fitted profile (arrays).
PROFILE_KEYS: tuple[str, ...] = (
    "profile_two_theta", "profile_observed", "profile_calculated", "profile_background", "reflections",
)  # fmt: skip
#: What a failing fit may raise (turned into a reason, never propagated).
_FIT_ERRORS = (ValueError, RuntimeError, ArithmeticError, np.linalg.LinAlgError)


def solve_structures_from_profile(
    lattice: Lattice,
    composition: Composition | str | dict,
    profile: PowderProfile,
    *,
    wavelength: float | str | None = None,
    densities: Sequence[ArrayLike] = (),
    density_lattice: Lattice | None = None,
    config: StructureSolveConfig | None = None,
) -> StructureSolution:
    """Crystal structures that explain a measured profile on a known cell, Rietveld-refined.

    Parameters
    ----------
    lattice
        The cell (any setting); the structures are on it (on its refined metric after Rietveld).
    composition
        Chemical formula (Z from ``config.z`` or the cell volume).
    profile
        The measured profile (:class:`~pymatgen_crystalnet.physics.powder_profile.PowderProfile`).
    wavelength
        Å or a name; default the profile's own.
    densities, density_lattice
        Candidate densities and their cell, decoded into the pool (:func:`.pipeline.solve_structures`).
    config
        Settings; ``kalpha2``, ``n_background``, ``n_rietveld`` are the profile stages' own.

    Returns
    -------
    StructureSolution
        ``profile_fit`` holds the Pawley fit's figures; ``reason`` why no structure came out.
    """
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.structure.pawley import pawley_fit

    config = config or StructureSolveConfig()
    start = time.perf_counter()
    budget = config.time_budget_s
    deadline = None if budget is None else start + budget
    solution = StructureSolution()
    try:
        if not isinstance(profile, PowderProfile):
            raise ValueError(f"profile must be a PowderProfile, got {type(profile).__name__}.")
        if not isinstance(lattice, Lattice):
            lattice = Lattice(np.asarray(lattice, dtype=float))
        pawley = pawley_fit(
            profile, lattice, wavelength=wavelength, kalpha2=config.kalpha2, n_background=config.n_background,
            time_budget_s=None if budget is None else PAWLEY_SHARE * budget,
        )  # fmt: skip
    except (*_FIT_ERRORS, TypeError) as exc:
        solution.reason = f"profile fit refused: {exc}"
        return solution
    solution.profile_fit = pawley.summary()
    solution.timings["pawley"] = pawley.seconds
    if not pawley.ok:
        solution.reason = f"profile fit failed: {pawley.message}"
        return solution
    sticks = pawley.sticks()
    if not np.any(sticks.intensity > 0):
        solution.reason = "profile fit failed: no reflection intensity above three esds"
        return solution
    rietveld = config.refine and config.n_rietveld > 0
    solution = _round(0, lattice, composition, sticks, profile, pawley, config, densities, density_lattice,
                      deadline, rietveld)  # fmt: skip
    solution.profile_fit = {
        **pawley.summary(),
        "n_sticks": int(sticks.two_theta.size),
        "n_clusters": int(sticks.cluster.max()) + 1,
        "n_observed": int(np.count_nonzero(sticks.intensity > 0)),
    }
    solution.timings["pawley"] = pawley.seconds
    solution.notes.insert(0, f"sticks: intensities extracted by a Pawley fit (Rwp {pawley.rwp:.4f})")
    rounds = 1
    while rietveld and deadline is not None and rounds < MAX_ROUNDS:
        ratio = _fit_ratio(solution, pawley)
        if ratio <= GOOD_FIT_RATIO or deadline - time.perf_counter() < MIN_ROUND_S:
            break
        more = _round(rounds, lattice, composition, sticks, profile, pawley, config, (), None, deadline, True)
        solution.candidates = _merged([*solution.candidates, *more.candidates], config.keep)
        solution.failures.extend(more.failures)
        solution.searched = sorted({*solution.searched, *more.searched})
        for key, value in more.timings.items():
            if key != "total":
                solution.timings[key] = solution.timings.get(key, 0.0) + value
        solution.notes.append(f"search round {rounds + 1} (best profile Rwp {ratio:.2f} × the Pawley Rwp)")
        rounds += 1
    if solution.candidates:
        solution.reason = None
    solution.timings["rounds"] = rounds
    solution.timings["total"] = time.perf_counter() - start
    return solution


def _round(
    k: int, lattice: Lattice, composition: Composition | str | dict, sticks: ExtractedSticks,
    profile: PowderProfile, pawley: PawleyResult, config: StructureSolveConfig,
    densities: Sequence[ArrayLike], density_lattice: Lattice | None, deadline: float | None, rietveld: bool,
) -> StructureSolution:  # fmt: skip
    """One round: the stick pipeline on the extracted intensities, then Rietveld of its best.

    Round 0 uses the configuration as given; later rounds a new seed, more space-group
    hypotheses and no densities (their models are in the pool already).
    """
    budget = None
    if deadline is not None:
        left = max(deadline - time.perf_counter(), 1.0)
        budget = left * (1.0 - RIETVELD_SHARE) if rietveld else left
    settings: dict[str, Any] = {"time_budget_s": budget}
    if k:
        settings.update(seed=config.seed + k, use_network=False, use_search=True,
                        z=_round_z(k, config, composition, lattice),
                        n_hypotheses=min(config.n_hypotheses * (k + 1), MAX_HYPOTHESES))  # fmt: skip
    solution = solve_structures(
        lattice, composition, sticks.two_theta, sticks.intensity, sticks.wavelength,
        densities=densities, density_lattice=density_lattice, two_theta_range=sticks.two_theta_range,
        config=dataclasses.replace(config, **settings), stick_groups=sticks.cluster,
    )  # fmt: skip
    if rietveld and solution.candidates:
        t0 = time.perf_counter()
        _rietveld_stage(solution, profile, pawley, config, deadline)
        solution.timings["rietveld"] = time.perf_counter() - t0
    return solution


def _round_z(
    k: int, config: StructureSolveConfig, composition: Composition | str | dict, lattice: Lattice
) -> int | None:
    """Z of round ``k`` (None: the most plausible ones, as in the first round).

    Odd rounds try, in turn, the Z the volume allows that the first round did not (closest to
    the expected volume first); even rounds the most plausible ones again.
    """
    from pymatgen_crystalnet.structure.formula_units import candidate_z, plausible_z

    if config.z is not None or k % 2 == 0:
        return config.z
    tried = set(plausible_z(composition, lattice.volume).values)
    others = [z for z in candidate_z(composition, lattice.volume).values if z not in tried]
    index = (k - 1) // 2
    return others[index] if index < len(others) else None


def _fit_ratio(solution: StructureSolution, pawley: PawleyResult) -> float:
    """Best profile Rwp over the Pawley Rwp (inf without a Rietveld-refined structure)."""
    fits = [c.figures_of_merit for c in solution.candidates]
    rwps = [f["profile_rwp"] for f in fits if "profile_rwp" in f]
    return min(rwps) / pawley.rwp if rwps and pawley.rwp > 0 else float("inf")


def _final_key(c: StructureCandidate) -> tuple[float, float, float]:
    """Rietveld-refined structures first (by profile Rwp), then the others (by stick Rwp)."""
    return (0.0 if "profile_rwp" in c.figures_of_merit else 1.0, *rwp_key(c))


def _merged(candidates: list[StructureCandidate], keep: int) -> list[StructureCandidate]:
    """Distinct candidates (``StructureMatcher``), ranked by :func:`_final_key`."""
    pool = CandidatePool(key=_final_key)
    pool.extend(sorted(candidates, key=_final_key))
    return pool.ranked()[:keep]


def _rietveld_stage(
    solution: StructureSolution, profile: PowderProfile, pawley: PawleyResult, config: StructureSolveConfig,
    deadline: float | None,
) -> None:  # fmt: skip
    """Rietveld-refine the best candidates in place; rank the refined ones first by profile Rwp."""
    from pymatgen_crystalnet.structure.rietveld import rietveld_refine

    chosen = solution.candidates[: config.n_rietveld]
    refined: list[StructureCandidate] = []
    for k, cand in enumerate(chosen):
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            solution.skipped.append(f"Rietveld refinement of {len(chosen) - k} structures (time budget)")
            break
        assert cand.structure is not None
        try:
            res = rietveld_refine(
                cand.structure, profile, pawley, b_start=min(cand.b_factor or config.b_factor, 10.0),
                max_iter=RIETVELD_ITERATIONS,
                time_budget_s=None if left is None else left / (len(chosen) - k),
            )  # fmt: skip
        except _FIT_ERRORS as exc:
            cand.provenance["rietveld"] = f"refused: {exc}"
            continue
        why = res.message or min_distance_violation(res.structure)
        if why:
            cand.provenance["rietveld"] = f"rejected: {why}"
            solution.notes.append(f"Rietveld refinement of a {cand.space_group} model rejected: {why}")
            continue
        _apply(cand, res)
        refined.append(cand)
    if refined:
        solution.candidates = _merged(solution.candidates, config.keep)


def _apply(cand: StructureCandidate, res: RietveldResult) -> None:
    """The candidate becomes the Rietveld-refined structure (stick figures kept as ``stick_*``)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    stick = {"stick_rwp": cand.rwp, "stick_r_bragg": cand.r_bragg}
    cand.figures_of_merit.update({k: float(v) for k, v in stick.items() if v is not None})
    cand.figures_of_merit.update(
        {"rwp": res.rwp, "r_bragg": res.r_bragg, "profile_rwp": res.rwp, "profile_rexp": res.rexp}
    )
    cand.structure, cand.rwp, cand.r_bragg, cand.b_factor = res.structure, res.rwp, res.r_bragg, res.b_factor
    try:
        sga = SpacegroupAnalyzer(res.structure, symprec=0.01)
        cand.space_group, cand.space_group_number = sga.get_space_group_symbol(), sga.get_space_group_number()
    except Exception:  # spglib failure: keep the stick refinement's symbol
        pass
    arrays: dict[str, Any] = {
        "profile_two_theta": res.two_theta.tolist(),
        "profile_observed": res.observed.tolist(),
        "profile_calculated": res.calculated.tolist(),
        "profile_background": res.background.tolist(),
        "reflections": res.reflections.tolist(),
    }
    cand.refinement = {**(cand.refinement or {}), "rietveld": res.summary(), **arrays}

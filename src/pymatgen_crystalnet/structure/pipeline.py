"""From a pattern (and candidate densities) to refined crystal structures, ranked by Rwp.

::

    from pymatgen_crystalnet.structure.pipeline import solve_structures
    solution = solve_structures(lattice, "BaO", two_theta, intensities, "MoKa",
                                densities=grids, density_lattice=cell)
    solution.candidates[0].structure        # refined, symmetric pymatgen Structure
    solution.candidates[0].rwp, .source     # figure of merit, "network-decode" | "search"
    solution.reason                         # why no structure came out, else None

Stages (the clock is checked between them and between refinements; what the time budget cut
is listed in ``solution.skipped``):

1. **decode** every density on its own lattice (:func:`.decode.decode_density`) and write the
   models on the pattern's cell (:func:`.transfer.on_lattice`);
2. **hypotheses**: space groups from the pattern's systematic absences on the cell, supported by
   the decoded models' symmetry (:func:`.spacegroups.space_group_hypotheses`), or the given one;
3. **search**: pyxtal random crystals for the best hypotheses and the given Z, else the (at
   most three) most plausible Z from the cell volume (:func:`.formula_units.plausible_z`,
   :func:`.search.symmetry_search`);
4. **pool**: every model scored against the sticks at the configured B
   (:class:`.stick_scoring.StickScorer`), duplicates merged (``StructureMatcher``, MP-20
   tolerances), ranked by stick Rwp;
5. **refine** ``n_refine`` of them, the best of each source in turns (:func:`.refine.refine`),
   drop those that diverge or leave atoms too close, merge duplicates again and rank by Rwp.

Nothing raises for a bad pattern, density or composition: the solution carries the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pymatgen_crystalnet.physics.units import TWO_THETA_MAX, resolve_wavelength
from pymatgen_crystalnet.structure.candidate_pool import (
    CandidatePool,
    StructureCandidate,
    min_distance_violation,
)
from pymatgen_crystalnet.structure.config import StructureSolveConfig
from pymatgen_crystalnet.structure.formula_units import candidate_z, formula_unit, plausible_z
from pymatgen_crystalnet.structure.pipeline_steps import (
    MATCH_TOL,
    Clock,
    decode_all,
    grouped_reflections,
    interleave_sources,
    refine_one,
    rwp_key,
    scored_pool,
)
from pymatgen_crystalnet.structure.solution import StructureSolution
from pymatgen_crystalnet.structure.stick_match import check_target
from pymatgen_crystalnet.structure.stick_scoring import StickScorer

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

__all__ = ["StructureSolution", "interleave_sources", "solve_structures"]

logger = logging.getLogger(__name__)

#: Best trials kept per (space group, Z) of the search.
SEARCH_KEEP: int = 3
#: Share of the time left that the search may use (the rest is the refinement's).
SEARCH_SHARE: float = 0.5
#: Extracted intensities below this fraction of the strongest do not count as observed for the
#: space-group hypotheses: in measured data such weak peaks are as often an impurity, a Kβ or
#: W line or a tail misassigned by the fit as a reflection the group forbids.
EXTRACTED_MIN_INTENSITY: float = 0.01

def _fitting_groups(consistent: Sequence[Any], formula: Composition, z: list[int], lattice: Lattice,
                    config: StructureSolveConfig, solution: StructureSolution) -> list[int]:  # fmt: skip
    """The best ``n_hypotheses`` consistent groups whose Wyckoff positions can hold the composition."""
    from pymatgen_crystalnet.structure.search import composition_fits

    if not config.use_search or not z:
        return [h.number for h in consistent[: config.n_hypotheses]]
    chosen, unfit = [], []
    for h in consistent:
        if len(chosen) == config.n_hypotheses:
            break
        (chosen if composition_fits(h.number, formula, z, lattice) else unfit).append(h.number)
    if unfit:
        solution.notes.append(f"space groups {unfit} cannot hold the composition at Z = {z}: not searched")
    return chosen


def solve_structures(
    lattice: Lattice,
    composition: Composition | str | dict,
    two_theta: ArrayLike,
    intensities: ArrayLike,
    wavelength: float | str,
    *,
    densities: Sequence[ArrayLike] = (),
    density_lattice: Lattice | None = None,
    two_theta_range: tuple[float, float] | None = None,
    config: StructureSolveConfig | None = None,
    stick_groups: ArrayLike | None = None,
) -> StructureSolution:
    """Crystal structures that explain a stick pattern on a known cell, ranked by Rwp.

    Parameters
    ----------
    lattice
        The pattern's cell (pymatgen ``Lattice``, any setting); the structures are on it.
    composition
        Chemical formula (any multiple: its reduced formula is the formula unit; Z comes from
        ``config.z`` or the cell volume).
    two_theta, intensities
        The input sticks (degrees; any intensity scale).
    wavelength
        Å or a name such as ``"MoKa"``.
    densities
        Candidate densities (n³ grids, e/Å³) on ``density_lattice``, decoded into the pool when
        ``config.use_network``.
    density_lattice
        The densities' cell (the solver's canonical primitive cell); default ``lattice``. It
        must be related to ``lattice`` by an integer matrix in the same orientation.
    two_theta_range
        The 2θ range the measurement covered (default: first to last stick).
    config
        Settings (:class:`~.config.StructureSolveConfig`; default settings when None).
    stick_groups
        One group index per stick (in the order given) when the sticks are intensities
        extracted from a profile (:mod:`.pawley`): sticks of one group overlap in the profile
        and are compared as one (their sum), for the space-group hypotheses, the search's
        target, the scores and the refinement. A measured profile itself goes to
        :func:`.profile_pipeline.solve_structures_from_profile`.

    Returns
    -------
    StructureSolution
        Never raises for a bad pattern, density, composition or cell: ``reason`` says why no
        structure came out, ``failures`` why each attempt failed.
    """
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.structure.search import stick_target, symmetry_search
    from pymatgen_crystalnet.structure.spacegroups import reflections_from_sticks, space_group_hypotheses

    config = config or StructureSolveConfig()
    clock = Clock(config.time_budget_s)
    solution = StructureSolution()
    timings = solution.timings
    try:
        if not isinstance(lattice, Lattice):
            lattice = Lattice(np.asarray(lattice, dtype=float))
        lam = resolve_wavelength(wavelength)
        tt, y = check_target(two_theta, intensities)
        groups = None
        if stick_groups is not None:
            order = np.argsort(np.asarray(two_theta, dtype=float).ravel(), kind="stable")
            groups = np.asarray(stick_groups).ravel()[order]
            if groups.shape != tt.shape or not np.issubdtype(groups.dtype, np.integer) or np.any(groups < 0):
                raise ValueError("stick_groups must hold one non-negative integer per stick.")
        formula = formula_unit(composition)
        if two_theta_range is None:
            two_theta_range = (max(0.0, tt[0] - MATCH_TOL), min(TWO_THETA_MAX, tt[-1] + MATCH_TOL))
        dlat = lattice if density_lattice is None else density_lattice
        if not isinstance(dlat, Lattice):
            dlat = Lattice(np.asarray(dlat, dtype=float))
    except (ValueError, TypeError, KeyError) as exc:
        solution.reason = f"bad input: {exc}"
        return solution
    zs = candidate_z(formula, lattice.volume, z=config.z)
    if not zs.values:
        solution.reason = zs.reason or "no Z fits the cell"
        return solution

    decoded: list[StructureCandidate] = []
    if config.use_network:
        if len(densities) == 0:
            solution.notes.append("no density given: nothing decoded")
        decoded = decode_all(densities, dlat, lattice, formula, config, clock, solution)
    clock.lap(timings, "decode")

    if groups is None:
        reflections = reflections_from_sticks(tt, y, lam)
        tt_target, y_target = tt, y
    else:
        reflections, tt_target, y_target = grouped_reflections(tt, y, groups, lam)
    given = config.space_group_number
    hyp = space_group_hypotheses(
        lattice, reflections, decoded=decoded, space_groups=None if given is None else [given],
        **({} if groups is None else {"min_intensity": EXTRACTED_MIN_INTENSITY}),
    )  # fmt: skip
    solution.hypotheses = hyp.hypotheses
    if hyp.reason:
        solution.notes.append(hyp.reason)
    search_z: list[int] = [config.z] if config.z is not None else []
    if config.use_search and config.z is None:
        plausible = plausible_z(formula, lattice.volume)
        search_z = list(plausible.values)
        if plausible.reason:
            solution.notes.append(plausible.reason)
    if given is not None:
        chosen = [given]
    else:
        chosen = _fitting_groups(hyp.consistent, formula, search_z, lattice, config, solution)
    clock.lap(timings, "hypotheses")

    found: list[StructureCandidate] = list(decoded)
    if config.use_search:
        if not chosen:
            solution.skipped.append("search (no space group consistent with the reflections)")
        elif clock.out():
            solution.skipped.append("search (time budget)")
        else:
            target = stick_target(tt_target, y_target, lam, two_theta_range)
            res = symmetry_search(
                lattice,
                formula,
                target,
                chosen,
                z=search_z,
                n_trials=config.n_search_trials,
                keep=SEARCH_KEEP,
                seed=config.seed,
                b_factor=config.b_factor,
                time_budget_s=None if clock.budget is None else SEARCH_SHARE * (clock.remaining() or 0.0),
            )
            solution.searched = list(chosen)
            solution.failures.extend(res.failures)
            found.extend(res.candidates)
            if clock.out():
                solution.notes.append("the search may have stopped early (time budget)")
    clock.lap(timings, "search")

    scorer = StickScorer(tt, y, lam, two_theta_range, config.b_factor, MATCH_TOL, groups=groups)
    pool = scored_pool(found, scorer, solution)
    ranked = pool.ranked()
    clock.lap(timings, "pool")

    if config.refine and config.n_refine > 0:
        refined: list[StructureCandidate] = []
        order = interleave_sources(ranked)
        for k, cand in enumerate(order[: config.n_refine]):
            if clock.out():
                solution.skipped.append(
                    f"refinement of {min(config.n_refine, len(ranked)) - k} candidates (time budget); "
                    "they are returned unrefined"
                )
                refined.extend(order[k : config.n_refine])
                break
            out = refine_one(cand, tt, y, lam, two_theta_range, config, groups=groups)
            (refined if out.ok else solution.failures).append(out)
        final = CandidatePool(key=rwp_key)
        final.extend(sorted(refined, key=rwp_key))
        ranked = final.ranked()
        clock.lap(timings, "refine")

    keep = [c for c in ranked if c.structure is not None and min_distance_violation(c.structure) is None]
    solution.candidates = keep[: config.keep]
    timings["total"] = time.perf_counter() - clock.start
    if not solution.candidates:
        reasons = [r for r in [*solution.notes, *(f.reason for f in solution.failures)] if r]
        solution.reason = "no structure: " + ("; ".join(list(dict.fromkeys(reasons))[:6]) or "no candidate")
    logger.info(
        "solve_structures %s: %d candidates (%s), best Rwp %s, %.1f s",
        formula.reduced_formula,
        len(solution.candidates),
        ", ".join(sorted({c.source for c in solution.candidates})),
        f"{solution.candidates[0].rwp:.4f}" if solution.candidates else "-",
        timings["total"],
    )
    return solution

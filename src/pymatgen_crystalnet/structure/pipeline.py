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
from typing import TYPE_CHECKING

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

    reflections = reflections_from_sticks(tt, y, lam)
    given = config.space_group_number
    hyp = space_group_hypotheses(
        lattice, reflections, decoded=decoded, space_groups=None if given is None else [given]
    )
    solution.hypotheses = hyp.hypotheses
    if hyp.reason:
        solution.notes.append(hyp.reason)
    chosen = [given] if given is not None else [h.number for h in hyp.consistent[: config.n_hypotheses]]
    clock.lap(timings, "hypotheses")

    found: list[StructureCandidate] = list(decoded)
    if config.use_search:
        if not chosen:
            solution.skipped.append("search (no space group consistent with the reflections)")
        elif clock.out():
            solution.skipped.append("search (time budget)")
        else:
            target = stick_target(tt, y, lam, two_theta_range)
            search_z = config.z
            if search_z is None:
                plausible = plausible_z(formula, lattice.volume)
                search_z = list(plausible.values)
                if plausible.reason:
                    solution.notes.append(plausible.reason)
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

    scorer = StickScorer(tt, y, lam, two_theta_range, config.b_factor, MATCH_TOL)
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
            out = refine_one(cand, tt, y, lam, two_theta_range, config)
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

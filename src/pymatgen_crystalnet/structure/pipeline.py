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
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.units import TWO_THETA_MAX, resolve_wavelength
from pymatgen_crystalnet.structure.candidate_pool import (
    CandidatePool,
    StructureCandidate,
    default_matcher,
    min_distance_violation,
)
from pymatgen_crystalnet.structure.config import StructureSolveConfig
from pymatgen_crystalnet.structure.formula_units import candidate_z, formula_unit, plausible_z
from pymatgen_crystalnet.structure.solution import StructureSolution
from pymatgen_crystalnet.structure.stick_match import check_target
from pymatgen_crystalnet.structure.stick_scoring import PatternGatedMatcher, StickScorer

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

__all__ = ["StructureSolution", "solve_structures"]

logger = logging.getLogger(__name__)

#: 2θ tolerance (degrees) pairing computed reflections with the input sticks.
MATCH_TOL: float = 0.02
#: Random starts per refined candidate (the given coordinates and displaced copies).
REFINE_STARTS: int = 4
#: Best trials kept per (space group, Z) of the search.
SEARCH_KEEP: int = 3
#: Share of the time left that the search may use (the rest is the refinement's).
SEARCH_SHARE: float = 0.5


class _Clock:
    def __init__(self, budget: float | None) -> None:
        self.start = time.perf_counter()
        self.budget = budget
        self.last = self.start

    def out(self) -> bool:
        return self.budget is not None and time.perf_counter() - self.start > self.budget

    def remaining(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - (time.perf_counter() - self.start))

    def lap(self, timings: dict[str, float], stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - self.last
        self.last = now


def _decode_all(
    densities: Sequence[ArrayLike],
    density_lattice: Lattice,
    lattice: Lattice,
    formula: Composition,
    config: StructureSolveConfig,
    clock: _Clock,
    solution: StructureSolution,
) -> list[StructureCandidate]:
    from pymatgen_crystalnet.structure.decode import decode_density
    from pymatgen_crystalnet.structure.transfer import on_lattice

    z_density = None
    if config.z is not None:
        zz = config.z * density_lattice.volume / lattice.volume
        z_density = round(zz) if abs(zz - round(zz)) < 1e-3 and round(zz) >= 1 else None
    out: list[StructureCandidate] = []
    for i, grid in enumerate(densities):
        if clock.out():
            solution.skipped.append(f"decoding densities {i}–{len(densities) - 1} (time budget)")
            break
        result = decode_density(
            grid, density_lattice, formula, z=z_density, b_factor=config.b_factor, provenance={"sample": i}
        )
        solution.failures.extend(result.failures)
        for cand in result.candidates:
            assert cand.structure is not None
            try:
                cand.structure = on_lattice(cand.structure, lattice)
            except ValueError as exc:
                cand.reason = str(exc)
                cand.structure = None
                solution.failures.append(cand)
                continue
            out.append(cand)
    return out


def _pool(
    candidates: list[StructureCandidate], scorer: StickScorer, solution: StructureSolution
) -> CandidatePool:
    fingerprints: dict[int, NDArray[np.float64]] = {}
    scored: list[StructureCandidate] = []
    for cand in candidates:
        assert cand.structure is not None
        try:
            fig = scorer.score(cand.structure)
        except ValueError as exc:
            solution.failures.append(StructureCandidate.failure(str(exc), cand.source, **cand.provenance))
            continue
        cand.rwp, cand.r_bragg, cand.cosine, cand.b_factor = fig.rwp, fig.r_bragg, fig.cosine, scorer.b_factor
        cand.figures_of_merit.update({"stick_rwp": fig.rwp, "stick_cosine": fig.cosine})
        fingerprints[id(cand.structure)] = fig.fingerprint
        scored.append(cand)
    pool = CandidatePool(key=_rwp_key, matcher=PatternGatedMatcher(default_matcher(), fingerprints))
    pool.extend(sorted(scored, key=_rwp_key))
    return pool


def _rwp_key(c: StructureCandidate) -> tuple[float, float]:
    rwp = c.rwp if c.rwp is not None and np.isfinite(c.rwp) else np.inf
    return (float(rwp), -float(c.space_group_number or 0))


def _interleave_sources(ranked: list[StructureCandidate]) -> list[StructureCandidate]:
    """The pool's ranking taken in turns from each source (each source's own order kept).

    Before refinement a search trial with the right arrangement but random free parameters can
    have a worse stick Rwp than wrong models of another source; taking the sources in turns
    gives each its share of the refinements.
    """
    queues: dict[str, list[StructureCandidate]] = {}
    for cand in ranked:
        queues.setdefault(cand.source, []).append(cand)
    out: list[StructureCandidate] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                out.append(queue.pop(0))
    return out


def _refine_one(
    cand: StructureCandidate,
    tt: NDArray[np.float64],
    y: NDArray[np.float64],
    lam: float,
    two_theta_range: tuple[float, float],
    config: StructureSolveConfig,
) -> StructureCandidate:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from pymatgen_crystalnet.structure.refine import refine

    assert cand.structure is not None
    prov = {**cand.provenance, "unrefined_rwp": cand.rwp}
    try:
        res = refine(
            cand.structure,
            tt,
            y,
            lam,
            two_theta_range=two_theta_range,
            b_start=min(config.b_factor, 10.0),
            n_starts=REFINE_STARTS,
            match_tol=MATCH_TOL,
            seed=config.seed,
            device="cpu",
        )
    except ValueError as exc:
        return StructureCandidate.failure(f"refinement refused: {exc}", cand.source, **prov)
    if not res.accepted:
        return StructureCandidate.failure(f"refinement rejected: {res.message}", cand.source, **prov)
    why = min_distance_violation(res.structure)
    if why:
        return StructureCandidate.failure(f"refined model rejected: {why}", cand.source, **prov)
    try:
        sga = SpacegroupAnalyzer(res.structure, symprec=0.01)
        symbol, number = sga.get_space_group_symbol(), sga.get_space_group_number()
    except Exception:  # spglib failure: keep the parametrisation's symbol
        symbol, number = res.space_group, cand.space_group_number
    summary = {
        "start_rwp": res.start_rwp,
        "scale": res.scale,
        "n_free": res.n_free,
        "iterations": res.iterations,
        "converged": res.converged,
        "space_group_kept": res.space_group,
        "min_distance": res.contact.min_distance,
        "two_theta": res.two_theta.tolist(),
        "observed": res.observed.tolist(),
        "calculated": res.calculated.tolist(),
    }
    return StructureCandidate(
        structure=res.structure,
        space_group=symbol,
        space_group_number=number,
        source=cand.source,
        provenance=prov,
        figures_of_merit={
            **cand.figures_of_merit, "rwp": res.rwp, "r_bragg": res.r_bragg, "cosine": res.cosine
        },
        merged_from=list(cand.merged_from),
        rwp=res.rwp,
        r_bragg=res.r_bragg,
        cosine=res.cosine,
        b_factor=res.b_factor,
        refinement=summary,
    )


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
    clock = _Clock(config.time_budget_s)
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
        decoded = _decode_all(densities, dlat, lattice, formula, config, clock, solution)
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
    pool = _pool(found, scorer, solution)
    ranked = pool.ranked()
    clock.lap(timings, "pool")

    if config.refine and config.n_refine > 0:
        refined: list[StructureCandidate] = []
        order = _interleave_sources(ranked)
        for k, cand in enumerate(order[: config.n_refine]):
            if clock.out():
                solution.skipped.append(
                    f"refinement of {min(config.n_refine, len(ranked)) - k} candidates (time budget); "
                    "they are returned unrefined"
                )
                refined.extend(order[k : config.n_refine])
                break
            out = _refine_one(cand, tt, y, lam, two_theta_range, config)
            (refined if out.ok else solution.failures).append(out)
        final = CandidatePool(key=_rwp_key)
        final.extend(sorted(refined, key=_rwp_key))
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

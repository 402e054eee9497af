"""The stages of :func:`~pymatgen_crystalnet.structure.pipeline.solve_structures`.

A clock for the time budget, the decoding of densities onto the pattern's cell, the pool scored
against the sticks, the choice of candidates to refine and the refinement of one candidate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.structure.candidate_pool import (
    CandidatePool,
    StructureCandidate,
    default_matcher,
    min_distance_violation,
)
from pymatgen_crystalnet.structure.config import StructureSolveConfig
from pymatgen_crystalnet.structure.solution import StructureSolution
from pymatgen_crystalnet.structure.stick_scoring import PatternGatedMatcher, StickScorer

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

    from pymatgen_crystalnet.structure.spacegroups import ObservedReflections

__all__ = ["MATCH_TOL", "REFINE_STARTS", "Clock", "decode_all", "grouped_reflections", "interleave_sources",
           "refine_one", "rwp_key", "scored_pool"]

#: 2θ tolerance (degrees) pairing computed reflections with the input sticks.
MATCH_TOL: float = 0.02
#: Random starts per refined candidate (the given coordinates and displaced copies).
REFINE_STARTS: int = 4


class Clock:
    """Wall-clock budget: ``out()`` once spent, ``lap()`` adds the time since the last lap."""

    def __init__(self, budget: float | None) -> None:
        self.start = time.perf_counter()
        self.budget = budget
        self.last = self.start

    def out(self) -> bool:
        """Whether the budget is spent."""
        return self.budget is not None and time.perf_counter() - self.start > self.budget

    def remaining(self) -> float | None:
        """Seconds left (None: no budget)."""
        return None if self.budget is None else max(0.0, self.budget - (time.perf_counter() - self.start))

    def lap(self, timings: dict[str, float], stage: str) -> None:
        """Add the seconds since the last lap to ``timings[stage]``."""
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - self.last
        self.last = now


def decode_all(
    densities: Sequence[ArrayLike],
    density_lattice: Lattice,
    lattice: Lattice,
    formula: Composition,
    config: StructureSolveConfig,
    clock: Clock,
    solution: StructureSolution,
) -> list[StructureCandidate]:
    """Decode every density on its lattice; the models written on the pattern's cell.

    Failures (and models that cannot be written on the pattern's cell) go to
    ``solution.failures``; densities left when the budget is spent are listed as skipped.
    """
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


def grouped_reflections(
    tt: NDArray[np.float64], y: NDArray[np.float64], groups: NDArray[np.int64], lam: float,
    tolerance_deg: float = 0.05,
) -> tuple[ObservedReflections, NDArray[np.float64], NDArray[np.float64]]:
    """Observed reflections of grouped sticks, and the groups as sticks (weighted 2θ, summed intensity).

    A group is one observed reflection at its intensity-weighted 2θ, with the position
    tolerance widened by half the group's span (any reflection of the group may carry the
    intensity): the space-group hypotheses then never call a group a violation because of how
    overlapped intensities were split.
    """
    from pymatgen_crystalnet.structure.spacegroups import ObservedReflections

    _, g = np.unique(groups, return_inverse=True)
    n = int(g.max()) + 1
    total = np.bincount(g, weights=y, minlength=n)
    mean = np.bincount(g, weights=tt, minlength=n) / np.bincount(g, minlength=n)
    weighted = np.bincount(g, weights=tt * y, minlength=n)
    centre = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), mean)
    lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(lo, g, tt)
    np.maximum.at(hi, g, tt)
    half_span = np.maximum(hi - centre, centre - lo)
    theta = np.radians(centre / 2)
    q = 2 * np.sin(theta) / lam
    tol = 2 * np.cos(theta) / lam * np.radians((tolerance_deg + half_span) / 2)
    return ObservedReflections(q, total, np.maximum(tol, 1e-6)), centre, total


def scored_pool(
    candidates: list[StructureCandidate], scorer: StickScorer, solution: StructureSolution
) -> CandidatePool:
    """Every model scored against the sticks (Rwp, R_Bragg, cosine), in one de-duplicated pool."""
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
    pool = CandidatePool(key=rwp_key, matcher=PatternGatedMatcher(default_matcher(), fingerprints))
    pool.extend(sorted(scored, key=rwp_key))
    return pool


def rwp_key(c: StructureCandidate) -> tuple[float, float]:
    """Ranking key: lowest Rwp first, then the more symmetric."""
    rwp = c.rwp if c.rwp is not None and np.isfinite(c.rwp) else np.inf
    return (float(rwp), -float(c.space_group_number or 0))


def interleave_sources(ranked: list[StructureCandidate]) -> list[StructureCandidate]:
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


def refine_one(
    cand: StructureCandidate,
    tt: NDArray[np.float64],
    y: NDArray[np.float64],
    lam: float,
    two_theta_range: tuple[float, float],
    config: StructureSolveConfig,
    groups: NDArray[np.int64] | None = None,
) -> StructureCandidate:
    """The refined candidate, or a failure saying why the refinement was refused or rejected.

    ``groups``: one group index per stick of ``tt`` (extracted intensities, :mod:`.stick_match`).
    """
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
            groups=groups,
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

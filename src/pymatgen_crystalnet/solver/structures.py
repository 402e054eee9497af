"""The solver's structure step: from the candidate densities to refined crystal structures.

After the densities are predicted and verified, :func:`solve_candidate_structures` hands them,
with the input's peaks, the cell and the formula, to
:func:`pymatgen_crystalnet.structure.pipeline.solve_structures` (decoding of every density, a
symmetry-constrained search, refinement, ranking by Rwp), and turns its answer into the result's
objects: :class:`~pymatgen_crystalnet.solver.result.SolvedStructure` for each structure (best Rwp
first, search models included), and for each candidate density the best structure it led to (its
own decoded model, or the model its decoded model was merged with) or the reason it led to none.

The pipeline works on the pattern's conventional cell (so ``z`` counts formula units in the cell
a crystallographer quotes: 4 for rock salt); the densities live on the model's primitive cell.

A measured profile (``prepared.kind == "profile"``) goes to
:func:`pymatgen_crystalnet.structure.profile_pipeline.solve_structures_from_profile` when
``config.profile_fit``: intensities extracted by a Pawley fit replace the picked peaks, and the
best structures are Rietveld-refined against the profile (their fitted profile is in
``SolvedStructure.fit``). If the profile fit is refused or fails, the picked peaks are used and
a note says why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from monty.json import jsanitize

from pymatgen_crystalnet.solver.result import Candidate, SolvedStructure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Composition, Lattice

    from pymatgen_crystalnet.solver.inputs import PreparedPattern
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

__all__ = ["pattern_cell", "solve_candidate_structures", "structure_formula"]

logger = logging.getLogger(__name__)

#: Arrays of a refinement summary that make the fit (drawn in the Rietveld figure): the stick fit,
#: and the Rietveld profile fit when there is one.
_FIT_KEYS = ("two_theta", "observed", "calculated", "profile_two_theta", "profile_observed",
             "profile_calculated", "profile_background", "reflections")  # fmt: skip
#: Figures of merit of a Rietveld-refined structure carried into ``SolvedStructure.figures_of_merit``.
_PROFILE_FIGURES = ("profile_rwp", "profile_rexp", "stick_rwp", "stick_r_bragg")


def structure_formula(composition: Any, mode: str) -> tuple[Composition | None, str | None]:
    """The formula the structure step needs (ratios known), or None with the reason."""
    from pymatgen.core import Composition

    if composition is None or mode != "full":
        return None, "a crystal structure needs the chemical formula (with its ratios); none was given"
    try:
        comp = Composition(composition)
    except (ValueError, TypeError, KeyError) as exc:
        return None, f"the composition {composition!r} is not a formula ({exc})"
    if comp.num_atoms <= 0:
        return None, f"the composition {composition!r} has no atoms"
    return comp, None


def pattern_cell(cell: Lattice, info: dict[str, Any]) -> Lattice:
    """The conventional cell of the pattern when the solver knows it, else ``cell`` itself.

    A cubic cell found by indexing (or a cubic ``a`` given) is centred (``info["centring"]``):
    the cubic cell of ``n`` lattice points (F: 4, I: 2) in the orientation of the primitive
    one, checked to be related to it by an integer matrix. Any other cell is used as given.
    """
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.indexing.solution import LATTICE_POINTS

    for key in ("conventional_lattice", "user_lattice"):
        if info.get(key) is not None:
            given = info[key]
            return given if isinstance(given, Lattice) else Lattice(np.asarray(given, dtype=float))
    centring = info.get("centring")
    if centring not in LATTICE_POINTS or LATTICE_POINTS[centring] == 1:
        return cell
    a = (cell.volume * LATTICE_POINTS[centring]) ** (1 / 3)
    cubic = Lattice.cubic(a)
    m = cubic.matrix @ np.linalg.inv(cell.matrix)
    if np.allclose(m, np.round(m), atol=1e-3):
        return cubic
    logger.debug("The %s-centred cubic cell is not an integer multiple of %s; using it as is", centring, cell)
    return cell


def _peaks(prepared: PreparedPattern) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
    """The input's peaks at its wavelength and the 2θ range its data cover (profiles)."""
    tt = np.asarray(prepared.two_theta, dtype=float)
    y = np.asarray(prepared.intensity, dtype=float)
    keep = np.isfinite(tt)
    tt, y = tt[keep], y[keep]
    order = np.argsort(tt)
    rng = None
    if prepared.kind == "profile":
        lo, hi = prepared.two_theta_range
        rng = (min(lo, float(tt.min())), max(hi, float(tt.max())))
    return tt[order], y[order], rng


def _samples_of(cand: Any) -> tuple[int | None, list[int]]:
    own = cand.provenance.get("sample") if str(cand.source).startswith("network") else None
    merged = [
        int(m["sample"])
        for m in cand.merged_from
        if str(m.get("source", "")).startswith("network") and m.get("sample") is not None
    ]
    return (None if own is None else int(own)), sorted(set(merged) - {own})


def _fit_arrays(refinement: dict[str, Any] | None) -> dict[str, Any]:
    if not refinement:
        return {}
    return {k: np.asarray(refinement[k], dtype=float) for k in _FIT_KEYS if refinement.get(k) is not None}


def _solved(cand: Any, rank: int) -> SolvedStructure:
    sample, merged = _samples_of(cand)
    foms = {k: getattr(cand, k, None) for k in ("rwp", "r_bragg", "cosine")}
    # a Rietveld-refined structure: its rwp is the profile's; the stick figures are kept beside it
    foms.update({k: v for k, v in cand.figures_of_merit.items() if k in _PROFILE_FIGURES})
    foms = {k: float(v) for k, v in foms.items() if v is not None and np.isfinite(v)}
    refinement = getattr(cand, "refinement", None)
    summary = {k: v for k, v in (refinement or {}).items() if k not in _FIT_KEYS}
    provenance = {
        **cand.provenance,
        "source": cand.source,
        "b_factor": getattr(cand, "b_factor", None),
        "refinement": summary or None,
    }
    return SolvedStructure(
        structure=cand.structure,
        space_group=cand.space_group,
        space_group_number=cand.space_group_number,
        origin="network" if str(cand.source).startswith("network") else str(cand.source),
        sample=sample,
        figures_of_merit=foms,
        rank=rank,
        refined=refinement is not None,
        merged_samples=merged,
        provenance=jsanitize(provenance, strict=True),
        fit=_fit_arrays(refinement),
    )


def _sample_reason(sample: int, failures: Sequence[Any], kept: int, reason: str | None) -> str:
    if reason:
        return reason
    own = [f.reason for f in failures if f.provenance.get("sample") == sample and f.reason]
    if own:
        return own[0]
    return f"its decoded models ranked below the {kept} structures kept"


def solve_candidate_structures(
    candidates: list[Candidate],
    cell: Lattice,
    info: dict[str, Any],
    prepared: PreparedPattern,
    composition: Any,
    composition_mode: str,
    config: StructureSolveConfig,
) -> tuple[list[SolvedStructure], dict[str, Any]]:
    """Solve the structures of a pattern from its candidate densities; attach them to the candidates.

    Parameters
    ----------
    candidates
        The solve's candidates (their ``solution`` and ``structure_reason`` are set here).
    cell, info
        The densities' cell and what the solver found about it (``centring``, …).
    prepared
        The input pattern (peaks at its wavelength, covered range).
    composition, composition_mode
        What the user gave, and the mode the solver inferred (``"full"`` is needed).
    config
        The structure step's settings.

    Returns
    -------
    structures, structure_info
        The structures, best Rwp first, and how they were found (``reason`` when none).
    """
    from pymatgen_crystalnet.structure.pipeline import solve_structures

    formula, why = structure_formula(composition, composition_mode)
    if formula is None:
        for c in candidates:
            c.structure_reason = why
        return [], {"reason": why}
    lattice = pattern_cell(cell, info)
    by_sample = sorted(candidates, key=lambda c: c.sample)
    densities = [c.grid for c in by_sample] if config.use_network else ()
    solution, unused = None, None
    if prepared.kind == "profile" and prepared.profile is not None and config.profile_fit:
        from pymatgen_crystalnet.structure.profile_pipeline import solve_structures_from_profile

        solution = solve_structures_from_profile(
            lattice, formula, prepared.profile, wavelength=prepared.profile.wavelength or prepared.wavelength,
            densities=densities, density_lattice=cell, config=config,
        )  # fmt: skip
        fit = solution.profile_fit or {}
        if not fit.get("ok") or (solution.reason or "").startswith("profile fit"):
            unused = solution.reason or fit.get("message") or "no profile fit"
            solution = None
    if solution is None:
        tt, y, rng = _peaks(prepared)
        solution = solve_structures(
            lattice, formula, tt, y, prepared.wavelength, densities=densities, density_lattice=cell,
            two_theta_range=rng, config=config,
        )  # fmt: skip
        if unused:
            solution.notes.insert(0, f"the profile fit was not used ({unused}); the picked peaks were")
    if [c.sample for c in by_sample] != list(range(len(by_sample))):
        raise ValueError("The candidates' samples must be 0 … n-1.")
    structures = [_solved(c, rank) for rank, c in enumerate(solution.candidates)]
    for cand in candidates:
        mine = [s for s in structures if cand.sample in s.samples]
        cand.solution = mine[0] if mine else None
        cand.structure_reason = None if mine else _sample_reason(
            cand.sample, solution.failures, len(structures), solution.reason
        )
    full = solution.as_dict()
    structure_info = {
        "formula": formula.reduced_formula,
        "cell": lattice.matrix.tolist(),
        "config": {k: v for k, v in config.as_dict().items() if not k.startswith("@")},
        "reason": solution.reason,
        "hypotheses": full.get("hypotheses", [])[:10],
        "searched": full.get("searched", []),
        "timings": full.get("timings", {}),
        "skipped": full.get("skipped", []),
        "notes": full.get("notes", []),
        "profile_fit": full.get("profile_fit"),
        "failures": [{"source": f.get("source"), "sample": (f.get("provenance") or {}).get("sample"),
                      "reason": f.get("reason")} for f in full.get("failures", [])][:30],
    }  # fmt: skip
    logger.info(
        "Structures: %d (best %s), %.1f s",
        len(structures),
        structures[0].describe() if structures else solution.reason,
        structure_info["timings"].get("total", float("nan")),
    )
    return structures, jsanitize(structure_info, strict=True)

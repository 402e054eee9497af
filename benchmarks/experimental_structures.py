"""Structure solution from the 15 measured IUCr Rietveld profiles, cell and composition given.

Data: ``../shared/data/experimental/iucr_rietveld/*.rtv.combined.cif``. For each file the input is
the measured profile with its wavelength (``io.patterns.read_profile``), the refined cell of the
CIF's structure (``CifParser(...).parse_structures(primitive=False)[0]``; the first phase of a
two-phase file) and that structure's composition — never its positions. Z and the space group
are found by the pipeline.

Path:

- cubic and trigonal crystals (the systems the bundled network covers): the solver
  (``CrystalNetSolver.from_pretrained(model).solve(profile, formula, lattice=cell,
  structures=config)``), i.e. the network's densities decoded and pooled with the symmetry
  search, all fed by the Pawley-extracted intensities and Rietveld-refined (``solver.structures``
  → ``structure.profile_pipeline``); when the solver finds no density solution (its cosine
  threshold), the search alone is run;
- every other system: ``structure.profile_pipeline.solve_structures_from_profile`` with the
  search alone (``use_network=False``).

Reported per pattern: crystal system, true space group (spglib, 0.01 Å) and the top-1 structure's,
whether pymatgen's ``StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)`` matches the refined
structure at top-1 and within the top 5 (and, for diagnosis, the same with species ignored:
X-rays hardly tell K from Ca or O from F), the Pawley fit's Rwp (and Rexp), the top-1 structure's
Rietveld Rwp and R_Bragg, the wall time, the groups searched and the Z tried. One torch thread.

Run (about 25 min on one core)::

    PYTHONPATH=src python benchmarks/experimental_structures.py --budget 90 \\
        --out benchmarks/results/experimental_structures.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "experimental" / "iucr_rietveld"
NETWORK_SYSTEMS = ("cubic", "trigonal")


def matcher(framework: bool = False):
    """MP-20 tolerances; ``framework``: species ignored (sites only)."""
    from pymatgen.analysis.structure_matcher import FrameworkComparator, StructureMatcher

    extra = {"comparator": FrameworkComparator()} if framework else {}
    return StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10, **extra)


def load(path: Path):
    from pymatgen.io.cif import CifParser

    from pymatgen_crystalnet.io.patterns import read_profile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = CifParser(str(path)).parse_structures(primitive=False)[0]
    return read_profile(path), truth


def _fit_summary(candidates: list[Any]) -> dict[str, Any]:
    if not candidates:
        return {}
    best = candidates[0]
    fom = best.figures_of_merit
    return {
        "space_group": best.space_group,
        "rietveld_rwp": fom.get("profile_rwp"),
        "r_bragg": fom.get("r_bragg") if "profile_rwp" in fom else None,
        "stick_rwp": fom.get("stick_rwp", fom.get("rwp")),
        "source": getattr(best, "source", None) or getattr(best, "origin", None),
    }


def run_one(path: Path, budget: float, solver: Any, seed: int) -> dict[str, Any]:
    import torch
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from pymatgen_crystalnet.structure.config import StructureSolveConfig
    from pymatgen_crystalnet.structure.formula_units import formula_unit, plausible_z
    from pymatgen_crystalnet.structure.profile_pipeline import solve_structures_from_profile

    torch.set_num_threads(1)
    profile, truth = load(path)
    sga = SpacegroupAnalyzer(truth, symprec=0.01)
    system = sga.get_crystal_system()
    formula = truth.composition.reduced_formula
    fu = formula_unit(formula)
    row: dict[str, Any] = {
        "file": path.name.split(".")[0],
        "formula": formula,
        "system": system,
        "true_space_group": f"{sga.get_space_group_symbol()} ({sga.get_space_group_number()})",
        "true_number": sga.get_space_group_number(),
        "n_sites": len(truth),
        "z_true": round(len(truth) / fu.num_atoms, 3),
        "z_tried": list(plausible_z(fu, truth.lattice.volume).values),
        "wavelength": profile.wavelength,
        "points": len(profile),
        "two_theta": [float(profile.two_theta[0]), float(profile.two_theta[-1])],
    }
    config = StructureSolveConfig(time_budget_s=budget, seed=seed, keep=5)
    start = time.perf_counter()
    structures, info = [], {}
    path_used = "search"
    if solver is not None and system in NETWORK_SYSTEMS:
        res = solver.solve(profile, formula, lattice=truth.lattice, structures=config, seed=seed)
        structures = [s.structure for s in res.structures]
        cands = list(res.structures)
        info = dict(res.structure_info)
        path_used = "network + search"
        if not structures:
            row["network_note"] = info.get("reason") or res.reason
    if not structures:
        search_only = dataclasses.replace(config, use_network=False)
        sol = solve_structures_from_profile(truth.lattice, formula, profile, config=search_only)
        cands = sol.candidates
        structures = [c.structure for c in cands]
        info = sol.as_dict()
        path_used = "search" if path_used == "search" else "search (network gave no solution)"
    row["seconds"] = round(time.perf_counter() - start, 1)
    m, frame = matcher(), matcher(framework=True)
    hits = [bool(m.fit(s, truth)) for s in structures[:5]]
    frame_hits = [bool(frame.fit(s, truth)) for s in structures[:5]]
    fit = info.get("profile_fit") or {}
    hyp = info.get("hypotheses") or []
    row.update(
        path=path_used,
        top1=bool(hits[:1] and hits[0]),
        top5=any(hits),
        framework_top1=bool(frame_hits[:1] and frame_hits[0]),
        framework_top5=any(frame_hits),
        structures=[s.as_dict() for s in structures[:5]],
        n_structures=len(structures),
        pawley_rwp=fit.get("rwp"),
        pawley_rexp=fit.get("rexp"),
        lines=fit.get("lines"),
        searched=info.get("searched"),
        true_group_rank=next((k for k, h in enumerate(hyp) if h.get("number") == row["true_number"]), None),
        true_group_searched=row["true_number"] in (info.get("searched") or []),
        reason=info.get("reason"),
        notes=(info.get("notes") or [])[:4],
        **_fit_summary(cands),
    )
    return row


def table(rows: list[dict[str, Any]]) -> str:
    def f(v: Any, fmt: str = "{:.3f}") -> str:
        return "–" if v is None else fmt.format(v)

    head = ("| file | formula | system | sites | SG true | SG found (top-1) | top-1 | top-5 | sites only "
            "| Pawley Rwp (Rexp) | Rietveld Rwp | R_Bragg | s | path |")  # fmt: skip
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        lines.append(
            f"| {r['file']} | {r['formula']} | {r['system']} | {r['n_sites']} | {r['true_space_group']} "
            f"| {r.get('space_group') or '–'} | {'yes' if r['top1'] else 'no'} "
            f"| {'yes' if r['top5'] else 'no'} | {'yes' if r['framework_top5'] else 'no'} "
            f"| {f(r['pawley_rwp'])} ({f(r['pawley_rexp'])}) | {f(r.get('rietveld_rwp'))} "
            f"| {f(r.get('r_bragg'))} | {r['seconds']:.0f} | {r['path']} |"
        )
    n = len(rows)
    lines.append(f"\ntop-1 {sum(r['top1'] for r in rows)}/{n}, top-5 {sum(r['top5'] for r in rows)}/{n}, "
                 f"sites only (species ignored) top-5 {sum(r['framework_top5'] for r in rows)}/{n}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=90.0, help="structure-step budget (s) per pattern")
    parser.add_argument("--model", default="small-cubic-trigonal", help="bundled model, or 'none'")
    parser.add_argument("--files", nargs="*", default=None, help="substrings of the file names to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the rows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(1)
    solver = None
    if args.model != "none":
        from pymatgen_crystalnet.solver.solver import CrystalNetSolver

        solver = CrystalNetSolver.from_pretrained(args.model, device="cpu")
    files = sorted(DATA.glob("*.cif"))
    if args.files:
        files = [p for p in files if any(s in p.name for s in args.files)]
    rows = []
    for path in files:
        row = run_one(path, args.budget, solver, args.seed)
        brief = ("file", "top1", "top5", "space_group", "rietveld_rwp", "seconds")
        print(json.dumps({k: row[k] for k in brief if k in row}), flush=True)
        rows.append(row)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"budget_s": args.budget, "model": args.model, "rows": rows},
                                           indent=1, default=_json))  # fmt: skip
    print(table(rows))


def _json(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of ``index_pattern`` on simulated stick patterns of the corpus's test split.

Selection (deterministic): crystals of the bundled corpus (``../shared/data``) with at most
20 sites that fall in the hash-based test split of ``data/splits.py`` (known-stable crystals
whose ``group_uniform(formula|space group)`` is below the default test fraction, 0.05) — the
split every crystal system has, independent of the paper's ``seed_split`` lists, which cover
cubic and trigonal only. If a system has fewer than ``--per-system`` such crystals, stable or
unknown-stability crystals are added in the same hash order. Per system the first
``--per-system`` by hash order are used.

Pattern: pymatgen ``XRDCalculator("CuKa")`` on the conventional standard structure, lines with
relative intensity ≥ 1 %, sticks closer than 0.02° merged (not resolvable), the first
``--lines`` lines, each moved by N(0, ``--sigma``) and all by one zero shift drawn from
U(−``--zero``, ``--zero``) (seeded per crystal).

Success: the top-ranked cell and the true cell have the same reduced cell: either the found
conventional cell and the true conventional cell, or the found primitive cell (the conventional
cell reduced by the centring found) and the true primitive cell, have equal volumes within
0.9 % and Niggli cells that map onto each other within 0.3 % in lengths and 0.3° in angles.
(The volume test matters: ``Lattice.find_mapping`` alone also accepts a cell whose lattice
merely *contains* the true one, such as a sub-cell.)

A found cell that is not the true one but a sub-cell of it (its lattice contains the true
lattice) is counted apart (``sub_cell``): the lines that would show the larger cell are then
usually missing from the simulated pattern (below the 1 % cut), so no indexer could tell.

``--formula`` (default) passes the crystal's formula to ``index_pattern`` as ``composition``,
as users of the package give it; ``--no-formula`` indexes from positions alone.

Seconds are CPU seconds of ``index_pattern`` (``time.process_time``); run with one thread
(``OMP_NUM_THREADS=1``) to measure one core. ``--max-seconds`` is a wall-clock limit per pattern.

Run::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/indexing.py --per-system 30 \
        --out benchmarks/results/indexing_simulated.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/indexing.py \
        --iucr ../shared/data/experimental/iucr_rietveld --out benchmarks/results/indexing_iucr.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pymatgen_crystalnet.data.splits import group_key, group_uniform
from pymatgen_crystalnet.indexing import index_pattern

sys.path.insert(0, str(Path(__file__).parent))
from _corpus import DEFAULT_CORPUS

SYSTEMS = ("cubic", "tetragonal", "hexagonal", "trigonal", "orthorhombic", "monoclinic", "triclinic")
SALT = "crystalnet-split-v1"


def select(corpus: Path, per_system: int, systems: tuple[str, ...]) -> dict[str, list[dict]]:
    test: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    extra: dict[str, list[tuple[float, dict]]] = defaultdict(list)
    with gzip.open(corpus, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            sysname = rec["crystal_system"]
            if sysname not in systems or rec["nsites"] > 20:
                continue
            u = group_uniform(group_key(rec["formula"], rec["spacegroup_number"]), SALT)
            ehull = rec.get("e_above_hull")
            if ehull is not None and ehull <= 1e-6 and u < 0.05:
                test[sysname].append((u, rec))
            elif ehull is None or ehull <= 1e-6:
                extra[sysname].append((u, rec))
    out = {}
    for s in systems:
        chosen = [r for _, r in sorted(test[s], key=lambda t: t[0])]
        if len(chosen) < per_system:
            chosen += [r for _, r in sorted(extra[s], key=lambda t: t[0])][: per_system - len(chosen)]
        out[s] = chosen[:per_system]
    return out


def simulate(structure: Structure, rng: np.random.Generator, lines: int, sigma: float, zero_max: float):
    sga = SpacegroupAnalyzer(structure, symprec=0.1)
    conv = sga.get_conventional_standard_structure()
    prim = sga.get_primitive_standard_structure().lattice
    pat = XRDCalculator("CuKa").get_pattern(conv, two_theta_range=(3, 150))
    x, y = np.asarray(pat.x), np.asarray(pat.y)
    keep = y >= 1.0
    x, y = x[keep], y[keep]
    merged = [[x[0], y[0]]]
    for xi, yi in zip(x[1:], y[1:], strict=True):
        if xi - merged[-1][0] < 0.02:
            w = merged[-1][1] + yi
            merged[-1] = [(merged[-1][0] * merged[-1][1] + xi * yi) / w, w]
        else:
            merged.append([xi, yi])
    tt = np.array([m[0] for m in merged])[:lines]
    zero = rng.uniform(-zero_max, zero_max)
    return conv.lattice, prim, np.sort(tt + rng.normal(0, sigma, tt.size) + zero), zero


def same_cell(a, b, ltol=0.003, atol=0.3) -> bool:
    """Same lattice: volumes within 3·ltol and Niggli cells mapping within ltol / atol (degrees)."""
    if abs(a.volume - b.volume) > 3 * ltol * max(a.volume, b.volume):
        return False
    na, nb = a.get_niggli_reduced_lattice(), b.get_niggli_reduced_lattice()
    return na.find_mapping(nb, ltol=ltol, atol=atol) is not None


def same_solution(sol, conv, prim) -> bool:
    """The found cell is the true one: as conventional cells, or as primitive cells."""
    return same_cell(sol.lattice, conv) or same_cell(sol.primitive_lattice, prim)


def sub_cell(sol, prim, ltol=0.003, atol=0.3) -> bool:
    """The found primitive cell is smaller than the true one and its lattice contains the true
    lattice: a sub-cell, as found when the lines that would show the true cell are missing
    (below the intensity cut) or leave too few traces."""
    found = sol.primitive_lattice
    if found.volume > (1 - 3 * ltol) * prim.volume:
        return False
    nf, nt = found.get_niggli_reduced_lattice(), prim.get_niggli_reduced_lattice()
    return nf.find_mapping(nt, ltol=ltol, atol=atol) is not None


def refined_cell(path: Path):
    """The refined cell of an IUCr Rietveld CIF (its first structure) and that structure's
    primitive cell; ``(None, None)`` when the CIF holds no readable structure."""
    from pymatgen.io.cif import CifParser

    try:
        structure = CifParser(str(path)).parse_structures(primitive=False)[0]
    except (ValueError, IndexError):
        return None, None
    return structure.lattice, structure.get_primitive_structure().lattice


def run_iucr(folder: Path, max_seconds: float) -> list[dict]:
    """Index every measured IUCr profile and compare with its refined cell."""
    from pymatgen_crystalnet.indexing import peaks_from_profile
    from pymatgen_crystalnet.io.patterns import read_profile

    rows = []
    for path in sorted(folder.glob("*.cif")):
        truth, truth_prim = refined_cell(path)
        row: dict = {"file": path.name, "refined": [round(v, 4) for v in truth.parameters] if truth else None}
        try:
            profile = read_profile(path)
            peaks = peaks_from_profile(profile, max_lines=25)
            t0 = time.process_time()
            sols = index_pattern(peaks, peaks.wavelength, max_seconds=max_seconds)
            row["seconds"] = round(time.process_time() - t0, 2)
            row["wavelength"] = peaks.wavelength
            row["n_peaks"] = len(peaks)
            row["notes"] = peaks.notes
            row["found"] = sols[0].summary() if sols else "no cell"
            row["correct"] = bool(sols) and truth is not None and same_solution(sols[0], truth, truth_prim)
            row["rank_of_true"] = next(
                (i + 1 for i, s in enumerate(sols) if truth and same_solution(s, truth, truth_prim)), None
            )
        except ValueError as exc:
            row["found"], row["correct"] = f"error: {exc}", False
        rows.append(row)
        print(
            f"{path.name:42s} {'OK ' if row['correct'] else 'BAD'} refined {row['refined']}\n"
            f"{'':42s}     found   {row['found']}  (true cell at rank {row.get('rank_of_true')})",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--per-system", type=int, default=30)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--lines", type=int, default=25)
    ap.add_argument("--sigma", type=float, default=0.015)
    ap.add_argument("--zero", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="wall-clock limit per pattern")
    ap.add_argument(
        "--formula",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give index_pattern the crystal's formula (as users of the package do; default)",
    )
    ap.add_argument("--iucr", type=Path, default=None, help="index the profiles of this folder instead")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    if args.iucr is not None:
        rows = run_iucr(args.iucr, args.max_seconds)
        print(f"\n{sum(r['correct'] for r in rows)} of {len(rows)} indexed to their refined cell")
        if args.out:
            args.out.write_text(json.dumps({"iucr": rows}, indent=1))
        return 0
    systems = tuple(args.systems.split(","))
    picked = select(args.corpus, args.per_system, systems)
    rows = []
    for sysname in systems:
        for i, rec in enumerate(picked[sysname]):
            rng = np.random.default_rng([args.seed, i, SYSTEMS.index(sysname)])
            structure = Structure.from_str(rec["cif"], fmt="cif")
            lattice, prim, tt, zero = simulate(structure, rng, args.lines, args.sigma, args.zero)
            t0 = time.process_time()
            try:
                formula = rec["formula"] if args.formula else None
                sols = index_pattern(tt, "CuKa", max_seconds=args.max_seconds, composition=formula)
                err = None
            except ValueError as exc:
                sols, err = [], str(exc)
            dt = time.process_time() - t0
            ok = bool(sols) and same_solution(sols[0], lattice, prim)
            sub = bool(sols) and not ok and sub_cell(sols[0], prim)
            row = {
                "material_id": rec["material_id"],
                "formula": rec["formula"],
                "system": sysname,
                "spacegroup": rec["spacegroup_number"],
                "n_lines": int(tt.size),
                "true_abc": [round(v, 4) for v in lattice.parameters],
                "found": sols[0].summary() if sols else err,
                "correct": ok,
                "sub_cell": sub,
                "rank_of_true": next(
                    (j + 1 for j, x in enumerate(sols) if same_solution(x, lattice, prim)), None
                ),
                "seconds": round(dt, 3),
                "zero": round(zero, 4),
                "z": sols[0].z if sols else None,
            }
            rows.append(row)
            flag = "OK " if ok else ("SUB" if sub else "BAD")
            print(f"{sysname:12s} {rec['material_id']:12s} {flag} {dt:6.2f}s  {row['found']}", flush=True)
    print("\nsystem        n  correct  rate   sub-cells  mean s  median s  max s")
    summary = {}
    for sysname in systems:
        r = [x for x in rows if x["system"] == sysname]
        if not r:
            continue
        c = sum(x["correct"] for x in r)
        sub = sum(x["sub_cell"] for x in r)
        secs = [x["seconds"] for x in r]
        summary[sysname] = {
            "n": len(r),
            "correct": c,
            "rate": c / len(r),
            "sub_cells": sub,
            "mean_s": float(np.mean(secs)),
            "median_s": float(np.median(secs)),
            "max_s": float(np.max(secs)),
        }
        print(
            f"{sysname:12s} {len(r):3d} {c:6d}  {c / len(r):6.1%} {sub:6d}    {np.mean(secs):7.2f}"
            f" {np.median(secs):7.2f} {np.max(secs):7.1f}"
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary, "rows": rows},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

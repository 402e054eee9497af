"""Evaluation speed: batched torch scores vs the scikit-image loop, and ``solve()`` latency.

1. Scoring one crystal with the paper's protocol: k latent samples (5) × the 24 rotations of
   the 50³ grid, best per score. Timed for the batched torch path
   (:func:`pymatgen_crystalnet.scoring.alignment.aligned_scores`, rotation-only and
   translation-aware) on every available device, and for the scikit-image loop
   (:func:`~pymatgen_crystalnet.scoring.reference.reference_scores`: ``structural_similarity``
   and ``peak_signal_noise_ratio`` per rotation and sample) in the same run; the ratio and the
   largest difference between the two are printed. Truths are IAM densities of crystals of
   ``tests/data/mp_sample.jsonl`` on their primitive cell; the "samples" are other crystals'
   densities with noise (the time does not depend on the values).
2. ``CrystalNetSolver.solve()`` latency for 5 candidates at 50³ (prediction, forward
   verification of each candidate, ranking) on the NaCl pattern, with the bundled model when
   the package has one, else a randomly initialised ``small`` preset (said in the output).

Usage::

    python benchmarks/bench_evaluation.py                  # CPU (+ CUDA when present)
    python benchmarks/bench_evaluation.py --threads 2 --crystals 3 --repeats 3
    python benchmarks/bench_evaluation.py --skip-solve --grid 32
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.scoring.alignment import aligned_scores, best_scores
from pymatgen_crystalnet.scoring.density_metrics import METRICS
from pymatgen_crystalnet.scoring.reference import reference_scores

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mp_sample.jsonl"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, repeats: int, device: torch.device | None = None) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        if device is not None:
            sync(device)
        t0 = time.perf_counter()
        out = fn()
        if device is not None:
            sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def load_truths(count: int, n: int) -> list[tuple[str, np.ndarray]]:
    from pymatgen.core import Structure

    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row in rows[: max(count, 2) + 5]:
            structure = canonical_cell(Structure.from_str(row["cif"], fmt="cif"))
            out.append((f"{row['material_id']} {row['formula']} ({row['crystal_system']})",
                        iam_density_grid(structure, n)))  # fmt: skip
    return out


def bench_scores(args: argparse.Namespace, devices: list[torch.device]) -> None:
    n, k = args.grid, args.samples
    grids = load_truths(args.crystals, n)
    rng = np.random.default_rng(0)
    reference_scores(grids[0][1][:9, :9, :9], grids[0][1][:9, :9, :9])  # warm up scikit-image
    print(f"\n## Scoring one crystal: {k} samples x 24 rotations at {n}^3 (median of {args.repeats})\n")
    columns = ["crystal", "skimage loop (s)"]
    for dev in devices:
        columns += [f"torch {dev.type} rotation-only (s)", "ratio", f"torch {dev.type} + translation (s)"]
    columns.append("max abs diff (torch vs skimage)")
    print("| " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * (len(columns) - 1))
    for c in range(args.crystals):
        label, truth = grids[c]
        others = [grids[(c + 1 + s) % len(grids)][1] for s in range(k)]
        preds = np.stack([o * (1 + 0.1 * rng.standard_normal(o.shape)) for o in others])  # (k, n, n, n)
        t_ref, ref = timed(lambda p=preds, t=truth: [reference_scores(x, t) for x in p], 1)
        ref_best = {key: (min if key == "nmae" else max)(r[key] for r in ref) for key in METRICS}
        row = f"| {label} | {t_ref:.2f} |"
        diffs = []
        for dev in devices:
            x = torch.from_numpy(preds)[:, None].to(dev)
            y = torch.from_numpy(truth)[None].to(dev)
            aligned_scores(x, y)  # warm-up
            t_rot, res = timed(lambda x=x, y=y: aligned_scores(x, y), args.repeats, dev)
            t_tr, _ = timed(lambda x=x, y=y: aligned_scores(x, y, translation=True), args.repeats, dev)
            best = best_scores(res.rotation)
            diffs.append(max(abs(float(best[key][0]) - ref_best[key]) for key in METRICS))
            row += f" {t_rot:.3f} | {t_ref / t_rot:.1f}x | {t_tr:.3f} |"
        print(row + f" {max(diffs):.1e} |")


def bench_solve(args: argparse.Namespace, devices: list[torch.device]) -> None:
    from importlib import resources

    from pymatgen.core import Structure

    from pymatgen_crystalnet.model.crystalnet import CrystalNet
    from pymatgen_crystalnet.model.pretrained import list_pretrained
    from pymatgen_crystalnet.physics.powder import xrd_pattern
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver

    bundled = list_pretrained()
    cif = Path(str(resources.files("pymatgen_crystalnet"))) / "examples" / "NaCl.cif"
    pattern = xrd_pattern(Structure.from_file(cif))
    print("\n## CrystalNetSolver.solve(): NaCl pattern, 5 candidates, 50^3 grid "
          f"(median of {args.repeats} after one warm-up)\n")  # fmt: skip
    for dev in devices:
        if bundled:
            name = next(iter(bundled))
            solver = CrystalNetSolver.from_pretrained(name, device=str(dev))
            what = f"bundled model {name!r}"
        else:
            torch.manual_seed(0)
            solver = CrystalNetSolver(CrystalNet.from_preset("small"), {"cell": "primitive"}, device=str(dev))
            what = "randomly initialised 'small' preset (no bundled model in this installation)"
        n_par = solver.model.num_parameters()
        solver.solve(pattern, "NaCl", n_candidates=5, grid=50, seed=0)  # warm-up
        t, _ = timed(
            lambda s=solver: s.solve(pattern, "NaCl", n_candidates=5, grid=50, seed=0), args.repeats, dev
        )
        t_pred, _ = timed(
            lambda s=solver: s.model.predict_grid(
                torch.zeros(1, 1024, device=s.device), torch.zeros(1, 118, device=s.device), n=50, k=5
            ),
            args.repeats,
            dev,
        )
        print(f"- {dev.type}: solve() {t:.2f} s (of which the model's 5 x 50^3 prediction {t_pred:.2f} s); "
              f"{what}, {n_par:,} parameters, {torch.get_num_threads()} CPU threads")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crystals", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--grid", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    parser.add_argument("--skip-solve", action="store_true")
    parser.add_argument("--skip-scores", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("cpu", "all"):
        devices.append(torch.device("cpu"))
    if args.device in ("cuda", "all") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    names = ", ".join(d.type for d in devices)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, devices: {names}{gpu}")
    if not args.skip_scores:
        bench_scores(args, devices)
    if not args.skip_solve:
        bench_solve(args, devices)


if __name__ == "__main__":
    main()

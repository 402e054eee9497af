"""Cost of the cell inputs: ``small`` vs ``small-lattice`` vs ``small-reflections``.

Prints, for each preset,

- parameters, and forward FLOPs per crystal and per query point (``FlopCounterMode``: matrix
  products and convolutions; the 2K cosines and sines per point of ``small-reflections`` are
  not counted there and are listed separately);
- the training step time (forward + backward + Adam, the trainer's loss) on one batch, the
  presets measured round-robin so that machine load hits them alike, and the ratio to ``small``;

and the time to read the reflections of real crystals once (``featurize.reflections``, per
crystal), from the test structures of ``tests/data/mp_sample.jsonl``.

Usage::

    python benchmarks/bench_cell_inputs.py --threads 2 --batch 32 --points 512 --steps 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from pymatgen_crystalnet.featurize.reflections import read_reflections
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.target import loss_terms

PRESETS = ("small", "small-lattice", "small-reflections")
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "mp_sample.jsonl"


def batch_inputs(model: CrystalNet, b: int, p: int, seed: int = 0) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(seed)
    x = {
        "xrd": torch.rand(b, 1024, generator=g),
        "composition": torch.rand(b, 118, generator=g),
        "points": torch.rand(b, p, 3, generator=g),
    }
    k = model.config.n_reflections
    cell = {}
    if model.config.uses_cell:
        cell["lattice"] = torch.diag_embed(3 + 3 * torch.rand(b, 3, generator=g))
    if k:
        cell["hkl"] = torch.randint(-6, 7, (b, k, 3), generator=g).to(torch.int16)
        cell["amplitude"] = torch.rand(b, k, generator=g)
    return x, cell


def flops(model: CrystalNet, b: int, p: int) -> int:
    x, cell = batch_inputs(model, b, p)
    counter = FlopCounterMode(display=False)
    model.eval()  # a batch of one crystal: BatchNorm on running statistics
    with counter, torch.no_grad():
        model(x["xrd"], x["composition"], x["points"], **cell)
    return counter.get_total_flops()


def step_times(models: dict[str, CrystalNet], b: int, p: int, steps: int) -> dict[str, list[float]]:
    prepared = {}
    for name, model in models.items():
        model.train()
        x, cell = batch_inputs(model, b, p)
        prepared[name] = (torch.optim.Adam(model.parameters(), lr=1e-4), x, cell, torch.rand(b, p) * 5)
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(steps + 2):
        for name, model in models.items():
            opt, x, cell, density = prepared[name]
            t0 = time.perf_counter()
            out = model(x["xrd"], x["composition"], x["points"], **cell)
            loss = loss_terms(out, density, model.config)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i >= 2:  # two warm-up rounds
                times[name].append(time.perf_counter() - t0)
    return times


def reading_time() -> tuple[float, int]:
    from pymatgen.core import Structure

    from pymatgen_crystalnet.featurize.xrd_vector import xrd_vector
    from pymatgen_crystalnet.physics.cells import canonical_cell

    cells = []
    for line in SAMPLE.read_text().splitlines():
        s = canonical_cell(Structure.from_str(json.loads(line)["cif"], fmt="cif"), "primitive")
        cells.append((xrd_vector(s), s.lattice.matrix))
    t0 = time.perf_counter()
    for vec, lat in cells:
        read_reflections(vec, lat, k=256)
    return (time.perf_counter() - t0) / len(cells), len(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--points", type=int, default=512)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {name: CrystalNet.from_preset(name) for name in PRESETS}
    base_crystal = flops(models["small"], 1, 1)
    base_point = (flops(models["small"], 1, 1001) - base_crystal) / 1000
    print(f"threads {args.threads}, batch {args.batch} crystals × {args.points} points, {args.steps} steps")
    times = step_times(models, args.batch, args.points, args.steps)
    ref = statistics.median(times["small"])
    print(f"{'preset':20s} {'params':>9s} {'MFLOP/crystal':>14s} {'kFLOP/point':>12s} {'trig/point':>10s} "
          f"{'step ms':>8s} {'× small':>8s}")
    for name, model in models.items():
        per_crystal = flops(model, 1, 1)
        per_point = (flops(model, 1, 1001) - per_crystal) / 1000
        med = statistics.median(times[name])
        trig = 2 * model.config.n_reflections
        print(f"{name:20s} {model.num_parameters():9,d} {per_crystal / 1e6:14.2f} {per_point / 1e3:12.1f} "
              f"{trig:10d} {1e3 * med:8.1f} {med / ref:8.3f}")
    print(f"(small: {base_crystal / 1e6:.2f} MFLOP per crystal, {base_point / 1e3:.1f} kFLOP per point)")
    per, n = reading_time()
    print(f"reading K = 256 reflections: {1e3 * per:.2f} ms per crystal (mean of {n} real crystals)")


if __name__ == "__main__":
    main()

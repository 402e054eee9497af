"""CrystalNet speed: parameters, FLOPs per point, training throughput (step and real epoch), inference.

For each preset (and each device: CPU, and CUDA when present) it prints

- the parameter count;
- FLOPs of one forward pass, split into a per-crystal part (encoders, FiLM MLPs) and a
  per-query-point part (positional encoding, modulation, regressor), counted with
  ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and convolutions only);
- training throughput of the **step alone** (forward + backward + Adam step, with the
  trainer's loss, on tensors already in memory) in crystals/s and query points/s, and the
  achieved FLOP rate (training ≈ 3 × forward FLOPs);
- training throughput of a **real epoch** (the trainer's ``train_epoch``: sampler order,
  batches of the prepared training set with stratified points and their densities,
  augmentation, latent noise, schedule, loss, step) on an export's training split, the share
  of it spent getting batches, and its ratio to the step alone. Step-only and epoch
  measurements alternate (``--rounds``) in one process so that a shared machine's load hits
  both alike; with ``--exact`` one more epoch runs on the item-by-item path with exact IAM
  densities at every point (``point_grid=0``, the path before the prepared batches);
- the time of a full-grid prediction: n³ points (50³) × k latent samples (5) for one crystal.

Without ``--export`` the epoch runs on a synthetic export of ``--synthetic`` random crystals
(random triclinic cells of 3.5–9 Å, 1–12 atoms of Z 1–56, random sparse patterns): the data
side's cost depends on the crystals' cells and atoms, not on their realism.

Usage::

    python benchmarks/bench_model.py                       # both presets, CPU (+ CUDA)
    python benchmarks/bench_model.py --preset small --threads 2 --export exports/ct.npz --exact
    python benchmarks/bench_model.py --device cuda --batch 128 --points 1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler
from torch.utils.flop_counter import FlopCounterMode

from pymatgen_crystalnet.data.bank_batches import BankedCrystals
from pymatgen_crystalnet.data.reader import ExportedDataset, load_export
from pymatgen_crystalnet.data.torch_dataset import CrystalDensityDataset
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.target import loss_terms
from pymatgen_crystalnet.physics.form_factors import coefficient_table
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import init_distributed
from pymatgen_crystalnet.training.epoch import train_epoch
from pymatgen_crystalnet.training.schedule import scale_cycles


def count_flops(model: CrystalNet, b: int, p: int, device: torch.device) -> int:
    xrd = torch.rand(b, 1024, device=device)
    comp = torch.rand(b, 118, device=device)
    pts = torch.rand(b, p, 3, device=device)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(xrd, comp, pts)
    return counter.get_total_flops()


def autocast(device: torch.device, amp: bool) -> torch.autocast:
    if amp:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_export(n: int, seed: int = 0) -> ExportedDataset:
    """``n`` random crystals in the export layout (all in the training split)."""
    rng = np.random.default_rng(seed)
    lattices, fracs, zs, xrd = [], [], [], np.zeros((n, 1024), dtype=np.float16)
    comp = np.zeros((n, 118), dtype=np.float32)
    counts = rng.integers(1, 13, size=n)
    for i, a in enumerate(counts):
        lengths = rng.uniform(3.5, 9.0, 3)
        alpha, beta, gamma = np.radians(rng.uniform(75, 105, 3))
        ax = [lengths[0], 0.0, 0.0]
        bx = [lengths[1] * np.cos(gamma), lengths[1] * np.sin(gamma), 0.0]
        cx = lengths[2] * np.cos(beta)
        cy = lengths[2] * (np.cos(alpha) - np.cos(beta) * np.cos(gamma)) / np.sin(gamma)
        cz = np.sqrt(max(lengths[2] ** 2 - cx**2 - cy**2, 1.0))
        lattices.append([ax, bx, [cx, cy, cz]])
        fracs.append(rng.random((a, 3)))
        z = rng.integers(1, 57, size=a)
        zs.append(z)
        np.add.at(comp[i], z - 1, 1.0 / a)
        peaks = rng.integers(40, 1000, size=rng.integers(5, 40))
        xrd[i, peaks] = rng.random(peaks.size)
        xrd[i] /= xrd[i].max()
    str_n = np.array(["train"] * n)
    return ExportedDataset(
        manifest={"b_factor": 1.0, "cell": "primitive"},
        material_id=np.array([f"syn-{i}" for i in range(n)]),
        formula=np.array(["X"] * n),
        split=str_n,
        crystal_system=np.array(["triclinic"] * n),
        spacegroup_number=np.ones(n, dtype=np.int16),
        e_above_hull=np.zeros(n, dtype=np.float32),
        density_source=np.array(["iam"] * n),
        xrd=xrd,
        composition=comp,
        lattice=np.asarray(lattices, dtype=np.float64),
        atom_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        frac_coords=np.concatenate(fracs),
        atomic_numbers=np.concatenate(zs).astype(np.int16),
        occupancies=np.ones(int(counts.sum()), dtype=np.float32),
        form_factors=coefficient_table(),
        grid_index=np.full(n, -1, dtype=np.int32),
    )


def bench_training(model, batch, points, steps, device, amp):
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    xrd = torch.rand(batch, 1024, device=device)
    comp = torch.rand(batch, 118, device=device)
    pts = torch.rand(batch, points, 3, device=device)
    rho = torch.rand(batch, points, device=device) * 10
    ctx = autocast(device, amp)

    def step():
        with ctx:
            out = model(xrd, comp, pts)
        loss = loss_terms(out, rho, model.config)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - t0) / steps


def bench_grid(model, n, k, device, amp, batch_points):
    model.eval()
    xrd = torch.rand(1, 1024, device=device)
    comp = torch.rand(1, 118, device=device)
    ctx = autocast(device, amp)
    with ctx:
        model.predict_grid(xrd, comp, n=8, k=1, batch_points=batch_points)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        out = model.predict_grid(xrd, comp, n=n, k=k, batch_points=batch_points)
        sync(device)
    assert out.shape == (k, 1, n, n, n)
    return time.perf_counter() - t0


class EpochBench:
    """One real training epoch (the trainer's ``train_epoch``) on a prepared training set."""

    def __init__(self, model, cfg, tcfg, dataset, batch, device, amp):
        self.model, self.cfg, self.dataset, self.device = model, cfg, dataset, device
        self.tcfg = TrainingConfig.from_dict({**tcfg.as_dict(), "batch_size": batch})
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.tcfg.lr)
        self.env = init_distributed(str(device))
        self.sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0)
        self.loader = DataLoader(dataset, batch_size=batch, sampler=self.sampler, drop_last=True)
        self.cycles = scale_cycles(self.tcfg.restart_cycles, self.tcfg.epochs)
        self.amp = torch.bfloat16 if amp else None
        self.epoch = 0

    def run(self) -> dict[str, float]:
        t0 = time.perf_counter()
        out = train_epoch(
            self.epoch, model=self.model, train_model=self.model, optimizer=self.optimizer,
            loader=self.loader, sampler=self.sampler, dataset=self.dataset, model_config=self.cfg,
            config=self.tcfg, cycles=self.cycles, env=self.env, autocast_dtype=self.amp,
        )  # fmt: skip
        sync(self.device)
        elapsed = time.perf_counter() - t0
        self.epoch += 1
        return {"crystals_per_s": out["crystals"] / elapsed, "data_share": out["data_s"] / elapsed,
                "steps": out["steps"], "seconds": elapsed}


def epoch_section(args, preset, model, cfg, tcfg, batch, points, device, amp, train_data, cache_dir):
    """Alternate step-only and real-epoch measurements; return the printed lines."""
    t0 = time.perf_counter()
    banked = BankedCrystals(train_data, grid_n=tcfg.point_grid, points_per_axis=tcfg.n_strata,
                            composition_mode=cfg.composition_mode, seed=0, cache_dir=cache_dir)
    prep_s = time.perf_counter() - t0
    epoch = EpochBench(model, cfg, tcfg, banked, batch, device, amp)
    steps = len(banked) // batch
    step_rates, epoch_rows = [], []
    epoch.run()  # warm-up (and first touch of the memory-mapped grids)
    for _ in range(args.rounds):
        step_rates.append(batch / bench_training(model, batch, points, steps, device, amp))
        epoch_rows.append(epoch.run())
    step_cps = float(np.mean(step_rates))
    epoch_cps = float(np.mean([r["crystals_per_s"] for r in epoch_rows]))
    data_share = float(np.mean([r["data_share"] for r in epoch_rows]))
    ratios = ", ".join(f"{r['crystals_per_s'] / s:.2f}" for r, s in zip(epoch_rows, step_rates))
    lines = [
        f"  training data         {len(banked)} training crystals, {tcfg.n_strata}^3 points each, "
        f"densities on {tcfg.point_grid}^3 grids (prepared in {prep_s:.1f} s"
        f"{', cached' if cache_dir else ''})",
        f"  step only             {step_cps:.1f} crystals/s (mean of {args.rounds} x {steps} steps)",
        f"  real epoch            {epoch_cps:.1f} crystals/s (mean of {args.rounds} epochs of "
        f"{steps} steps; {100 * data_share:.1f} % of it getting batches)",
        f"  epoch / step          {epoch_cps / step_cps:.2f} (per round: {ratios})",
    ]
    if args.exact:
        exact = CrystalDensityDataset(train_data, points_per_axis=tcfg.n_strata,
                                      composition_mode=cfg.composition_mode, seed=0)
        row = EpochBench(model, cfg, tcfg, exact, batch, device, amp).run()
        lines.append(
            f"  exact-point epoch     {row['crystals_per_s']:.1f} crystals/s "
            f"({100 * row['data_share']:.1f} % getting batches; point_grid=0, items one by one): "
            f"{row['crystals_per_s'] / step_cps:.2f} of the step"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", choices=["small", "paper"], help="default: both")
    parser.add_argument("--device", action="append", help="default: cpu, and cuda if available")
    parser.add_argument("--batch", type=int, help="crystals per step (default: preset's; 8 for paper on CPU)")
    parser.add_argument("--points", type=int, help="query points per crystal (default: preset's n_strata³)")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps")
    parser.add_argument("--grid", type=int, default=50, help="grid size n of the inference benchmark")
    parser.add_argument("--samples", type=int, default=5, help="latent samples k of the inference benchmark")
    parser.add_argument("--batch-points", type=int, default=2**16, help="rows per chunk of grid prediction")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    parser.add_argument("--export", type=Path, help="export whose training split the epoch runs on")
    parser.add_argument("--synthetic", type=int, default=512, help="random crystals without --export")
    parser.add_argument("--rounds", type=int, default=2, help="alternating step-only / epoch measurements")
    parser.add_argument("--epoch-preset", action="append", choices=["small", "paper"],
                        help="presets whose real epoch is measured (default: small)")
    parser.add_argument("--exact", action="store_true", help="also one epoch on the exact per-point path")
    parser.add_argument("--skip-grid", action="store_true", help="skip the full-grid inference timing")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    presets = args.preset or ["small", "paper"]
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    epoch_presets = args.epoch_preset or ["small"]
    if args.export:
        train_data = load_export(args.export).subset("train")
        cache_dir = args.export.parent / f"{args.export.stem}.cache"
        print(f"epoch data: {args.export} ({len(train_data)} training crystals)")
    else:
        train_data, cache_dir = synthetic_export(args.synthetic), None
        print(f"epoch data: {args.synthetic} synthetic random crystals")
    for dev_name in devices:
        device = torch.device(dev_name)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        amp = device.type == "cuda" and not args.no_amp
        for preset in presets:
            torch.manual_seed(0)
            cfg = CrystalNetConfig.from_preset(preset)
            tcfg = TrainingConfig.from_preset(preset)
            model = CrystalNet(cfg).to(device)
            batch = args.batch or (8 if preset == "paper" and device.type == "cpu" else tcfg.batch_size)
            points = args.points or tcfg.n_strata**3
            f1 = count_flops(model, 2, 100, device)
            f2 = count_flops(model, 2, 200, device)
            per_point = (f2 - f1) / (2 * 100)
            per_crystal = (f1 - 2 * 100 * per_point) / 2
            step_s = bench_training(model, batch, points, args.steps, device, amp)
            train_flops = 3 * (batch * per_crystal + batch * points * per_point)
            grid_s = (float("nan") if args.skip_grid
                      else bench_grid(model, args.grid, args.samples, device, amp, args.batch_points))
            grid_flops = args.samples * (args.grid**3) * per_point
            epoch_lines = []
            if preset in epoch_presets:
                epoch_lines = epoch_section(args, preset, model, cfg, tcfg, batch, points, device, amp,
                                            train_data, cache_dir)
            print(
                f"\n[{preset} on {label}{' bf16' if amp else ''}]\n"
                f"  parameters            {model.num_parameters():,}\n"
                f"  forward FLOPs         {per_point / 1e6:.3f} MFLOP per point + "
                f"{per_crystal / 1e6:.2f} MFLOP per crystal\n"
                f"  training              batch {batch} x {points} points: {step_s * 1e3:.1f} ms/step, "
                f"{batch / step_s:.1f} crystals/s, {batch * points / step_s:,.0f} points/s, "
                f"{train_flops / step_s / 1e9:.1f} GFLOP/s"
            )
            if not args.skip_grid:
                print(
                    f"  full-grid inference   {args.grid}^3 x {args.samples} samples: {grid_s:.2f} s "
                    f"({args.samples * args.grid**3 / grid_s:,.0f} points/s, "
                    f"{grid_flops / grid_s / 1e9:.1f} GFLOP/s)"
                )
            for line in epoch_lines:
                print(line)


if __name__ == "__main__":
    main()

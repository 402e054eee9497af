"""CrystalNet speed: parameters, FLOPs per point, training throughput, full-grid inference.

For each preset (and each device: CPU, and CUDA when present) it prints

- the parameter count;
- FLOPs of one forward pass, split into a per-crystal part (encoders, FiLM MLPs) and a
  per-query-point part (positional encoding, modulation, regressor), counted with
  ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and convolutions only);
- training throughput (forward + backward + Adam step, with the trainer's loss) in crystals/s
  and query points/s, and the achieved FLOP rate (training ≈ 3 × forward FLOPs);
- the time of a full-grid prediction: n³ points (50³) × k latent samples (5) for one crystal.

Usage::

    python benchmarks/bench_model.py                       # both presets, CPU (+ CUDA)
    python benchmarks/bench_model.py --preset small --threads 2
    python benchmarks/bench_model.py --device cuda --batch 128 --points 1000
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.target import loss_terms
from pymatgen_crystalnet.training.config import TrainingConfig


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
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    presets = args.preset or ["small", "paper"]
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
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
            grid_s = bench_grid(model, args.grid, args.samples, device, amp, args.batch_points)
            grid_flops = args.samples * (args.grid**3) * per_point
            print(
                f"\n[{preset} on {label}{' bf16' if amp else ''}]\n"
                f"  parameters            {model.num_parameters():,}\n"
                f"  forward FLOPs         {per_point / 1e6:.3f} MFLOP per point + "
                f"{per_crystal / 1e6:.2f} MFLOP per crystal\n"
                f"  training              batch {batch} x {points} points: {step_s * 1e3:.1f} ms/step, "
                f"{batch / step_s:.1f} crystals/s, {batch * points / step_s:,.0f} points/s, "
                f"{train_flops / step_s / 1e9:.1f} GFLOP/s\n"
                f"  full-grid inference   {args.grid}^3 x {args.samples} samples: {grid_s:.2f} s "
                f"({args.samples * args.grid**3 / grid_s:,.0f} points/s, "
                f"{grid_flops / grid_s / 1e9:.1f} GFLOP/s)"
            )


if __name__ == "__main__":
    main()

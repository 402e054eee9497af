"""How holding the cell's electrons changes a model's scores (validation only).

The network's densities hold a fraction of the cell's electrons (its L1 loss on log(1 + ρ)
hedges the heavy-atom cores). This draws the model's samples once, on its own patterns and on
the mismatched-pattern control's, and scores them decoded four ways, best of the 24 rotations:

- ``as predicted``: the network's densities (the paper's protocol);
- ``scaled, true count``: each density × the factor that makes it hold the cell's atoms'
  electrons (an upper bound: the true content is not known to a user);
- ``sharpened, true count``: (1 + ρ)^γ − 1 with γ per density (bisection) so that it holds them
  (raises the cores more than the valleys);
- ``scaled, formula count``: scaled to Z × the formula's electrons, Z from the cell volume
  (:func:`~pymatgen_crystalnet.physics.formula_units.estimated_z`): what
  ``crystalnet evaluate --set electrons=formula`` and the solver do.

Map CC does not change with a scale; NMAE, SSIM and PSNR do. Prints how often the cell volume
gives the true Z (first 1,500 training crystals and the chosen split), then one markdown table.

Usage::

    python benchmarks/electron_decoding.py --data exports/cubic_trigonal.npz
    python benchmarks/electron_decoding.py --data exports/cubic_trigonal.npz --limit 64 --grid 24 --samples 2

The test split is refused: a decoding is chosen on validation crystals.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from pymatgen_crystalnet.data.density_bank import cell_electrons, cell_volumes
from pymatgen_crystalnet.data.reader import load_export
from pymatgen_crystalnet.evaluation.baselines import control_partners
from pymatgen_crystalnet.evaluation.batch import Batch, scale_to_mean
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.scorers import Sampler
from pymatgen_crystalnet.evaluation.selection import select_crystals
from pymatgen_crystalnet.model.pretrained import pretrained_path
from pymatgen_crystalnet.model.weights import load_model_and_metadata
from pymatgen_crystalnet.scoring.alignment import aligned_scores, best_scores

logger = logging.getLogger("electron_decoding")

DECODINGS = ("as predicted", "scaled, true count", "sharpened, true count", "scaled, formula count")


def sharpen(grids: torch.Tensor, mean_density: torch.Tensor, iterations: int = 48) -> torch.Tensor:
    """(1 + ρ)^γ − 1 with γ per grid (bisection on [0.2, 5]) so that its mean is ``mean_density``.

    ``grids``: ``(..., B, n, n, n)``; ``mean_density``: ``(B,)`` e/Å³.
    """
    log = torch.log1p(grids.double().clamp_min(0.0))
    target = mean_density.double()[..., None, None, None].expand_as(log[..., :1, :1, :1])
    lo = torch.full_like(target, 0.2)
    hi = torch.full_like(target, 5.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        too_many = torch.expm1(mid * log).mean(dim=(-3, -2, -1), keepdim=True) > target
        hi, lo = torch.where(too_many, mid, hi), torch.where(too_many, lo, mid)
    return torch.expm1(0.5 * (lo + hi) * log).to(grids.dtype)


def decode(batch: Batch, grids: torch.Tensor, how: str, where: np.ndarray | None = None) -> torch.Tensor:
    """``grids`` of the crystals at ``where`` decoded ``how`` (one of :data:`DECODINGS`)."""
    if how == "as predicted":
        return grids
    if how == "scaled, formula count":
        return batch.hold_formula_electrons(grids, where)
    rows = batch.rows if where is None else batch.rows[where]
    true_mean = torch.as_tensor(cell_electrons(batch.data)[rows] / cell_volumes(batch.data)[rows])
    return scale_to_mean(grids, true_mean) if how.startswith("scaled") else sharpen(grids, true_mean)


def z_accuracy(data: object, split: str, limit: int) -> tuple[float, float, int]:
    """Share of the first ``limit`` crystals of ``split`` whose true Z (per primitive cell) is found.

    Returns the shares for :func:`~pymatgen_crystalnet.physics.formula_units.estimated_z` and for
    :func:`~pymatgen_crystalnet.physics.formula_units.likely_z`, and the number of crystals.
    """
    from pymatgen_crystalnet.physics.formula_units import estimated_z, formula_electrons, likely_z

    rows = np.flatnonzero(data.split == split)[:limit]
    contents, volumes = cell_electrons(data), cell_volumes(data)
    found = {"estimated": 0, "likely": 0}
    for i in rows:
        formula = str(data.formula[i])
        true_z = round(contents[i] / formula_electrons(formula))
        found["estimated"] += estimated_z(volumes[i], formula) == true_z
        found["likely"] += likely_z(volumes[i], formula) == true_z
    return found["estimated"] / rows.size, found["likely"] / rows.size, int(rows.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="dataset export (.npz)")
    parser.add_argument("--model", default=None, help="weights folder (default: the bundled default)")
    parser.add_argument("--split", default="val", choices=["train", "val"])
    parser.add_argument("--limit", type=int, default=64)
    parser.add_argument("--grid", type=int, default=24)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(args.seed)

    folder = args.model or pretrained_path()
    model, _ = load_model_and_metadata(folder, device="cpu")
    model.eval()
    data = load_export(args.data)
    config = EvaluationConfig(split=args.split, limit=args.limit, grid=args.grid, samples=args.samples)
    idx = select_crystals(data, config, None)
    local = control_partners(data.crystal_system[idx], args.seed)
    partners = np.where(local >= 0, idx[np.maximum(local, 0)], -1)
    sampler = Sampler(model, args.grid, args.seed, torch.device("cpu"))
    spec = sampler.cell_spec

    sums = {h: {"cc": [], "nmae": [], "control_cc": [], "control_nmae": [], "held": []} for h in DECODINGS}
    start = time.perf_counter()
    with torch.no_grad():
        for s in range(0, idx.size, args.batch_size):
            part = slice(s, s + args.batch_size)
            batch = Batch.load(data, idx[part], args.grid, torch.device("cpu"), partners[part], args.seed)
            pred = sampler.sample(batch.patterns, batch.composition(model.config.composition_mode),
                                  args.samples, "model", batch.cell_inputs(spec))  # fmt: skip
            has = batch.paired
            control = None
            if has.size:
                comp = batch.composition(model.config.composition_mode)[torch.from_numpy(has)]
                cell = batch.cell_inputs(spec, pattern_rows=batch.partner_rows, where=has)
                patterns = batch.patterns_of(batch.partner_rows)
                control = sampler.sample(patterns, comp, args.samples, "control", cell)
            for how in DECODINGS:
                grids = decode(batch, pred, how)
                best = best_scores(aligned_scores(grids, batch.truth).rotation)
                sums[how]["cc"] += best["cc"].tolist()
                sums[how]["nmae"] += best["nmae"].tolist()
                sums[how]["held"] += batch.content_ratios(grids).ravel().tolist()
                if control is not None:
                    decoded = decode(batch, control, how, has)
                    other = best_scores(aligned_scores(decoded, batch.truth[has]).rotation)
                    sums[how]["control_cc"] += other["cc"].tolist()
                    sums[how]["control_nmae"] += other["nmae"].tolist()
    elapsed = time.perf_counter() - start

    for split, limit in (("train", 1500), (args.split, 10**9)):
        est, likely, m = z_accuracy(data, split, limit)
        print(f"Z from the cell volume, first {m} {split} crystals: estimated_z {100 * est:.1f} % right, "
              f"likely_z {100 * likely:.1f} %")  # fmt: skip
    n, k = idx.size, args.samples
    print(f"{n} {args.split} crystals, {args.grid}³, k = {k} × 24 rotations, {elapsed:.0f} s")
    print()
    print("| decoding | map CC | NMAE | control CC | control NMAE | CC drop | electrons held | within 10 % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for how, v in sums.items():
        held = np.asarray(v["held"])
        cc, ctrl = float(np.mean(v["cc"])), float(np.mean(v["control_cc"]))
        within = 100 * np.mean(np.abs(held - 1) <= 0.1)
        nmae, control_nmae = np.mean(v["nmae"]), np.mean(v["control_nmae"])
        print(f"| {how} | {cc:.3f} | {nmae:.3f} | {ctrl:.3f} | {control_nmae:.3f} | {cc - ctrl:.3f} | "
              f"{held.mean():.3f} | {within:.0f} % |")  # fmt: skip


if __name__ == "__main__":
    main()

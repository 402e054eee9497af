"""Distributed training: 2 gloo processes under torchrun equal the single-process run.

The global batch (8) is split 2 × 4; the augmentation and latent noise are drawn for the global
batch and sliced per process, and BatchNorm statistics are synchronised across processes, so
the two runs do the same arithmetic up to the order of floating-point reductions: the losses
agree to 1e-5 and the predictions of the final weights to 0.2 % of their maximum (Adam turns
rounding differences in parameters with a near-zero gradient into small weight differences).

Run as a script (by the test, through ``torchrun``) it trains and exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.synthetic import SyntheticCrystals
from pymatgen_crystalnet.training.trainer import Trainer

MODEL = {
    "latent_dim": 16,
    "xrd_layers_per_block": 2,
    "composition_layers": 2,
    "composition_hidden": 16,
    "fusion_layers": 3,
    "fusion_hidden": 32,
    "n_frequencies": 16,
    "embed_dim": 32,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 2,
    "regressor_hidden": 32,
}
TRAIN = {
    "epochs": 2,
    "batch_size": 8,
    "lr": 3e-3,
    "val_grid": 8,
    "val_every": 1,
    "val_batch_size": 2,
    "n_strata": 3,
}


def train_once(out: str) -> dict:
    torch.set_num_threads(1)
    data = SyntheticCrystals(16, n_strata=3, seed=0), SyntheticCrystals(4, grid=8, seed=1)
    trainer = Trainer(
        CrystalNetConfig(**MODEL),
        TrainingConfig(**TRAIN),
        data[0],
        data[1],
        out,
        device="cpu",
        progress=False,
    )
    return trainer.fit()


def test_two_gloo_processes_equal_one(tmp_path):
    single = train_once(str(tmp_path / "single"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
        "--nproc-per-node", "2", __file__, str(tmp_path / "ddp"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    import json

    from pymatgen_crystalnet.model.weights import load_model
    from pymatgen_crystalnet.training.checkpoint import latest_checkpoint

    # The same function: predictions of the final weights agree. (Raw weights are not compared:
    # parameters whose true gradient is ~0 are moved by Adam on rounding noise alone.)
    a = load_model(latest_checkpoint(tmp_path / "single"))
    b = load_model(latest_checkpoint(tmp_path / "ddp"))
    val = SyntheticCrystals(4, grid=8, seed=1)
    xrd, comp = torch.from_numpy(val.xrd), torch.from_numpy(val.composition)
    pa = a.predict_grid(xrd, comp, n=8, k=1, deterministic=True)
    pb = b.predict_grid(xrd, comp, n=8, k=1, deterministic=True)
    assert pa.abs().max() > 0
    assert (pa - pb).abs().max() <= 2e-3 * pa.abs().max(), (pa - pb).abs().max()

    rows = [json.loads(x) for x in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == len(single["history"]) == TRAIN["epochs"]
    for mine, ref in zip(rows, single["history"]):
        assert mine["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-5)
        assert mine["val_crystals"] == ref["val_crystals"] == 4


if __name__ == "__main__":
    train_once(sys.argv[1])
    from pymatgen_crystalnet.training.distributed import shutdown_distributed

    shutdown_distributed()

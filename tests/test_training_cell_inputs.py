"""Training with the cell inputs: the dataset hook (arrays computed once) and a tiny run per preset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.data.torch_dataset import CrystalDensityDataset
from pymatgen_crystalnet.featurize import reflections
from pymatgen_crystalnet.featurize.reflections import CellInputSpec, read_reflections
from pymatgen_crystalnet.model.weights import load_model
from pymatgen_crystalnet.training.entry import main

TINY = [
    "--set", "training.batch_size=8", "--set", "val_grid=8", "--set", "latent_dim=16",
    "--set", "embed_dim=16", "--set", "fusion_hidden=32", "--set", "regressor_hidden=16",
    "--set", "n_strata=3", "--set", "reflection_hidden=16",
    "--no-progress", "--threads", "1",
]  # fmt: skip


def test_dataset_items_carry_the_cell_inputs_computed_once(eval_data, monkeypatch):
    spec = CellInputSpec(lattice=True, n_reflections=24)
    data = CrystalDensityDataset(eval_data, points_per_axis=2, cell_inputs=spec)

    def refuse(*args, **kwargs):
        raise AssertionError("reflections read again per item")

    monkeypatch.setattr(reflections, "read_reflections", refuse)
    batch = torch.utils.data.default_collate([data[i] for i in (3, 7)])
    assert batch["lattice"].shape == (2, 3, 3) and batch["hkl"].dtype == torch.int16
    assert batch["hkl"].shape == (2, 24, 3) and batch["amplitude"].shape == (2, 24)
    monkeypatch.undo()
    own = read_reflections(eval_data.xrd[7], eval_data.lattice[7], k=24)
    np.testing.assert_array_equal(batch["hkl"][1].numpy(), own.hkl)
    np.testing.assert_allclose(batch["amplitude"][1].numpy(), own.amplitude)
    np.testing.assert_allclose(batch["lattice"][1].numpy(), eval_data.lattice[7], rtol=1e-6)
    plain = CrystalDensityDataset(eval_data, points_per_axis=2)
    assert not {"lattice", "hkl", "amplitude"} & set(plain[0])


@pytest.mark.parametrize("preset", ["small-lattice", "small-reflections"])
def test_a_tiny_run_of_each_new_preset(preset, tmp_path, capsys):
    out = tmp_path / preset
    small_k = ["--set", "n_reflections=32"] if preset == "small-reflections" else []
    args = ["--data", "synthetic:16", "--out", str(out), "--epochs", "2", "--preset", preset]
    main(["train", *args, *TINY, *small_k])
    assert f"Trained 2 epochs ({preset} model" in capsys.readouterr().out
    model = load_model(out / "best")
    assert model.config.preset == preset and model.cell is not None
    assert (model.cell.reflections is not None) == (preset == "small-reflections")


def test_banked_batches_carry_the_same_cell_inputs(eval_data):
    from pymatgen_crystalnet.data.bank_batches import BankedCrystals

    spec = CellInputSpec(lattice=True, n_reflections=24)
    banked = BankedCrystals(eval_data, grid_n=8, points_per_axis=2, cell_inputs=spec)
    plain = CrystalDensityDataset(eval_data, points_per_axis=2, cell_inputs=spec)
    u = np.random.default_rng(0).random((2, 8, 3), dtype=np.float32)
    batch = banked.batch([3, 7], u)
    for key in ("lattice", "hkl", "amplitude"):
        np.testing.assert_array_equal(batch[key][1].numpy(), plain[7][key].numpy())
    bare = BankedCrystals(eval_data, grid_n=8, points_per_axis=2)
    assert not {"lattice", "hkl", "amplitude"} & set(bare.batch([3], u[:1]))


def test_a_reflections_model_validates_with_the_control(tmp_path):
    import json

    out = tmp_path / "refl"
    args = ["--data", "synthetic:16", "--out", str(out), "--epochs", "1", "--preset", "small-reflections"]
    main(["train", *args, *TINY, "--set", "n_reflections=32"])
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(row["val_cc"]) and np.isfinite(row["val_control_cc"])
    assert row["val_cc_drop"] == pytest.approx(row["val_cc"] - row["val_control_cc"])

"""The training entry shared by ``crystalnet train`` and the torchrun Maker (training.entry)."""

from __future__ import annotations

import json

import pytest
import torch

from pymatgen_crystalnet.model.weights import load_model
from pymatgen_crystalnet.training.entry import main, read_config_file, training_configs

TINY = [
    "--set", "training.batch_size=8", "--set", "val_grid=8", "--set", "latent_dim=16",
    "--set", "embed_dim=16", "--set", "fusion_hidden=32", "--set", "regressor_hidden=16",
    "--set", "n_strata=3", "--no-progress", "--threads", "2",
]  # fmt: skip


def test_main_trains_with_the_flags_of_crystalnet_train(tmp_path, capsys):
    out = tmp_path / "run"
    main(["train", "--data", "synthetic:16", "--out", str(out), "--epochs", "1", *TINY])
    assert "Trained 1 epochs (small model" in capsys.readouterr().out
    assert load_model(out / "best").config.latent_dim == 16
    with pytest.raises(SystemExit, match="already holds a training run"):
        main(["train", "--data", "synthetic:16", "--out", str(out)])
    with pytest.raises(SystemExit, match="Unknown setting 'bogus'"):
        main(["--data", "synthetic:16", "--out", str(tmp_path / "other"), "--set", "bogus=1"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_main_refuses_an_absent_device_without_traceback(tmp_path):
    with pytest.raises(SystemExit, match=r"^Error: Device 'cuda' was asked for, but CUDA is not available"):
        main(["train", "--data", "synthetic:16", "--out", str(tmp_path / "x"), "--device", "cuda"])


def test_configs_from_preset_file_and_epochs(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("model:\n  positional_encoding: periodic\ntraining:\n  lr: '5e-4'\n")
    model, training = training_configs(tmp_path / "run", config_file=cfg, epochs=3)
    assert (model.preset, model.positional_encoding, model.latent_dim) == ("small", "periodic", 128)
    assert (training.epochs, training.lr, training.batch_size) == (3, 5e-4, 32)
    assert training_configs(tmp_path / "run", preset="paper")[0].latent_dim == 512
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {}, "trainnig": {}}))
    with pytest.raises(ValueError, match=r"unknown top-level key\(s\) \['trainnig'\]"):
        read_config_file(bad)
    record = tmp_path / "training.json"
    record.write_text(json.dumps({"model_config": {"@module": "x", "latent_dim": 8}, "data": {}}))
    assert read_config_file(record) == {"model": {"latent_dim": 8}, "training": {}}

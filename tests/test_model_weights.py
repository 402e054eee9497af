"""Weights I/O: safetensors + JSON round trip; tampered and mismatched folders are refused."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    WeightsError,
    load_model,
    load_model_and_metadata,
    save_model,
)

TINY = {
    "latent_dim": 8,
    "xrd_layers_per_block": 1,
    "composition_layers": 1,
    "composition_hidden": 8,
    "fusion_layers": 2,
    "fusion_hidden": 8,
    "n_frequencies": 4,
    "embed_dim": 8,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 1,
    "regressor_hidden": 8,
}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = CrystalNet(CrystalNetConfig(**TINY, positional_encoding="periodic"))
    # make BatchNorm running statistics non-trivial
    model.train()
    model(torch.rand(4, 1024), torch.rand(4, 118), torch.rand(4, 5, 3))
    folder = save_model(model, tmp_path / "w", metadata={"note": "test"})
    return model, folder


def _outputs(model):
    g = torch.Generator().manual_seed(3)
    xrd, comp = torch.rand(2, 1024, generator=g), torch.rand(2, 118, generator=g)
    return model.predict_grid(xrd, comp, n=4, k=1, deterministic=True)


def test_round_trip(saved):
    model, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    doc = json.loads((folder / CONFIG_FILE).read_text())
    assert doc["sha256"] == sha256_file(folder / WEIGHTS_FILE)
    assert doc["metadata"] == {"note": "test"}
    loaded = load_model(folder)
    assert loaded.config == model.config and not loaded.training
    assert torch.equal(_outputs(loaded), _outputs(model))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_model_and_metadata_load_together(saved, tmp_path):
    model, folder = saved
    loaded, metadata = load_model_and_metadata(folder)
    assert metadata == {"note": "test"}
    assert loaded.config == model.config and not loaded.training
    assert torch.equal(_outputs(loaded), _outputs(model))
    bare = save_model(model, tmp_path / "bare")
    assert load_model_and_metadata(bare)[1] == {}
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0x01
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        load_model_and_metadata(folder)


def test_half_precision_storage(saved, tmp_path):
    model, _ = saved
    folder = save_model(model, tmp_path / "half", half=True)
    loaded = load_model(folder)
    assert loaded.state_dict()["regressor.out.weight"].dtype == torch.float32
    assert torch.allclose(_outputs(loaded), _outputs(model), rtol=1e-2, atol=1e-3)


def test_tampered_weights_are_refused(saved):
    _, folder = saved
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0x01
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256"):
        load_model(folder)


def test_weights_for_another_architecture_are_refused(saved):
    _, folder = saved
    # replace the tensors by those of a wider model and record their hash: the config no longer fits
    other = CrystalNet(CrystalNetConfig(**{**TINY, "latent_dim": 12}))
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, folder / WEIGHTS_FILE)
    doc = json.loads((folder / CONFIG_FILE).read_text())
    doc["sha256"] = sha256_file(folder / WEIGHTS_FILE)
    (folder / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(WeightsError, match="shape mismatches"):
        load_model(folder)


def test_config_edited_after_saving_is_refused(saved):
    _, folder = saved
    doc = json.loads((folder / CONFIG_FILE).read_text())
    doc["config"]["regressor_blocks"] = 3
    (folder / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(WeightsError, match="missing tensors"):
        load_model(folder)
    doc["config"]["regressor_blocks"] = "three"
    (folder / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(WeightsError, match="Invalid model config"):
        load_model(folder)


def test_missing_and_malformed_files(saved, tmp_path):
    _, folder = saved
    with pytest.raises(WeightsError, match="not a CrystalNet weights folder"):
        load_model(tmp_path / "nowhere")
    (folder / CONFIG_FILE).write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_model(folder)
    (folder / CONFIG_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(WeightsError, match="not a CrystalNet weights config"):
        load_model(folder)


def test_truncated_weights_are_refused(saved):
    _, folder = saved
    data = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError):
        load_model(folder)
    with pytest.raises(WeightsError, match=r"read .* as safetensors"):
        load_model(folder, verify=False)

"""The evaluation protocol end to end in Python: rows, methods, notes, summary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.evaluation.config import ABLATION_MODES, EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_evaluate_rows_methods_and_summary(eval_data, tiny_crystalnet):
    model = tiny_crystalnet(seed=1)
    ids = eval_data.material_id.tolist()
    seeds = {ids[0]: "cubic:test", ids[2]: "cubic:test", ids[9]: "trigonal:train"}
    config = EvaluationConfig(split="all", grid=8, samples=2, ablation_samples=2, batch_size=3)
    result = evaluate(model, eval_data, config, metadata={}, seed_splits=seeds, progress=False)
    assert len(result.crystals) == len(eval_data)
    methods = set(result.methods)
    assert {"model", "model_translation", "strict", "selected", "control", "flat", "other_crystal"} <= methods
    assert {f"ablation:{m}" for m in ABLATION_MODES} <= methods
    for row in result.crystals:
        partner = row["control_partner"]
        assert partner != row["material_id"]
        assert eval_data.crystal_system[ids.index(partner)] == row["crystal_system"]
        s = row["scores"]
        assert set(s["model"]) == {"ssim", "psnr", "cc", "nmae"}
        assert s["model_translation"]["cc"] >= s["model"]["cc"] - 1e-12
        assert s["model_translation"]["ssim"] >= s["model"]["ssim"] - 1e-12
        assert s["flat"]["cc"] == 0.0
        ver = row["verification"]
        assert len(ver["cosines"]) == 2 and ver["best_agreement_sample"] in (0, 1)
        assert s["selected"]["ssim"] <= s["model"]["ssim"] + 1e-12
    assert result.labels["paper_test_subset"] == "paper test subset (2 of 500 cubic, 0 of 237 trigonal)"
    assert "validation" not in result.labels["split"] and "not a test" in result.labels["split"]
    assert any("NOT the paper's Table 2" in note for note in result.notes)
    doc = result.as_dict()
    summary = doc["summary"]
    cubic = summary["all"]["model"]["cubic"]
    assert cubic["n"] == 9 and set(cubic) == {"n", "ssim", "psnr", "cc", "nmae"}
    values = [r["scores"]["model"]["ssim"] for r in result.crystals if r["crystal_system"] == "cubic"]
    assert cubic["ssim"]["mean"] == pytest.approx(np.mean(values))
    assert cubic["ssim"]["std"] == pytest.approx(np.std(values))
    assert summary["paper_test_subset"]["model"]["all"]["n"] == 2
    assert summary["verification"]["all"]["all"]["n"] == len(eval_data)


def test_device_auto_and_absent_devices(eval_data, tiny_crystalnet):
    config = EvaluationConfig(grid=8, samples=1, limit=2, ablations=False, verification=False, examples=False)
    model = tiny_crystalnet(seed=0)
    result = evaluate(model, eval_data, config, device="auto", progress=False)
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert result.device == expected and len(result.crystals) == 2
    assert evaluate(model, eval_data, config, progress=False).device == expected  # the default is auto
    with pytest.raises(ValueError, match="Unknown device"):
        evaluate(model, eval_data, config, device="gpu-please", progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            evaluate(model, eval_data, config, device="cuda", progress=False)

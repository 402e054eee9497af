"""Flows: the tiny pipeline's settings, and the serialised pipeline in ``workflows/configs``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("jobflow")

from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.workflows.flows import PipelineMaker, SolveVerifyMaker, tiny_evaluation

CONFIGS = Path(__file__).parents[1] / "workflows" / "configs"


def test_tiny_pipeline_config_file_is_the_tiny_pipeline():
    from monty.serialization import loadfn

    maker = loadfn(CONFIGS / "tiny_pipeline.yaml")
    assert isinstance(maker, PipelineMaker)
    assert maker == PipelineMaker.tiny()
    assert maker.train_evaluate.evaluate_maker.config == tiny_evaluation()


def test_tiny_pipeline_evaluation_settings():
    light = PipelineMaker.tiny().train_evaluate.evaluate_maker.config
    assert light == EvaluationConfig(samples=2, ablation_samples=1, grid=16, limit=8, batch_size=4)
    assert light.split == "test" and light.control and light.baselines
    mine = EvaluationConfig(grid=12, samples=1, split="val")
    assert PipelineMaker.tiny(evaluation=mine).train_evaluate.evaluate_maker.config is mine
    assert PipelineMaker.tiny(evaluate=False).train_evaluate.evaluate_maker is None


def test_fan_out_is_checked():
    with pytest.raises(ValueError, match="fan_out"):
        SolveVerifyMaker(fan_out="sometimes")

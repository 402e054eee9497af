"""The report: JSON and Markdown written atomically."""

from __future__ import annotations

import json

from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate
from pymatgen_crystalnet.evaluation.report import write_report


def test_write_report_replaces_atomically(tmp_path, eval_data, tiny_crystalnet):
    model = tiny_crystalnet()
    config = EvaluationConfig(grid=8, samples=1, limit=2, ablations=False, verification=False, examples=False)
    result = evaluate(model, eval_data, config, metadata={}, progress=False)
    json_path, _ = write_report(result, tmp_path / "r")
    json_path.write_text("old")
    write_report(result.as_dict(), tmp_path / "r")
    assert json.loads(json_path.read_text())["format"] == "crystalnet-evaluation"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["evaluation.json", "evaluation.md"]

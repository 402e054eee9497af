"""``crystalnet evaluate --structures``: methods (a)-(f), match rates per system, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pymatgen_crystalnet.cli.evaluate import evaluate as evaluate_cli
from pymatgen_crystalnet.evaluation.structure_report import render_structure_table, summarise_structures
from pymatgen_crystalnet.evaluation.structures import (
    METHODS,
    StructureEvaluationConfig,
    evaluate_structures,
    true_structure,
)

FAST = {"k": 2, "grid": 24, "n_search_trials": 4, "n_hypotheses": 2, "n_refine": 2, "time_budget_s": 30.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rows(data, formulas=("Nb", "NdTe")) -> list[int]:
    return [int(np.flatnonzero(data.formula == f)[0]) for f in formulas]


def test_every_method_on_two_crystals(eval_data, tiny_crystalnet):
    rows = _rows(eval_data)
    config = StructureEvaluationConfig(**FAST)
    seen = []
    records = evaluate_structures(tiny_crystalnet(seed=0), eval_data, rows, config, on_crystal=seen.append)
    assert seen == records and [r["formula"] for r in records] == ["Nb", "NdTe"]
    for record in records:
        assert set(record["methods"]) == set(METHODS)
        assert record["control_partner"] not in (None, record["material_id"])
        truth = true_structure(eval_data, rows[records.index(record)])
        assert truth.composition.reduced_formula == record["formula"]
        for method, rec in record["methods"].items():
            assert rec["seconds"] > 0
            assert rec["match_rank"] is None or 0 <= rec["match_rank"] < 2
            assert (rec["reason"] is None) == (rec["n_candidates"] > 0), method
        # the true density and the search in the true group find these simple crystals
        for method in ("f_true_density", "c_search_sg", "d_pooled_sg"):
            assert record["methods"][method]["match_rank"] == 0, (record["formula"], method)
            assert record["methods"][method]["rms"] < 0.05
        assert record["methods"]["c_search_sg"]["searched"] == [record["spacegroup_number"]]
        assert record["methods"]["a_decoded"]["searched"] == []
    summary = summarise_structures(records, config.methods, config.k)
    cubic = {row["method"]: row for row in summary if row["system"] == "cubic"}
    assert cubic["f_true_density"]["top1"] == 1.0 and cubic["f_true_density"]["n"] == 2
    for row in summary:
        assert 0 <= row["top1"] <= row["topk"] <= 1
    table = render_structure_table(summary, config.k)
    assert "| cubic | (f) decoder on the true IAM density | 2 | 100% | 100% |" in table


def test_methods_without_the_network_need_no_model(eval_data):
    rows = _rows(eval_data, ("Nb",))
    config = StructureEvaluationConfig(methods=["c_search_sg", "f_true_density"], **FAST)
    (record,) = evaluate_structures(None, eval_data, rows, config)
    assert set(record["methods"]) == {"c_search_sg", "f_true_density"}
    with pytest.raises(ValueError, match="need a model"):
        evaluate_structures(None, eval_data, rows, StructureEvaluationConfig(**FAST))
    with pytest.raises(ValueError, match="Unknown structure methods"):
        StructureEvaluationConfig(methods=["z_magic"])


def test_cli_structures(tmp_path, eval_export, eval_tiny_model):
    out = tmp_path / "structures"
    args = [
        "--structures", "--model", str(eval_tiny_model), "--data", str(eval_export), "--split", "all",
        "--limit", "2", "--grid", "24", "--samples", "2",
        "--set", "methods=a_decoded,c_search_sg,f_true_density", "--set", "n_search_trials=4",
        "--set", "n_refine=2", "--no-progress", "-o", str(out),
    ]  # fmt: skip
    r = CliRunner().invoke(evaluate_cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["structures.json", "structures.md"]
    doc = json.loads((out / "structures.json").read_text())
    assert doc["config"]["k"] == 2 and doc["config"]["grid"] == 24 and len(doc["crystals"]) == 2
    assert {row["method"] for row in doc["summary"]} == {"a_decoded", "c_search_sg", "f_true_density"}
    assert "(f) decoder on the true IAM density" in (out / "structures.md").read_text()
    bad = CliRunner().invoke(evaluate_cli, [*args[:-2], "--set", "methods=nope", "-o", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "Unknown structure methods" in bad.output

    # resume: an interrupted run (only its first crystal saved) completes to the same records
    first = doc["crystals"][0]
    (out / "structures.json").write_text(json.dumps({**doc, "crystals": [first]}))
    r = CliRunner().invoke(evaluate_cli, [*args, "--resume"], catch_exceptions=False)
    assert r.exit_code == 0 and "Resuming: 1 of 2 crystals" in r.output, r.output
    resumed = json.loads((out / "structures.json").read_text())
    assert [c["material_id"] for c in resumed["crystals"]] == [c["material_id"] for c in doc["crystals"]]
    assert resumed["crystals"][0] == first and not list(out.glob("*.tmp"))
    for old, new in zip(doc["crystals"], resumed["crystals"], strict=True):
        assert {m: x["match_rank"] for m, x in old["methods"].items()} == {
            m: x["match_rank"] for m, x in new["methods"].items()
        }
    # other settings, or --resume without --structures: refused with the reason
    other = CliRunner().invoke(evaluate_cli, [*args[:-2], "--set", "n_refine=3", "-o", str(out), "--resume"])
    assert other.exit_code != 0 and "settings differ (n_refine)" in other.output
    lone = CliRunner().invoke(
        evaluate_cli, ["--model", "x", "--data", str(eval_export), "--resume", "-o", str(out)]
    )
    assert lone.exit_code != 0 and "--resume continues a --structures run" in lone.output


def test_sample_per_system_is_seeded_and_per_system():
    systems = np.array(["cubic"] * 6 + ["trigonal"] * 3)
    config = StructureEvaluationConfig(sample_per_system=2)
    rows = config.sample_rows(np.arange(9), systems)
    assert len(rows) == 4 and list(rows) == sorted(rows)
    assert (systems[rows] == "cubic").sum() == 2 and (systems[rows] == "trigonal").sum() == 2
    assert list(rows) == list(config.sample_rows(np.arange(9), systems))
    assert list(StructureEvaluationConfig().sample_rows(np.arange(9), systems)) == list(range(9))

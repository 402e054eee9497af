"""``crystalnet evaluate`` and ``crystalnet evaluate-merge`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pymatgen_crystalnet.cli.evaluate import evaluate as evaluate_cli
from pymatgen_crystalnet.evaluation.report import render_markdown

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_crystalnet_evaluate_end_to_end(tmp_path, eval_export, eval_tiny_model, eval_data):
    seeds = tmp_path / "seeds.jsonl"
    first = eval_data.subset("test").material_id.tolist()
    seeds.write_text("\n".join(json.dumps({"material_id": i, "seed_split": "cubic:test"}) for i in first[:3]))
    out = tmp_path / "eval"
    args = [
        "--model", str(eval_tiny_model), "--data", str(eval_export), "--grid", "10", "--samples", "2",
        "--set", "ablation_samples=2", "--seed-splits", str(seeds), "--no-progress", "-o", str(out),
    ]  # fmt: skip
    r = CliRunner().invoke(evaluate_cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "Evaluated 5 crystals (test split)" in r.output and "model" in r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluation.json",
        "evaluation.md",
        "figures",
    ]  # no temp files
    figures = json.loads((out / "evaluation.json").read_text())["figures"]
    assert {f["kind"] for f in figures} == {"best", "worst"} and all(f["system"] == "cubic" for f in figures)
    best, worst = sorted(figures, key=lambda f: f["kind"])
    assert best["scores"]["cc"] >= worst["scores"]["cc"]
    pngs = sorted(p.name for p in (out / "figures").iterdir())
    assert pngs == sorted(f["file"].split("/")[1] for f in figures)
    assert (out / best["file"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["format"] == "crystalnet-evaluation" and doc["config"]["grid"] == 10
    assert doc["model"]["name"] == "tiny" and doc["model"]["metadata"]["b_factor"] == 1.0
    assert doc["data"]["n_selected"] == 5 and doc["data"]["selected"] == {"cubic": 5}
    assert doc["labels"]["paper_test_subset"] == "paper test subset (3 of 500 cubic, 0 of 237 trigonal)"
    assert [c["material_id"] for c in doc["crystals"]] == first
    assert all(c["paper_test"] == (c["material_id"] in first[:3]) for c in doc["crystals"])
    md = (out / "evaluation.md").read_text()
    assert md == render_markdown(doc)  # the Markdown is a view of the JSON
    for text in ("Table 1 form", "Table 2 form", "0.934 ± 0.149", "Forward verification", "`control`",
                 "`flat`", "`other_crystal`", "paper test subset (3 of 500 cubic", "Per-crystal scores",
                 first[0], "NOT the paper's Table 2", "![cubic best"):  # fmt: skip
        assert text in md, text

    # bad inputs: clear errors, nothing written (the last value of a repeated option wins)
    for bad, message in (
        (["--split", "val", "--systems", "cubic"], "No cubic crystals in the 'val' split"),
        (["--model", "no-such-model"], "neither a weights folder"),
        (["--data", str(tmp_path / "missing.npz")], "No dataset export"),
        (["--grid", "4"], "grid must be at least"),
    ):
        target = tmp_path / f"bad-{bad[0]}"
        r = CliRunner().invoke(evaluate_cli, [*args, *bad, "-o", str(target)])
        assert r.exit_code != 0 and message in r.output, r.output
        assert not target.exists()


def test_baselines_only(tmp_path, eval_export):
    out = tmp_path / "floor"
    args = ["--baselines-only", "--data", str(eval_export), "--grid", "10", "--no-progress", "-o", str(out)]
    r = CliRunner().invoke(evaluate_cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert set(doc["methods"]) == {"flat", "other_crystal", "other_crystal_translation"}
    assert doc["model"]["name"] == "baselines only (no model)"
    md = (out / "evaluation.md").read_text()
    assert "### Baselines, all evaluated crystals" in md and "Table 1 form" not in md
    r = CliRunner().invoke(evaluate_cli, ["--data", str(eval_export), "-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and "--baselines-only" in r.output


def test_set_reaches_every_setting_and_refuses_what_it_cannot_read(tmp_path, eval_export):
    base = ["--baselines-only", "--data", str(eval_export), "--no-progress", "--device", "auto"]
    out = tmp_path / "set"
    extra = ["--split", "all", "--set", "grid=9", "--set", "translation=false"]
    extra += ["--set", "crystal_systems=trigonal", "--limit", "3"]
    r = CliRunner().invoke(evaluate_cli, [*base, *extra, "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "evaluation.json").read_text())
    config = doc["config"]
    assert config["grid"] == 9 and config["translation"] is False and config["limit"] == 3
    assert doc["config"]["crystal_systems"] == ["trigonal"] and doc["data"]["selected"] == {"trigonal": 3}
    assert set(doc["methods"]) == {"flat", "other_crystal"}  # no translation-aware rows
    assert doc["device"] == "cpu" or doc["device"].startswith("cuda")
    # options left out take the configuration's defaults
    assert (config["samples"], config["seed"], config["batch_size"]) == (5, 0, 4)
    for bad, message in (
        (["--set", "unknown=1"], "has no field(s) 'unknown'; fields: ablation_samples, ablations"),
        (["--set", "grid"], "KEY=VALUE"),
        (["--set", "ablations=maybe"], "ablations: expected true or false, got 'maybe'"),
        (["--set", "samples=0"], "samples must be at least 1"),
        (["--set", "grid=10", "--grid", "12"], "grid given both as an option and with --set"),
        (["--device", "no-such-device"], "Unknown device"),
    ):
        target = tmp_path / "bad"
        r = CliRunner().invoke(evaluate_cli, [*base, *bad, "-o", str(target)])
        assert r.exit_code != 0 and message in r.output, (bad, r.output)
        assert not target.exists()


def test_help_does_not_import_torch():
    code = (
        "import sys; from click.testing import CliRunner; "
        "from pymatgen_crystalnet.cli.evaluate import evaluate; "
        "r = CliRunner().invoke(evaluate, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_merging_per_system_parts_equals_one_run(tmp_path, eval_export, eval_tiny_model):
    """Parts split by crystal system merge into the rows and tables of one combined run."""
    from pymatgen_crystalnet.cli.evaluate import evaluate_merge

    def run(out, *extra):
        args = ["--model", str(eval_tiny_model), "--data", str(eval_export), "--split", "all", "--grid", "8"]
        args += ["--samples", "2", "--set", "ablations=false", "--set", "translation=no", "--no-progress"]
        args += ["--threads", "1"]
        r = CliRunner().invoke(evaluate_cli, [*args, *extra, "-o", str(out)], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    run(tmp_path / "both", "--limit", "12", "--set", "examples=false")
    both = json.loads((tmp_path / "both" / "evaluation.json").read_text())
    ids = {row["material_id"]: row for row in both["crystals"]}
    systems = sorted({row["crystal_system"] for row in both["crystals"]})
    assert systems == ["cubic", "trigonal"]
    # the same crystals, one part per system (eval_export order is kept inside each system)
    for system in systems:
        n = sum(row["crystal_system"] == system for row in both["crystals"])
        run(tmp_path / system, "--systems", system, "--limit", str(n))
    r = CliRunner().invoke(evaluate_merge, [str(tmp_path / s) for s in systems] + ["-o", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    merged = json.loads((tmp_path / "m" / "evaluation.json").read_text())
    assert {row["material_id"] for row in merged["crystals"]} == set(ids)
    assert merged["data"]["n_selected"] == len(ids) and merged["data"]["selected"] == both["data"]["selected"]
    # deterministic scores (baselines; the control pairs within a system) equal the combined run's
    for row in merged["crystals"]:
        one = ids[row["material_id"]]
        assert row["control_partner"] == one["control_partner"]
        for method in ("flat", "other_crystal"):
            assert row["scores"][method] == pytest.approx(one["scores"][method], rel=1e-12)
    for method in ("flat", "other_crystal"):
        for scope in ("all", *systems):
            a, b = merged["summary"]["all"][method][scope], both["summary"]["all"][method][scope]
            assert a["n"] == b["n"] and a["cc"]["mean"] == pytest.approx(b["cc"]["mean"], rel=1e-12)
    assert "Merged from 2 parts" in (tmp_path / "m" / "evaluation.md").read_text()
    assert all((tmp_path / "m" / fig["file"]).is_file() for fig in merged["figures"])
    # a part twice, or parts with other settings, are refused with the reason
    r = CliRunner().invoke(evaluate_merge, [str(tmp_path / "cubic")] * 2 + ["-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and "parts must be disjoint" in r.output
    other = json.loads((tmp_path / "trigonal" / "evaluation.json").read_text())
    other["config"]["grid"] = 10
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "evaluation.json").write_text(json.dumps(other))
    parts = [str(tmp_path / "cubic"), str(tmp_path / "other")]
    r = CliRunner().invoke(evaluate_merge, [*parts, "-o", str(tmp_path / "y")])
    assert r.exit_code != 0 and "other settings" in r.output and "(grid)" in r.output
    assert not (tmp_path / "y" / "evaluation.json").exists()

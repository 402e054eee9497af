"""Evaluation protocol, baselines, control pairing, report and ``crystalnet evaluate`` end to end."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pymatgen_crystalnet.cli.evaluate import evaluate as evaluate_cli
from pymatgen_crystalnet.evaluation.baselines import control_partners, flat_map, other_crystal_grid
from pymatgen_crystalnet.evaluation.protocol import (
    ABLATION_MODES,
    EvaluationConfig,
    check_compatibility,
    evaluate,
    load_seed_splits,
)
from pymatgen_crystalnet.evaluation.report import render_markdown, write_report
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import save_model
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.scoring.density_metrics import grid_scores

TINY = {"latent_dim": 16, "embed_dim": 16, "fusion_hidden": 32, "regressor_hidden": 16, "nonnegative": False}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: small batched ops on a busy 2-core machine are faster and steadier."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A real export of the mini corpus' cubic and trigonal crystals (5 cubic test crystals)."""
    from pymatgen_crystalnet.data.config import BuildConfig
    from pymatgen_crystalnet.data.export import export_dataset
    from pymatgen_crystalnet.data.pipeline import build_dataset

    root = tmp_path_factory.mktemp("export")
    corpus = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
    build_dataset(
        corpus, root / "db", config=BuildConfig(crystal_systems=["cubic", "trigonal"]), progress=False
    )
    export_dataset(root / "db", root / "ct.npz")
    return root / "ct.npz"


@pytest.fixture(scope="module")
def data(export):
    from pymatgen_crystalnet.data.reader import load_export

    return load_export(export)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, data) -> Path:
    """A randomly initialised tiny model saved with the export's settings as metadata."""
    torch.manual_seed(0)
    model = CrystalNet.from_preset("small", **TINY)
    meta = {k: data.manifest[k] for k in ("cell", "b_factor", "wavelength")}
    meta.update(composition_mode="full", density_source="iam")
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny", metadata=meta)


# ------------------------------------------------------------------ baselines and pairing
def test_control_partners_pair_within_the_system_never_with_itself():
    systems = ["cubic"] * 7 + ["trigonal"] * 4 + ["hexagonal"] + ["cubic"] * 2
    partners = control_partners(systems, seed=3)
    assert partners[11] == -1  # alone in its system
    for i, p in enumerate(partners):
        if i == 11:
            continue
        assert p != i and systems[p] == systems[i]
    used = partners[partners >= 0]
    assert sorted(used.tolist()) == sorted(i for i in range(len(systems)) if i != 11)  # each once
    assert np.array_equal(partners, control_partners(systems, seed=3))  # deterministic
    assert not np.array_equal(partners, control_partners(systems, seed=4))
    # a system's pairing does not depend on the other systems
    only_trigonal = control_partners(["trigonal"] * 4, seed=3)
    assert np.array_equal(partners[7:11] - 7, only_trigonal)
    assert control_partners(["cubic", "cubic"])[0] == 1


def test_baselines_on_real_iam_grids_behave_as_the_design_says(mp_sample):
    """DESIGN §3: a flat map reaches a high SSIM but has CC = 0; another crystal's truth too."""
    rows = [r for r in mp_sample if r["crystal_system"] in ("cubic", "trigonal")]
    assert len(rows) == 6
    truth = torch.from_numpy(np.stack([iam_density_grid(canonical_cell(r["structure"]), 50) for r in rows]))
    flat = grid_scores(flat_map(truth), truth)
    assert flat["ssim"].mean().item() > 0.85  # the paper's headline range from a flat map
    assert torch.all(flat["cc"] == 0)
    assert torch.all(flat["nmae"] > 1.0)
    systems = [r["crystal_system"] for r in rows]
    partners = control_partners(systems)
    other = torch.from_numpy(np.stack([other_crystal_grid(truth[p].numpy(), 50) for p in partners]))
    scores = grid_scores(other, truth)  # as it is (the protocol's rotation search can only add)
    assert scores["ssim"].mean().item() > 0.7
    assert torch.all(scores["cc"] < 0.95)
    exact = grid_scores(truth, truth)  # the truth itself
    assert torch.allclose(exact["cc"], torch.ones(6, dtype=torch.float64))
    assert torch.all(exact["ssim"] > scores["ssim"]) and torch.all(exact["cc"] > scores["cc"])


def test_other_crystal_grid_is_taken_fractional_to_fractional():
    rng = np.random.default_rng(0)
    g = rng.random((8, 8, 8))
    assert other_crystal_grid(g, 8) is not None and np.array_equal(other_crystal_grid(g, 8), g)
    down = other_crystal_grid(g, 4)  # points i/4 = 2i/8: the grid's own values
    np.testing.assert_allclose(down, g[::2, ::2, ::2], atol=1e-12)


# ------------------------------------------------------------------ inputs and checks
def test_seed_split_files(tmp_path):
    rows = [
        {"material_id": "mp-1", "seed_split": "cubic:test"},
        {"material_id": "mp-2", "seed_split": None},
        {"material_id": "mp-3", "seed_split": "trigonal:train"},
    ]
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    assert load_seed_splits(path) == {"mp-1": "cubic:test", "mp-3": "trigonal:train"}
    (tmp_path / "m.json").write_text(json.dumps({"mp-9": "cubic:val"}))
    assert load_seed_splits(tmp_path / "m.json") == {"mp-9": "cubic:val"}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a seed-split file"):
        load_seed_splits(tmp_path / "bad.json")


def test_config_and_selection_errors(data):
    with pytest.raises(ValueError, match="Unknown split"):
        EvaluationConfig(split="testing")
    with pytest.raises(ValueError, match="grid"):
        EvaluationConfig(grid=5)
    model = CrystalNet.from_preset("small", **TINY)
    cubic_only = data.subset(crystal_systems="cubic")
    with pytest.raises(ValueError, match=r"'val' split .* is empty"):
        evaluate(model, cubic_only, EvaluationConfig(split="val", grid=8), progress=False)
    with pytest.raises(ValueError, match="No hexagonal crystals"):
        evaluate(model, data, EvaluationConfig(grid=8, crystal_systems=["hexagonal"]), progress=False)
    with pytest.raises(ValueError, match="seed_split"):
        evaluate(model, data, EvaluationConfig(grid=8, paper_subset_only=True), progress=False)


def test_model_and_data_mismatch_is_an_error_unless_allowed(data):
    assert check_compatibility({"cell": "primitive", "b_factor": 1.0, "density_source": "dft+iam"}, data) == (
        [],
        ["wavelength"],
    )
    bad = {"cell": "conventional", "b_factor": 0.0, "wavelength": 0.71073, "density_source": "iam"}
    mismatches, _ = check_compatibility(bad, data)
    assert len(mismatches) == 2 and "cell" in mismatches[0] and "b_factor" in mismatches[1]
    model = CrystalNet.from_preset("small", **TINY)
    config = EvaluationConfig(
        grid=8, samples=2, limit=2, ablations=False, translation=False, verification=False
    )
    with pytest.raises(ValueError, match="not comparable"):
        evaluate(model, data, config, metadata=bad, progress=False)
    config.allow_mismatch = True
    result = evaluate(model, data, config, metadata=bad, progress=False)
    assert result.notes[0].startswith("WARNING") and "b_factor" in result.notes[0]


# ------------------------------------------------------------------ the protocol
def test_evaluate_rows_methods_and_summary(data):
    torch.manual_seed(1)
    model = CrystalNet.from_preset("small", **TINY)
    ids = data.material_id.tolist()
    seeds = {ids[0]: "cubic:test", ids[2]: "cubic:test", ids[9]: "trigonal:train"}
    config = EvaluationConfig(split="all", grid=8, samples=2, ablation_samples=2, batch_size=3)
    result = evaluate(model, data, config, metadata={}, seed_splits=seeds, progress=False)
    assert len(result.crystals) == len(data)
    methods = set(result.methods)
    assert {"model", "model_translation", "strict", "selected", "control", "flat", "other_crystal"} <= methods
    assert {f"ablation:{m}" for m in ABLATION_MODES} <= methods
    for row in result.crystals:
        partner = row["control_partner"]
        assert partner != row["material_id"]
        assert data.crystal_system[ids.index(partner)] == row["crystal_system"]
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
    assert summary["verification"]["all"]["all"]["n"] == len(data)


def test_crystalnet_evaluate_end_to_end(tmp_path, export, tiny_model, data):
    seeds = tmp_path / "seeds.jsonl"
    first = data.subset("test").material_id.tolist()
    seeds.write_text("\n".join(json.dumps({"material_id": i, "seed_split": "cubic:test"}) for i in first[:3]))
    out = tmp_path / "eval"
    args = [
        "--model", str(tiny_model), "--data", str(export), "--grid", "10", "--samples", "2",
        "--ablation-samples", "2", "--seed-splits", str(seeds), "--no-progress", "-o", str(out),
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


def test_baselines_only(tmp_path, export):
    out = tmp_path / "floor"
    args = ["--baselines-only", "--data", str(export), "--grid", "10", "--no-progress", "-o", str(out)]
    r = CliRunner().invoke(evaluate_cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "evaluation.json").read_text())
    assert set(doc["methods"]) == {"flat", "other_crystal", "other_crystal_translation"}
    assert doc["model"]["name"] == "baselines only (no model)"
    md = (out / "evaluation.md").read_text()
    assert "### Baselines, all evaluated crystals" in md and "Table 1 form" not in md
    r = CliRunner().invoke(evaluate_cli, ["--data", str(export), "-o", str(tmp_path / "x")])
    assert r.exit_code != 0 and "--baselines-only" in r.output


def test_write_report_replaces_atomically(tmp_path, data):
    model = CrystalNet.from_preset("small", **TINY)
    config = EvaluationConfig(grid=8, samples=1, limit=2, ablations=False, verification=False, examples=False)
    result = evaluate(model, data, config, metadata={}, progress=False)
    json_path, _ = write_report(result, tmp_path / "r")
    json_path.write_text("old")
    write_report(result.as_dict(), tmp_path / "r")
    assert json.loads(json_path.read_text())["format"] == "crystalnet-evaluation"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["evaluation.json", "evaluation.md"]


def test_help_does_not_import_torch():
    code = (
        "import sys; from click.testing import CliRunner; "
        "from pymatgen_crystalnet.cli.evaluate import evaluate; "
        "r = CliRunner().invoke(evaluate, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_merging_per_system_parts_equals_one_run(tmp_path, export, tiny_model):
    """Parts split by crystal system merge into the rows and tables of one combined run."""
    from pymatgen_crystalnet.cli.evaluate import evaluate_merge

    def run(out, *extra):
        args = ["--model", str(tiny_model), "--data", str(export), "--split", "all", "--grid", "8"]
        args += ["--samples", "2", "--no-ablations", "--no-translation", "--no-progress", "--threads", "1"]
        r = CliRunner().invoke(evaluate_cli, [*args, *extra, "-o", str(out)], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    run(tmp_path / "both", "--limit", "12", "--no-figures")
    both = json.loads((tmp_path / "both" / "evaluation.json").read_text())
    ids = {row["material_id"]: row for row in both["crystals"]}
    systems = sorted({row["crystal_system"] for row in both["crystals"]})
    assert systems == ["cubic", "trigonal"]
    # the same crystals, one part per system (export order is kept inside each system)
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

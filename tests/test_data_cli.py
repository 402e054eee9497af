"""``crystalnet data build / export / info`` through click."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pymatgen_crystalnet.cli import main
from pymatgen_crystalnet.data.sources import read_jsonl

CORPUS = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
IDS = {"mp-569304", "mp-919", "mp-1018134", "mp-1184509", "bad-cif"}


def test_build_export_info(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r.model_dump(mode="json")) + "\n"
                              for r in read_jsonl(CORPUS) if r.material_id in IDS))
    store = tmp_path / "store"
    runner = CliRunner()
    res = runner.invoke(main, ["data", "build", "--source", str(corpus), "--store", str(store),
                               "--crystal-system", "cubic", "--crystal-system", "Trigonal",
                               "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "4 new" in res.output and "(1 failed)" in res.output  # hexagonal one not ingested
    lines = {line.split()[0]: line.split()[1:] for line in res.output.splitlines() if line}
    assert lines["cubic"] == ["0", "0", "1", "1"] and lines["trigonal"] == ["1", "1", "0", "2"]

    res = runner.invoke(main, ["data", "info", str(store)])
    assert res.exit_code == 0 and "3 built, 1 failed" in res.output

    out = tmp_path / "ds.npz"
    res = runner.invoke(main, ["data", "export", "--store", str(store), "-o", str(out),
                               "--split", "train", "--split", "val"])
    assert res.exit_code == 0, res.output
    assert "2 crystals" in res.output and out.is_file()
    res = runner.invoke(main, ["data", "info", str(out)])
    assert res.exit_code == 0 and "format 1" in res.output and "2 crystals" in res.output


def test_clear_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["data", "build", "--source", str(tmp_path / "nope.jsonl"),
                               "--store", str(tmp_path / "s")])
    assert res.exit_code != 0 and "does not exist" in res.output
    res = runner.invoke(main, ["data", "build", "--source", str(CORPUS), "--store",
                               str(tmp_path / "s"), "--crystal-system", "cubical"])
    assert res.exit_code != 0 and "cubical" in res.output
    res = runner.invoke(main, ["data", "info", str(tmp_path / "missing")])
    assert res.exit_code != 0 and "neither a store nor an export" in res.output
    res = runner.invoke(main, ["data", "export", "--store", str(tmp_path / "empty"), "-o",
                               str(tmp_path / "x.npz")])
    assert res.exit_code != 0 and "No dataset store" in res.output
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "empty").exists()


def test_build_settings_come_from_the_configs(tmp_path, monkeypatch):
    import pymatgen_crystalnet.data.pipeline as pipeline

    seen = {}

    def fake_build(source, store, *, config, split_config, **kwargs):
        seen.update(config=config, split=split_config)
        raise ValueError("stop here")

    monkeypatch.setattr(pipeline, "build_dataset", fake_build)
    runner = CliRunner()
    args = ["data", "build", "--source", str(CORPUS), "--store", str(tmp_path / "s")]
    res = runner.invoke(main, [*args, "--b-factor", "2", "--set", "build.grid_n=20",
                               "--set", "salt=other", "--set", "split.val_fraction=0.1"])
    assert res.exit_code == 1 and "stop here" in res.output
    config, split = seen["config"], seen["split"]
    assert (config.b_factor, config.grid_n, config.cell, config.symprec) == (2.0, 20, "primitive", 0.1)
    assert (split.salt, split.val_fraction, split.test_fraction) == ("other", 0.1, 0.05)
    res = runner.invoke(main, [*args, "--set", "gridn=20"])
    assert res.exit_code == 2 and "Unknown setting 'gridn'" in res.output
    assert "build.KEY with KEY in b_factor, cell, crystal_systems, grid_n, symprec" in res.output
    assert "split.KEY with KEY in honour_seed_split, salt" in res.output
    res = runner.invoke(main, ["data", "build", "--help"])
    text = " ".join(res.output.split())
    assert "Symmetry tolerance (Å). [x>0] [default: 0.1]" in text and "[default: primitive]" in text

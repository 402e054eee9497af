"""Seed splits, the model/export compatibility check and the crystal selection."""

from __future__ import annotations

import gzip
import json

import pytest

from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate
from pymatgen_crystalnet.evaluation.selection import check_compatibility, load_seed_splits


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


def test_config_and_selection_errors(eval_data, tiny_crystalnet):
    with pytest.raises(ValueError, match="Unknown split"):
        EvaluationConfig(split="testing")
    with pytest.raises(ValueError, match="grid"):
        EvaluationConfig(grid=5)
    model = tiny_crystalnet()
    cubic_only = eval_data.subset(crystal_systems="cubic")
    with pytest.raises(ValueError, match=r"'val' split .* is empty"):
        evaluate(model, cubic_only, EvaluationConfig(split="val", grid=8), progress=False)
    with pytest.raises(ValueError, match="No hexagonal crystals"):
        evaluate(model, eval_data, EvaluationConfig(grid=8, crystal_systems=["hexagonal"]), progress=False)
    with pytest.raises(ValueError, match="seed_split"):
        evaluate(model, eval_data, EvaluationConfig(grid=8, paper_subset_only=True), progress=False)


def test_model_and_data_mismatch_is_an_error_unless_allowed(eval_data, tiny_crystalnet):
    good = {"cell": "primitive", "b_factor": 1.0, "density_source": "dft+iam"}
    assert check_compatibility(good, eval_data) == ([], ["wavelength"])
    bad = {"cell": "conventional", "b_factor": 0.0, "wavelength": 0.71073, "density_source": "iam"}
    mismatches, _ = check_compatibility(bad, eval_data)
    assert len(mismatches) == 2 and "cell" in mismatches[0] and "b_factor" in mismatches[1]
    model = tiny_crystalnet()
    config = EvaluationConfig(
        grid=8, samples=2, limit=2, ablations=False, translation=False, verification=False
    )
    with pytest.raises(ValueError, match="not comparable"):
        evaluate(model, eval_data, config, metadata=bad, progress=False)
    config.allow_mismatch = True
    result = evaluate(model, eval_data, config, metadata=bad, progress=False)
    assert result.notes[0].startswith("WARNING") and "b_factor" in result.notes[0]

"""benchmarks/structure_table.py: a new model's network methods beside the search of an earlier run."""

import copy
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RECORDED = ROOT / "benchmarks" / "results" / "structures_trigonal.json"


@pytest.fixture(scope="module")
def table(load_script):
    return load_script("benchmarks/structure_table.py")


def _new_run(report: dict, n: int) -> tuple[list[dict], dict]:
    """The first n crystals of ``report`` as a run of the network methods alone."""
    records = copy.deepcopy(report["crystals"][:n])
    for record in records:
        record["methods"] = {m: v for m, v in record["methods"].items() if m in ("a_decoded", "d_pooled")}
    return records, dict(report["config"], methods=["a_decoded", "d_pooled"])


def test_reuse_takes_only_the_network_free_methods_of_the_same_crystal(table):
    earlier = json.loads(RECORDED.read_text())
    records, config = _new_run(earlier, 5)
    records[0]["methods"]["d_pooled"] = {"match_rank": None, "seconds": 1.0}  # the new model's own result
    taken = table.reuse_search(records, config, [earlier])
    assert taken == ["c_search", "c_search_sg", "f_true_density"]
    for record, old in zip(records, earlier["crystals"][:5]):
        assert set(record["methods"]) == {"a_decoded", "d_pooled", *taken}
        for method in taken:
            assert record["methods"][method] == old["methods"][method]
    assert records[0]["methods"]["d_pooled"] == {"match_rank": None, "seconds": 1.0}  # never overwritten


def test_reuse_refuses_other_settings_and_missing_crystals(table):
    earlier = json.loads(RECORDED.read_text())
    records, config = _new_run(earlier, 3)
    with pytest.raises(SystemExit, match=r"settings differ.*n_search_trials"):
        table.reuse_search(copy.deepcopy(records), dict(config, n_search_trials=10), [earlier])
    partial = dict(earlier, crystals=earlier["crystals"][1:])
    with pytest.raises(SystemExit, match="no earlier record"):
        table.reuse_search(records, config, [partial])

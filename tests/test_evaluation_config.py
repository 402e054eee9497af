"""EvaluationConfig: validation and ``key=value`` settings read by each field's type."""

from __future__ import annotations

import re

import pytest

from pymatgen_crystalnet.evaluation.config import EvaluationConfig


def test_with_settings_reads_each_field_by_its_type():
    base = EvaluationConfig()
    items = ["grid=24", "ablations=false", "translation=Yes", "limit=7", "crystal_systems=Cubic, trigonal"]
    config = base.with_settings([*items, "max_elements=none", "split=all", " seed = 3"])
    assert (config.grid, config.ablations, config.translation, config.limit) == (24, False, True, 7)
    assert config.crystal_systems == ["cubic", "trigonal"] and config.max_elements is None
    assert config.split == "all" and config.seed == 3
    assert base == EvaluationConfig()  # a copy: the original is unchanged
    assert base.with_settings([]) == base
    assert base.with_settings(["limit=5", "limit=none"]).limit is None  # the last one wins


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("unknown=1", "has no field(s) 'unknown'; fields: ablation_samples, ablations, allow_mismatch"),
        ("grid", "KEY=VALUE"),
        ("=3", "KEY=VALUE"),
        ("grid=ten", "grid: expected an integer, got 'ten'"),
        ("grid=none", "grid: expected an integer"),  # grid may not be None
        ("control=maybe", "control: expected true or false"),
        ("samples=0", "samples must be at least 1"),
        ("split=testing", "Unknown split"),
    ],
)
def test_with_settings_refuses_what_it_cannot_read(item, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        EvaluationConfig().with_settings([item])



"""De-duplication and split rules (pure functions)."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.data.splits import assign_splits, group_uniform, seed_split_of


def _doc(mid, formula="NaCl", sg=225, ehull=0.0, seed=None, nsites=2, system="cubic"):
    return {"material_id": mid, "formula": formula, "spacegroup_number": sg,
            "crystal_system": system, "e_above_hull": ehull, "seed_split": seed, "nsites": nsites}


def _by_id(entries):
    return {e.material_id: e for e in entries}


def test_seed_labels():
    assert seed_split_of("cubic:extraTrain") == "train"
    assert seed_split_of("trigonal:val") == "val"
    assert seed_split_of("cubic:test") == "test"
    assert seed_split_of(None) is None
    assert seed_split_of("cubic:weird") is None


def test_keeper_rule_order():
    docs = [
        _doc("mp-10", ehull=0.0, nsites=2),
        _doc("mp-2", ehull=0.0, nsites=2),            # same as mp-10 but lower id
        _doc("mp-5", ehull=0.3, seed="cubic:train"),  # seeded beats stable
        _doc("mp-7", formula="KCl", ehull=None),
        _doc("mp-8", formula="KCl", ehull=0.1),       # known beats unknown
        _doc("mp-30", formula="LiF", ehull=0.0, nsites=8),
        _doc("mp-31", formula="LiF", ehull=0.0, nsites=2),  # fewer sites
        _doc("mp-40", formula="CsCl", sg=221, seed="cubic:train"),
        _doc("mp-41", formula="CsCl", sg=221, seed="cubic:test"),  # test seed first
    ]
    e = _by_id(assign_splits(docs))
    assert e["mp-5"].kept and e["mp-5"].split == "train" and e["mp-5"].split_rule == "seed"
    assert e["mp-2"].duplicate_of == "mp-5" and e["mp-10"].duplicate_of == "mp-5"
    assert e["mp-8"].kept and e["mp-7"].duplicate_of == "mp-8"
    assert e["mp-31"].kept and e["mp-30"].duplicate_of == "mp-31"
    assert e["mp-41"].split == "test" and e["mp-40"].duplicate_of == "mp-41"
    # without the seeded one, the lower id wins the tie
    e2 = _by_id(assign_splits([_doc("mp-10"), _doc("mp-2")]))
    assert e2["mp-2"].kept and not e2["mp-10"].kept


def test_same_formula_other_space_group_is_not_a_duplicate():
    e = _by_id(assign_splits([_doc("mp-1", sg=225), _doc("mp-2", sg=221)]))
    assert e["mp-1"].kept and e["mp-2"].kept


def test_unstable_seeded_val_test_left_out_unknown_kept():
    e = _by_id(assign_splits([
        _doc("mp-1", formula="A", ehull=0.01, seed="cubic:test"),
        _doc("mp-2", formula="B", ehull=None, seed="cubic:test"),
        _doc("mp-3", formula="C", ehull=0.5, seed="cubic:extraTrain"),
    ]))
    assert not e["mp-1"].kept and e["mp-1"].split is None and "left out" in e["mp-1"].reason
    assert e["mp-2"].split == "test"
    assert e["mp-3"].split == "train"


def _random_corpus(n, seed=0):
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        formula = f"X{rng.randrange(n // 3)}"
        ehull = rng.choice([0.0, 0.0, 0.02, 0.3, None])
        seed_split = rng.choice([None] * 8 + ["cubic:train", "cubic:val", "cubic:test"])
        docs.append(_doc(f"mp-{i}", formula=formula, sg=rng.choice([221, 225]), ehull=ehull,
                         seed=seed_split, nsites=rng.randrange(1, 9)))
    return docs


def test_invariants_on_a_random_corpus():
    docs = _random_corpus(3000)
    entries = assign_splits(docs, SplitConfig(val_fraction=0.1, test_fraction=0.1))
    assert len(entries) == len(docs)
    splits_of_group = defaultdict(set)
    for e in entries:
        if e.split is not None:
            splits_of_group[e.group_key].add(e.split)
            assert e.kept
        if e.split in ("val", "test"):
            assert e.stable is not False, f"{e.material_id}: unstable crystal in {e.split}"
        if e.split_rule == "hash" and e.split in ("val", "test"):
            assert e.stable is True
    assert all(len(s) == 1 for s in splits_of_group.values())
    kept = [e for e in entries if e.kept]
    assert len(kept) == len({e.group_key for e in kept})
    hashed_stable = [e for e in kept if e.split_rule == "hash" and e.stable]
    share_test = sum(e.split == "test" for e in hashed_stable) / len(hashed_stable)
    assert 0.03 < share_test < 0.2


def test_deterministic_and_order_independent():
    docs = _random_corpus(500, seed=3)
    a = [e.model_dump(exclude={"last_updated"}) for e in assign_splits(docs)]
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    b = [e.model_dump(exclude={"last_updated"}) for e in assign_splits(shuffled)]
    assert a == b
    assert group_uniform("NaCl|225", "s") == group_uniform("NaCl|225", "s")
    assert group_uniform("NaCl|225", "s") != group_uniform("NaCl|225", "t")


def test_configs_validate_and_fingerprint():
    with pytest.raises(ValueError, match="crystal system"):
        BuildConfig(crystal_systems=["cubicc"])
    with pytest.raises(ValueError, match="cell"):
        BuildConfig(cell="supercell")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="below 1"):
        SplitConfig(val_fraction=0.6, test_fraction=0.5)
    assert BuildConfig(crystal_systems=["Cubic"]).crystal_systems == ["cubic"]
    assert BuildConfig().fingerprint() == BuildConfig(crystal_systems=["cubic"]).fingerprint()
    assert BuildConfig().fingerprint() != BuildConfig(b_factor=0.5).fingerprint()
    with pytest.raises(ValueError, match="B > 0"):
        BuildConfig(b_factor=0.0)
    cfg = BuildConfig(cell="conventional", b_factor=0.5)
    assert BuildConfig.from_dict(cfg.as_dict()) == cfg

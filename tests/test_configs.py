"""Preset-backed settings dataclasses and ``key=value`` settings (pymatgen_crystalnet.configs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pytest
from monty.json import MontyDecoder

from pymatgen_crystalnet.configs import (
    PresetConfig,
    apply_section_settings,
    apply_settings,
    apply_values,
    field_types,
    parse_setting,
    split_setting,
)
from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.config import TrainingConfig

_TOY_PRESETS = {"big": {"count": 10}}


@dataclass
class _Toy(PresetConfig):
    count: int = 1
    scale: float = 1.0
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    cycles: tuple[int, ...] = (1, 2)
    names: list[str] | None = None
    limit: int | None = None
    preset: str | None = field(default=None, compare=False)

    presets = _TOY_PRESETS
    preset_kind = "toy"

    def __post_init__(self) -> None:
        self.cycles = tuple(self.cycles)
        if self.mode not in ("a", "b"):
            raise ValueError(f"mode must be 'a' or 'b', got {self.mode!r}.")


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("3", int, 3),
        (" 2.5 ", float, 2.5),
        ("1e-3", float, 1e-3),
        ("true", bool, True),
        ("Off", bool, False),
        ("periodic", str, "periodic"),
        ("none", int | None, None),
        ("7", int | None, 7),
        ("10,20, 40", tuple[int, ...], (10, 20, 40)),
        ("[10, 20]", tuple[int, ...], (10, 20)),
        ("cubic,trigonal", list[str] | None, ["cubic", "trigonal"]),
        ("null", list[str] | None, None),
        ("b", Literal["a", "b"], "b"),
        ("none", Literal["full", "none"] | None, "none"),
        ("null", Literal["full", "none"] | None, None),
    ],
)
def test_parse_setting_reads_each_type(text, kind, expected):
    assert parse_setting(text, kind) == expected


@pytest.mark.parametrize(("text", "kind"), [("x", int), ("1.5", int), ("maybe", bool), ("abc", float)])
def test_parse_setting_refuses_values_of_the_wrong_type(text, kind):
    with pytest.raises(ValueError, match="expected"):
        parse_setting(text, kind)


def test_split_setting_needs_key_and_equals_sign():
    assert split_setting(" lr =1e-3") == ("lr", "1e-3")
    assert split_setting("salt=a=b") == ("salt", "a=b")
    for bad in ("lr", "=3"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            split_setting(bad)


def test_apply_settings_parses_by_field_type_and_keeps_the_rest():
    toy = _Toy.from_preset("big")
    changed = apply_settings(toy, ["scale=0.5", "flag=yes", "cycles=3,4", "limit=none", "count=4"])
    assert changed == _Toy(count=4, scale=0.5, flag=True, cycles=(3, 4), limit=None)
    assert changed.preset == "big"
    assert toy.count == 10  # the original is not modified
    assert toy.with_settings(["count=2", "count=5"]).count == 5  # later items win


def test_unknown_field_names_the_valid_fields():
    with pytest.raises(ValueError, match=r"no field\(s\) 'cuont'.*fields: count, cycles, flag"):
        _Toy().with_settings(["cuont=3"])
    with pytest.raises(ValueError, match=r"_Toy.count: expected an integer"):
        _Toy().with_settings(["count=three"])
    with pytest.raises(ValueError, match="mode must be"):
        _Toy().with_settings(["mode=c"])  # the dataclass still validates


def test_from_preset_and_from_dict_are_strict():
    with pytest.raises(ValueError, match=r"Unknown toy preset 'huge'; choose from \['big'\]"):
        _Toy.from_preset("huge")
    toy = _Toy.from_preset("big", scale=2.0)
    assert (toy.count, toy.scale, toy.preset) == (10, 2.0, "big")
    assert _Toy.from_dict(json.loads(json.dumps(toy.as_dict()))) == toy
    with pytest.raises(ValueError, match=r"Unknown _Toy field\(s\): bogus, other"):
        _Toy.from_dict({**toy.as_dict(), "bogus": 1, "other": 2})


def test_package_configs_share_the_preset_rules():
    for cls, kind in ((CrystalNetConfig, "model"), (TrainingConfig, "training")):
        with pytest.raises(ValueError, match=f"Unknown {kind} preset"):
            cls.from_preset("huge")
        small = cls.from_preset("small")
        assert small.preset == "small"
        assert cls.from_dict(small.as_dict()) == small
        assert MontyDecoder().process_decoded(small.as_dict()) == small
        with pytest.raises(ValueError, match=f"Unknown {cls.__name__} field"):
            cls.from_dict({**small.as_dict(), "bogus": 1})
    train = TrainingConfig.from_preset("small").with_settings(["restart_cycles=[5, 10]", "amp=off"])
    assert train.restart_cycles == (5, 10) and train.amp == "off"
    model = CrystalNetConfig.from_preset("small").with_settings(["positional_encoding=periodic"])
    assert model.positional_encoding == "periodic" and model.latent_dim == 128


def test_settings_work_on_plain_dataclasses_too():
    build = apply_settings(BuildConfig(), ["symprec=0.05", "crystal_systems=Cubic,trigonal"])
    assert build.symprec == 0.05 and build.crystal_systems == ["cubic", "trigonal"]
    split = apply_values(SplitConfig(), {"val_fraction": "0.1", "honour_seed_split": "false"})
    assert split.val_fraction == 0.1 and split.honour_seed_split is False
    assert set(field_types(SplitConfig)) == {
        "val_fraction", "test_fraction", "stable_tolerance", "salt", "honour_seed_split"
    }  # fmt: skip


def test_section_settings_route_keys_to_their_config():
    small = "small"
    configs = {"model": CrystalNetConfig.from_preset(small), "training": TrainingConfig.from_preset(small)}
    out = apply_section_settings(configs, ["latent_dim=16", "training.epochs=2", "model.frequency_seed=3"])
    assert out["model"].latent_dim == 16 and out["model"].frequency_seed == 3
    assert out["training"].epochs == 2 and out["training"].batch_size == 32
    assert apply_section_settings(configs, [])["model"] is configs["model"]
    with pytest.raises(ValueError, match=r"ambiguous; write model\.preset or training\.preset"):
        apply_section_settings(configs, ["preset=x"])
    valid = r"valid keys: model\.KEY with KEY in .*latent_dim"
    with pytest.raises(ValueError, match=r"Unknown setting 'bogus'; " + valid):
        apply_section_settings(configs, ["bogus=1"])
    with pytest.raises(ValueError, match=r"'training\.latent_dim'.*training\.KEY with KEY in .*epochs"):
        apply_section_settings(configs, ["training.latent_dim=1"])
    single = apply_section_settings({"build": BuildConfig()}, ["build.grid_n=20", "symprec=0.2"])["build"]
    assert (single.grid_n, single.symprec) == (20, 0.2)
    with pytest.raises(ValueError, match=r"valid keys: b_factor, cell, crystal_systems, grid_n, symprec\."):
        apply_section_settings({"build": BuildConfig()}, ["grid=3"])

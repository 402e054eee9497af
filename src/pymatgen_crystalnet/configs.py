"""Settings dataclasses: named presets, strict rebuilding, and ``key=value`` settings.

Every settings object of the package is an ``MSONable`` dataclass. This module gives them one
way to

- start from a named preset (:meth:`PresetConfig.from_preset`),
- be rebuilt from :meth:`as_dict` output, refusing unknown fields
  (:meth:`PresetConfig.from_dict`),
- take settings written as ``"key=value"`` strings, each value read by its field's type
  (:func:`apply_settings`, :meth:`PresetConfig.with_settings`), and share such settings
  among several named configs (``"model.latent_dim=64"``, or ``"latent_dim=64"`` where the
  name is unambiguous; :func:`apply_section_settings`), which is what every
  ``--set KEY=VALUE`` of the command line uses.

:func:`apply_settings` and :func:`apply_values` work on any dataclass, not only on
:class:`PresetConfig` subclasses. Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

from monty.json import MSONable

__all__ = [
    "PresetConfig",
    "apply_section_settings",
    "apply_settings",
    "apply_values",
    "field_types",
    "parse_setting",
    "split_setting",
]

C = TypeVar("C")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NONE = {"none", "null"}


def field_types(config: Any) -> dict[str, Any]:
    """The resolved type of each init field of a dataclass (instance or class), by name."""
    cls = config if isinstance(config, type) else type(config)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass.")
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def _describe(kind: Any) -> str:
    origin = get_origin(kind)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(kind))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(kind))
    if kind is type(None):
        return "none"
    if origin in (list, tuple):
        return "a list"
    return "a " + getattr(kind, "__name__", str(kind))


def parse_setting(text: str, kind: Any) -> Any:
    """Read the string ``text`` as a value of the type ``kind``.

    ``bool`` takes true/false, yes/no, on/off, 1/0; ``int`` and ``float`` their literals;
    an optional type also takes ``none``/``null`` (unless ``"none"`` is one of its literal
    choices); a list or tuple takes a JSON list or
    comma-separated items (each read by the element type); a ``Literal`` keeps the text (the
    dataclass checks the choice). Other types take JSON, or the text itself.

    Raises
    ------
    ValueError
        If the text cannot be read as that type.
    """
    text = text.strip()
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = get_args(kind)
        if any(get_origin(o) is Literal and text in get_args(o) for o in options):
            return text  # a choice spelled "none" is that choice, not None
        if type(None) in options and text.lower() in _NONE:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return parse_setting(text, option)
            except ValueError:
                continue
        raise ValueError(f"expected {_describe(kind)}, got {text!r}")
    if origin is Literal:
        choices = get_args(kind)
        if all(isinstance(c, str) for c in choices):
            return text
        for choice in choices:
            if str(choice) == text:
                return choice
        raise ValueError(f"expected {_describe(kind)}, got {text!r}")
    if origin in (list, tuple):
        args = {a for a in get_args(kind) if a is not Ellipsis}
        element = args.pop() if len(args) == 1 else Any
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON list, got {text!r}") from exc
            if not isinstance(items, list):
                raise ValueError(f"expected a list, got {text!r}")
        else:
            items = [t for t in (s.strip() for s in text.split(",")) if t]
        values = [parse_setting(v, element) if isinstance(v, str) else v for v in items]
        return tuple(values) if origin is tuple else values
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if kind is str:
        return text
    if kind is type(None):
        if text.lower() in _NONE:
            return None
        raise ValueError(f"expected none, got {text!r}")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _unknown(config: Any, keys: Iterable[str], known: Iterable[str]) -> ValueError:
    return ValueError(
        f"{type(config).__name__} has no field(s) {', '.join(repr(k) for k in keys)}; "
        f"fields: {', '.join(sorted(known))}."
    )


def apply_values(config: C, values: Mapping[str, Any]) -> C:
    """Return a copy of the dataclass ``config`` with some fields replaced.

    String values are read by the field's type (:func:`parse_setting`), other values are used
    as they are; the dataclass then validates the result.

    Raises
    ------
    ValueError
        If a key is not a field (the message lists the fields), a string cannot be read as its
        field's type, or the dataclass refuses the new values.
    """
    kinds = field_types(config)
    unknown = [k for k in values if k not in kinds]
    if unknown:
        raise _unknown(config, unknown, kinds)
    parsed = {}
    for key, value in values.items():
        if isinstance(value, str):
            try:
                value = parse_setting(value, kinds[key])
            except ValueError as exc:
                raise ValueError(f"{type(config).__name__}.{key}: {exc}.") from None
        parsed[key] = value
    return dataclasses.replace(config, **parsed)  # type: ignore[type-var]


def split_setting(item: str) -> tuple[str, str]:
    """Split ``"key=value"`` into its stripped key and its value.

    Raises
    ------
    ValueError
        If there is no ``=`` or the key is empty.
    """
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"A setting must read KEY=VALUE, got {item!r}.")
    return key.strip(), value


def apply_settings(config: C, items: Iterable[str]) -> C:
    """Return a copy of the dataclass ``config`` with ``"key=value"`` settings applied.

    Each value is read by its field's type (:func:`parse_setting`); later items win.

    Raises
    ------
    ValueError
        If an item is not ``key=value``, names no field (the message lists the fields), or
        its value does not fit.
    """
    values: dict[str, str] = {}
    for item in items:
        key, value = split_setting(item)
        values[key] = value
    return apply_values(config, values)


def _valid_keys(kinds: Mapping[str, Mapping[str, Any]]) -> str:
    if len(kinds) == 1:
        return ", ".join(sorted(next(iter(kinds.values()))))
    return "; ".join(f"{section}.KEY with KEY in {', '.join(sorted(k))}" for section, k in kinds.items())


def apply_section_settings(configs: Mapping[str, Any], items: Iterable[str]) -> dict[str, Any]:
    """Apply ``"key=value"`` settings to several named dataclass configs at once.

    A key is ``section.field`` (``"model.latent_dim"``) or a bare field name when exactly one
    of the configs has that field (``"latent_dim"``). Each value is read by its field's type.

    Parameters
    ----------
    configs
        Section name → dataclass instance (e.g. ``{"model": ..., "training": ...}``).
    items
        ``"key=value"`` strings; later ones win.

    Returns
    -------
    dict
        Section name → the config with its settings applied (untouched ones are the inputs).

    Raises
    ------
    ValueError
        If an item is not ``key=value``, its key is unknown (the message lists the valid
        keys) or ambiguous, or a value does not fit its field.
    """
    kinds = {section: field_types(config) for section, config in configs.items()}
    per_section: dict[str, list[str]] = {section: [] for section in configs}
    for item in items:
        key, value = split_setting(item)
        section, dot, name = key.partition(".")
        if dot and section in kinds:
            if name not in kinds[section]:
                raise ValueError(f"Unknown setting {key!r}; valid keys: {_valid_keys(kinds)}.")
            per_section[section].append(f"{name}={value}")
            continue
        owners = [s for s, k in kinds.items() if key in k]
        if len(owners) > 1:
            spelled = " or ".join(f"{s}.{key}" for s in owners)
            raise ValueError(f"{key!r} is ambiguous; write {spelled}.")
        if not owners:
            raise ValueError(f"Unknown setting {key!r}; valid keys: {_valid_keys(kinds)}.")
        per_section[owners[0]].append(f"{key}={value}")
    return {
        section: apply_settings(config, per_section[section]) if per_section[section] else config
        for section, config in configs.items()
    }


class PresetConfig(MSONable):
    """Base of ``MSONable`` settings dataclasses with named presets.

    A subclass is a ``@dataclass`` with a ``preset: str | None`` field (the name it came from)
    and sets two class attributes: ``presets`` (name → keyword arguments) and ``preset_kind``
    (the word used in messages, e.g. ``"model"``).
    """

    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    preset_kind: ClassVar[str] = ""

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Any:
        """Return the named preset, with optional field overrides.

        Raises
        ------
        ValueError
            For an unknown preset name (the message lists the presets).
        """
        if name not in cls.presets:
            kind = f"{cls.preset_kind} preset" if cls.preset_kind else "preset"
            raise ValueError(f"Unknown {kind} {name!r}; choose from {sorted(cls.presets)}.")
        return cls(**{**cls.presets[name], "preset": name, **overrides})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild from :meth:`as_dict` output, rejecting unknown keys.

        Raises
        ------
        ValueError
            If ``d`` holds keys that are not fields (the message names them).
        """
        kwargs = {k: v for k, v in d.items() if not k.startswith("@")}
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} field(s): {', '.join(unknown)}.")
        return cls(**kwargs)

    def with_settings(self, items: Iterable[str]) -> Any:
        """A copy with ``"key=value"`` settings applied (see :func:`apply_settings`)."""
        return apply_settings(self, items)

    def with_values(self, values: Mapping[str, Any]) -> Any:
        """A copy with some fields replaced (see :func:`apply_values`)."""
        return apply_values(self, values)

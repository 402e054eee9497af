"""The command line built from the configs: one ``--set KEY=VALUE`` and options that defer to them.

Every command that runs from a settings dataclass takes ``--set KEY=VALUE`` (repeatable), a
field of one of its configs written ``section.field`` or, where only one config has that field,
``field`` alone; the value is read by the field's type (``pymatgen_crystalnet.configs``).
A key no config has is a usage error that lists the valid keys.

Options that set a config field (``--grid``, ``--b-factor``, …) default to ``None``, meaning
"the config's own default": the value is never written twice, and ``--help`` shows the
config's default, looked up when the help is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import click

__all__ = ["ConfigDefaultOption", "apply_set", "given", "set_option"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def set_option(what: str) -> Callable[[F], F]:
    """The ``--set KEY=VALUE`` option (into the parameter ``settings``), for the configs ``what``."""
    return click.option(
        "--set",
        "settings",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Set a field of {what} (repeatable); a bare KEY where it is unambiguous.",
    )


def apply_set(configs: Mapping[str, Any], settings: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` items to the named configs; a bad item is a click usage error.

    Parameters
    ----------
    configs
        Section name → dataclass config (``{"model": ..., "training": ...}``).
    settings
        The ``KEY=VALUE`` strings of ``--set``.

    Returns
    -------
    dict
        Section name → config with the settings applied.

    Raises
    ------
    click.BadParameter
        If an item is not ``KEY=VALUE``, names no field (the message lists the valid keys),
        is ambiguous, or its value does not fit the field.
    """
    from pymatgen_crystalnet.configs import apply_section_settings

    try:
        return apply_section_settings(configs, settings)
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


def given(**values: Any) -> dict[str, Any]:
    """The options that were given (not None, not an empty ``multiple``), by name."""
    return {k: v for k, v in values.items() if v is not None and v != ()}


def _render(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


class ConfigDefaultOption(click.Option):
    """A click option whose default is a config's: ``None`` unless given.

    Parameters
    ----------
    config_default
        Returns the config's default for this option; called only when ``--help`` is shown
        (so the config module is imported then, not when the command line starts).
    """

    def __init__(self, *args: Any, config_default: Callable[[], Any], **kwargs: Any) -> None:
        kwargs.setdefault("default", None)
        super().__init__(*args, **kwargs)
        self._config_default = config_default

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        """Click's help line, with the config's default appended."""
        record = super().get_help_record(ctx)
        if record is None:
            return None
        names, text = record
        return names, f"{text}  [default: {_render(self._config_default())}]".strip()

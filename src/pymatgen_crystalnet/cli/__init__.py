"""The ``crystalnet`` command line.

Sub-command groups live in their own modules (``cli/data.py``, ``cli/train.py``, …) and are
registered here lazily, so ``crystalnet --help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging

import click

__all__ = ["main"]

#: sub-command name -> "module:attribute" of a click command or group
_SUBCOMMANDS: dict[str, str] = {
    "data": "pymatgen_crystalnet.cli.data:data",
    "density": "pymatgen_crystalnet.cli.density:density",
    "train": "pymatgen_crystalnet.cli.train:train",
    "solve": "pymatgen_crystalnet.cli.solve:solve",
    "index": "pymatgen_crystalnet.cli.index:index",
    "evaluate": "pymatgen_crystalnet.cli.evaluate:evaluate",
    "evaluate-merge": "pymatgen_crystalnet.cli.evaluate:evaluate_merge",
    "models": "pymatgen_crystalnet.cli.solve:models",
    "workflow": "pymatgen_crystalnet.cli.workflow:workflow",
}


class _LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_SUBCOMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _SUBCOMMANDS:
            module, attr = _SUBCOMMANDS[cmd_name].split(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
                return None
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="pymatgen-crystalnet")
def main(verbose: int) -> None:
    """CrystalNet: electron densities from powder X-ray diffraction."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

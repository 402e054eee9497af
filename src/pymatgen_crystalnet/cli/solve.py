"""``crystalnet solve`` and ``crystalnet models``.

The solve settings are those of :class:`~pymatgen_crystalnet.solver.config.SolveConfig`:
``-n``, ``--grid`` and ``--seed`` set three of them, ``--set KEY=VALUE`` any of them
(``--set composition_mode=no_ratios``, ``--set deterministic=true``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from pymatgen_crystalnet.cli.settings import ConfigDefaultOption, apply_set, given, set_option

logger = logging.getLogger(__name__)


def _solve_default(name: str):
    from pymatgen_crystalnet.solver.config import SolveConfig

    return getattr(SolveConfig, name)


def _load_pattern(path: Path, wavelength: str | None):
    """A DiffractionPattern JSON (pymatgen ``as_dict``), or any profile file."""
    if path.suffix.lower() == ".json":
        from pymatgen.analysis.diffraction.core import DiffractionPattern

        try:
            data = json.loads(path.read_text())
            return DiffractionPattern.from_dict(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{path} is not a pymatgen DiffractionPattern JSON: {exc}") from exc
    return path


@click.command("solve")
@click.argument("pattern", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--composition", default=None, help="Formula (NaCl), elements ('Na Cl'), or omit.")
@click.option("--lattice-a", type=float, default=None, help="Cubic lattice parameter a (Å).")
@click.option(
    "--lattice",
    "lattice_abc",
    default=None,
    help="Lattice parameters 'a b c alpha beta gamma' (Å, degrees) of the cell the density lives on.",
)
@click.option("-w", "--wavelength", default=None, help="Wavelength (Å or CuKa1, MoKa, …) if not in the file.")
@click.option("-n", "--n-candidates", type=int, cls=ConfigDefaultOption,
              config_default=lambda: _solve_default("n_candidates"), help="Candidates (latent samples).")
@click.option("--grid", type=int, cls=ConfigDefaultOption, config_default=lambda: _solve_default("grid"),
              help="Grid points per cell axis.")
@click.option("--model", "model_name", default=None, help="Bundled model name (default: the default).")
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--seed", type=int, cls=ConfigDefaultOption, config_default=lambda: _solve_default("seed"),
              help="Seed of the latent samples.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if present), cpu, cuda:N.")
@click.option(
    "-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True
)
@set_option("the solve settings (SolveConfig: n_candidates, grid, seed, composition_mode, deterministic)")
def solve(
    pattern: Path,
    composition: str | None,
    lattice_a: float | None,
    lattice_abc: str | None,
    wavelength: str | None,
    n_candidates: int | None,
    grid: int | None,
    model_name: str | None,
    checkpoint: Path | None,
    seed: int | None,
    device: str,
    out: Path,
    settings: tuple[str, ...],
) -> None:
    """Propose electron densities for the powder PATTERN and rank them by forward verification.

    PATTERN is a profile file (.xy, .xye, .csv, IUCr powder CIF, …) or a pymatgen
    DiffractionPattern JSON (sticks). OUT receives, per candidate density, a CHGCAR (.vasp) and
    an XSF file with its atoms and a CIF of its structure (a .cube when it has no atoms), a CIF
    per refined structure (structure_N.cif), summary.json and solve.png; the previous contents
    of OUT (an earlier result set) are replaced as a whole.
    """
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.configs import apply_values
    from pymatgen_crystalnet.plotting import save_figure, solve_figure
    from pymatgen_crystalnet.solver.config import SolveConfig
    from pymatgen_crystalnet.solver.output import OutputFolderError, check_result_folder, write_result_set
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver

    try:
        config = apply_values(SolveConfig(), given(n_candidates=n_candidates, grid=grid, seed=seed))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    config = apply_set({"solve": config}, settings)["solve"]

    if lattice_a is not None and lattice_abc is not None:
        raise click.ClickException("Give either --lattice-a or --lattice, not both.")
    lattice = lattice_a
    if lattice_abc is not None:
        try:
            params = [float(v) for v in lattice_abc.replace(",", " ").split()]
        except ValueError:
            params = []
        if len(params) != 6:
            raise click.ClickException("--lattice needs six numbers: a b c alpha beta gamma.")
        lattice = Lattice.from_parameters(*params)
    try:
        check_result_folder(out)
    except OutputFolderError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        solver = (
            CrystalNetSolver.from_checkpoint(checkpoint, device=device)
            if checkpoint
            else CrystalNetSolver.from_pretrained(model_name, device=device)
        )
        result = solver.solve(
            _load_pattern(pattern, wavelength),
            composition,
            lattice=lattice,
            wavelength=wavelength,
            **config.solve_kwargs(),
        )
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc

    try:
        measured = None if pattern.suffix.lower() == ".json" else pattern  # a profile file: draw it
        names = write_result_set(
            result,
            out,
            figure=lambda res, path: save_figure(solve_figure(res, profile=measured), path),
            extra_summary={"pattern": str(pattern), "composition": composition},
        )
    except OutputFolderError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{len(result)} candidates on a {result.lattice_source} lattice "
        f"(a, b, c = {', '.join(f'{v:.4f}' for v in result.lattice.abc)} Å); composition mode "
        f"{result.composition_mode}"
    )
    for cand in result:
        click.echo(
            f"  #{cand.rank + 1}: cosine {cand.agreement['cosine']:.4f}, Rwp {cand.agreement['rwp']:.3f}"
        )
    click.echo(f"wrote {out}/: {', '.join(names)}")


@click.group("models")
def models() -> None:
    """Bundled pretrained models."""


@models.command("list")
def list_models() -> None:
    """List the models bundled with the package."""
    from pymatgen_crystalnet.model.pretrained import default_pretrained, list_pretrained

    available = list_pretrained()
    if not available:
        click.echo("No pretrained model is bundled with this installation.")
        return
    default = default_pretrained()
    for name, info in available.items():
        mark = "*" if name == default else " "
        click.echo(
            f"{mark} {name}: preset {info.get('preset')}, {info.get('n_parameters', 0):,} parameters, "
            f"{info.get('dtype')}, cell {info.get('cell', '?')}"
        )

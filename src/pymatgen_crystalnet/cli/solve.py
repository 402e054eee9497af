"""``crystalnet solve`` and ``crystalnet models``.

The solve settings are those of :class:`~pymatgen_crystalnet.solver.config.SolveConfig`:
``-n``, ``--grid`` and ``--seed`` set three of them, ``--set KEY=VALUE`` any of them
(``--set composition_mode=no_ratios``, ``--set deterministic=true``).

Exit status: 0 with a solution; 1 for a refused input (a message names the problem);
:data:`EXIT_NO_SOLUTION` (3) when the solve ran but no candidate's pattern agrees with the
input above the threshold ("no solution found"; the output is still written).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from pymatgen_crystalnet.cli.settings import ConfigDefaultOption, apply_set, given, set_option

logger = logging.getLogger(__name__)

#: Exit status of ``crystalnet solve`` when no candidate reaches the agreement threshold.
EXIT_NO_SOLUTION = 3


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
    help="The cell, in any setting: 'a b c alpha beta gamma' (Å, degrees) or nine numbers (the rows "
    "of the matrix, Å, right-handed). It is reduced to the model's cell. Omitted: the pattern is indexed.",
)
@click.option(
    "-w", "--wavelength", default=None,
    help="Wavelength (Å, or CuKa1, CuKa, MoKa, …). Required unless the file states it; never assumed.",
)
@click.option("-n", "--n-candidates", type=int, cls=ConfigDefaultOption,
              config_default=lambda: _solve_default("n_candidates"), help="Candidates (latent samples).")
@click.option("--grid", type=int, cls=ConfigDefaultOption, config_default=lambda: _solve_default("grid"),
              help="Grid points per cell axis.")
@click.option("--model", "model_name", default=None, help="Bundled model name (default: the default).")
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--seed", type=int, cls=ConfigDefaultOption, config_default=lambda: _solve_default("seed"),
              help="Seed of the latent samples.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if present), cpu, cuda:N.")
@click.option("--structures/--no-structures", default=True, show_default=True,
              help="Solve crystal structures from the densities (needs -c with the formula).")
@click.option("--refine/--no-refine", default=None,
              help="Refine the structures against the pattern (default: refine).")
@click.option("--z", "z", type=int, default=None,
              help="Formula units per conventional cell (default: every Z the cell volume allows).")
@click.option("--space-group", default=None,
              help="Space group (number or symbol, e.g. 225 or Fm-3m); default: from the absences.")
@click.option("--time-budget", type=float, default=None,
              help="Seconds for the structure step (default: StructureSolveConfig.time_budget_s, 60).")
@click.option(
    "-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True
)
@set_option(
    "the solve settings (SolveConfig: n_candidates, grid, seed, composition_mode, deterministic) and "
    "the structure step's (StructureSolveConfig, section 'structure': n_search_trials, n_refine, keep, …)"
)
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
    structures: bool,
    refine: bool | None,
    z: int | None,
    space_group: str | None,
    time_budget: float | None,
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
    from pymatgen_crystalnet.configs import apply_values
    from pymatgen_crystalnet.plotting import save_figure, solve_figure
    from pymatgen_crystalnet.solver.config import SolveConfig
    from pymatgen_crystalnet.solver.output import OutputFolderError, check_result_folder, write_result_set
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

    try:
        config = apply_values(SolveConfig(), given(n_candidates=n_candidates, grid=grid, seed=seed))
        structure_config = apply_values(
            StructureSolveConfig(),
            given(refine=refine, z=z, space_group=space_group, time_budget_s=time_budget),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    sections = apply_set({"solve": config, "structure": structure_config}, settings)
    config, structure_config = sections["solve"], sections["structure"]

    if lattice_a is not None and lattice_abc is not None:
        raise click.ClickException("Give either --lattice-a or --lattice, not both.")
    lattice = lattice_a
    if lattice_abc is not None:
        try:
            params = [float(v) for v in lattice_abc.replace(",", " ").split()]
        except ValueError:
            params = []
        if len(params) not in (6, 9):
            raise click.ClickException(
                "--lattice needs six numbers (a b c alpha beta gamma) or nine (the matrix rows)."
            )
        lattice = params if len(params) == 6 else [params[0:3], params[3:6], params[6:9]]
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
            structures=structure_config if structures else False,
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
    cell = result.info.get("cell", {})
    if cell:
        click.echo(
            f"cell: {cell['source']} {cell['crystal_system']} {cell['centring']}, M20 = {cell['m20']:.1f}, "
            f"F_N = {cell['f_n']:.1f}; wavelength {result.info['wavelength']:.5f} Å "
            f"({result.info['pattern']['wavelength_source']})"
        )
    for cand in result:
        click.echo(f"  density {cand.describe()}")
    for solved in result.structures:
        click.echo(f"  structure #{solved.rank + 1}: {solved.describe()}")
    if structures and not result.structures:
        click.echo(f"  no crystal structure: {result.structure_info.get('reason')}")
    n_structures = len(result.structures)
    cifs = {0: "", 1: ", structure_1.cif"}.get(n_structures, f", structure_1..{n_structures}.cif")
    click.echo(f"wrote {len(names)} files into {out}/ (candidate_N.*{cifs}, summary.json, solve.png)")
    if not result.solved:
        click.echo(f"No solution found: {result.reason}", err=True)
        raise SystemExit(EXIT_NO_SOLUTION)


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

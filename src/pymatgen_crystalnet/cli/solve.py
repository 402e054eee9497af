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
import shutil
import tempfile
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
    DiffractionPattern JSON (sticks). OUT receives, per candidate, a CHGCAR and an XSF file,
    plus summary.json and solve.png.
    """
    from pymatgen_crystalnet.atomic import atomic_write
    from pymatgen_crystalnet.configs import apply_values
    from pymatgen_crystalnet.plotting import save_figure, solve_figure
    from pymatgen_crystalnet.solver.config import SolveConfig
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
        if len(params) not in (6, 9):
            raise click.ClickException(
                "--lattice needs six numbers (a b c alpha beta gamma) or nine (the matrix rows)."
            )
        lattice = params if len(params) == 6 else [params[0:3], params[3:6], params[6:9]]
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

    # write everything into a temporary folder first: no half-written output on failure
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for cand in result:
            _write_candidate(cand.grid, cand.lattice, staging, f"candidate_{cand.rank + 1}")
        summary = {"pattern": str(pattern), "composition": composition, **result.summary()}
        with atomic_write(staging / "summary.json") as fh:
            json.dump(summary, fh, indent=1)
        save_figure(solve_figure(result), staging / "solve.png")
        out.mkdir(parents=True, exist_ok=True)
        for item in staging.iterdir():
            item.replace(out / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
        click.echo(
            f"  #{cand.rank + 1}: cosine {cand.agreement['cosine']:.4f}, Rwp {cand.agreement['rwp']:.3f}"
        )
    click.echo(f"wrote {out}/candidate_*.vasp, *.xsf, summary.json, solve.png")
    if not result.solved:
        click.echo(f"No solution found: {result.reason}", err=True)
        raise SystemExit(EXIT_NO_SOLUTION)


def _write_candidate(grid, lattice, folder: Path, stem: str) -> None:
    """CHGCAR-format (``.vasp``) and XSF files of one candidate.

    The atoms are what is being solved for, so they are unknown; both formats need at least
    one atom, so the files carry a single placeholder site ``X`` at the origin. VESTA shows
    the density; the placeholder can be deleted there.
    """
    from pymatgen.core import DummySpecies, Structure

    from pymatgen_crystalnet.io.density_files import write_density

    holder = Structure(lattice, [DummySpecies("X")], [[0, 0, 0]])
    write_density(grid, holder, folder / f"{stem}.vasp", fmt="chgcar")
    write_density(grid, holder, folder / f"{stem}.xsf")


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

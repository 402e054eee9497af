"""``crystalnet index``: unit cells from a powder pattern's peak positions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

logger = logging.getLogger(__name__)


def _peaks(path: Path, wavelength: str | None, ka2: str, max_lines: int):
    from pymatgen_crystalnet.indexing import peaks_from_pattern, peaks_from_profile
    from pymatgen_crystalnet.io.patterns import read_profile

    if path.suffix.lower() == ".json":
        from pymatgen.analysis.diffraction.core import DiffractionPattern

        if wavelength is None:
            raise click.UsageError("A DiffractionPattern JSON carries no wavelength: pass -w.")
        try:
            pattern = DiffractionPattern.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{path} is not a pymatgen DiffractionPattern JSON: {exc}") from exc
        return peaks_from_pattern(pattern, wavelength, max_lines=max_lines)
    if path.suffix.lower() == ".peaks":  # one 2θ per line (optionally a second column)
        import numpy as np

        from pymatgen_crystalnet.indexing import PeakList
        from pymatgen_crystalnet.physics.units import resolve_wavelength

        if wavelength is None:
            raise click.UsageError("A peak list carries no wavelength: pass -w.")
        data = np.loadtxt(path, ndmin=2, comments=("#", "!"))
        tt = np.sort(data[:, 0])[:max_lines]
        return PeakList(two_theta=tt, intensity=None, wavelength=resolve_wavelength(wavelength))
    profile = read_profile(path, wavelength=wavelength)
    return peaks_from_profile(profile, wavelength, ka2=ka2, max_lines=max_lines)


@click.command("index")
@click.argument("pattern", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-w", "--wavelength", default=None, help="Wavelength (Å or CuKa1, MoKa, …) if not in the file.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ranked solutions as JSON.",
)
@click.option("--lines", default=25, show_default=True, help="Use the first N peaks.")
@click.option("--tolerance", default=0.04, show_default=True, help="2θ tolerance (degrees).")
@click.option("--max-zero-shift", default=0.06, show_default=True, help="Largest zero shift (degrees).")
@click.option("--systems", default=None, help="Comma-separated lattice systems (default: all).")
@click.option("--ka2", type=click.Choice(["auto", "strip", "none"]), default="auto", show_default=True)
@click.option("-n", "--n-solutions", default=5, show_default=True)
@click.option(
    "--formula",
    default=None,
    help="Chemical formula (e.g. Cu2MnAl): cells holding no plausible number Z of formula units rank last.",
)
def index(
    pattern: Path,
    wavelength: str | None,
    json_out: Path | None,
    lines: int,
    tolerance: float,
    max_zero_shift: float,
    systems: str | None,
    ka2: str,
    n_solutions: int,
    formula: str | None,
) -> None:
    """Index PATTERN: a profile (.xy, .xye, .cif …), a DiffractionPattern .json or a .peaks list.

    Prints the ranked cells with their figures of merit (de Wolff M20, Smith–Snyder F_N).
    """
    from pymatgen_crystalnet.indexing import DEFAULT_SYSTEMS, index_pattern

    try:
        peaks = _peaks(pattern, wavelength, ka2, lines)
        chosen = tuple(systems.split(",")) if systems else DEFAULT_SYSTEMS
        sols = index_pattern(
            peaks,
            peaks.wavelength,
            systems=chosen,
            tolerance=tolerance,
            max_zero_shift=max_zero_shift,
            max_solutions=n_solutions,
            composition=formula,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(peaks)} peaks at λ = {peaks.wavelength:.5f} Å" + "".join(f"; {n}" for n in peaks.notes))
    if not sols:
        click.echo("No cell indexes these peaks.")
    for rank, sol in enumerate(sols, 1):
        click.echo(f"{rank:2d}. {sol.summary()}")
    if json_out is not None:
        payload = {
            "pattern": str(pattern),
            "wavelength": peaks.wavelength,
            "peaks": [float(x) for x in peaks.two_theta],
            "notes": peaks.notes,
            "formula": formula,
            "solutions": [s.as_dict() for s in sols],
        }
        json_out.write_text(json.dumps(payload, indent=1))
        click.echo(f"wrote {json_out}")

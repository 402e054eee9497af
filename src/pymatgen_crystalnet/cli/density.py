"""``crystalnet density``: IAM electron density and powder pattern of a structure file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

logger = logging.getLogger(__name__)


@click.command("density")
@click.argument("structure_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-n", "--grid", "n", default=50, show_default=True, help="Grid points per cell axis.")
@click.option("--b-factor", default=1.0, show_default=True, help="Debye–Waller factor B (Å²).")
@click.option(
    "--cell",
    type=click.Choice(["primitive", "conventional"]),
    default="primitive",
    show_default=True,
    help="Canonical cell the grid lives on.",
)
@click.option("--symprec", default=0.1, show_default=True, help="Symmetry tolerance (Å).")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out"),
    show_default=True,
    help="Output folder.",
)
def density(structure_file: Path, n: int, b_factor: float, cell: str, symprec: float, out: Path) -> None:
    """Write the IAM density of STRUCTURE_FILE (CIF, POSCAR, …) and its powder pattern.

    Files in OUT: CHGCAR, <formula>.cube and <formula>.xsf (for VESTA), and pattern.json with
    the model's 1024-bin Mo Kα vector, pymatgen's stick pattern and the agreement between the
    pattern of the density grid (forward model) and pymatgen's.
    """
    import numpy as np
    from pymatgen.core import Structure

    from pymatgen_crystalnet.atomic import atomic_write
    from pymatgen_crystalnet.featurize.xrd_vector import bin_index, pattern_to_vector, vector_from_density
    from pymatgen_crystalnet.io.density_files import check_density_format, write_density
    from pymatgen_crystalnet.physics.agreement import cosine_similarity
    from pymatgen_crystalnet.physics.cells import canonical_cell, grid_electrons, symmetry_info
    from pymatgen_crystalnet.physics.forward import resolved_two_theta_max
    from pymatgen_crystalnet.physics.grid_limits import check_grid_size
    from pymatgen_crystalnet.physics.iam import iam_density_grid
    from pymatgen_crystalnet.physics.powder import xrd_pattern

    try:
        structure = Structure.from_file(structure_file)
    except Exception as exc:  # pymatgen raises many types for unreadable files
        raise click.ClickException(f"Cannot read a structure from {structure_file}: {exc}") from exc
    try:
        check_grid_size(n)
        prim = canonical_cell(structure, cell, symprec=symprec)  # type: ignore[arg-type]
        names = [f"{prim.composition.reduced_formula}.cube", f"{prim.composition.reduced_formula}.xsf"]
        if prim.is_ordered:
            names.insert(0, "CHGCAR")
        else:  # a CHGCAR's POSCAR header lists whole atoms; cube and XSF carry the density
            click.echo(f"{structure_file} has partial occupancies: no CHGCAR is written (cube and XSF are).")
        for name in names:
            check_density_format(prim, out / name)
        grid = iam_density_grid(prim, n, b_factor=b_factor)
        pattern = xrd_pattern(prim, b_factor=b_factor)
        vector = pattern_to_vector(pattern)
        forward = vector_from_density(grid, prim.lattice)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    hi = resolved_two_theta_max(prim.lattice, grid.shape)
    keep = np.arange(vector.size) <= bin_index(hi)
    agreement = float(cosine_similarity(vector * keep, forward * keep))
    formula = prim.composition.reduced_formula
    info = symmetry_info(prim, symprec)

    out.mkdir(parents=True, exist_ok=True)
    written = [write_density(grid, prim, out / name) for name in names]
    summary = {
        "formula": formula,
        **info,
        "cell": cell,
        "lattice": prim.lattice.matrix.tolist(),
        "grid": list(grid.shape),
        "b_factor": b_factor,
        "electrons": grid_electrons(grid, prim.volume),
        "density_max": float(grid.max()),
        "density_min": float(grid.min()),
        "wavelength": 0.71073,
        "sticks": {"two_theta": list(map(float, pattern.x)), "intensity": list(map(float, pattern.y))},
        "xrd_vector": vector.tolist(),
        "forward_model": {"resolved_two_theta_max": hi, "cosine_vs_pymatgen": agreement},
    }
    with atomic_write(out / "pattern.json") as fh:
        json.dump(summary, fh, indent=1)
    written.append(out / "pattern.json")
    click.echo(
        f"{formula} ({info['spacegroup_symbol']}, {cell} cell, {len(prim)} sites): "
        f"{summary['electrons']:.3f} electrons on a {n}^3 grid, max {grid.max():.1f} e/Å³; "
        f"forward-model pattern vs pymatgen cosine {agreement:.5f} (2θ ≤ {hi:.1f}°)"
    )
    for path in written:
        click.echo(f"  wrote {path}")

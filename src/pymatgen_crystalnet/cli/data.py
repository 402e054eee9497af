"""``crystalnet data``: build, export and inspect training datasets.

::

    crystalnet data build --source corpus.jsonl.gz --crystal-system cubic
        --crystal-system trigonal --store stores/ct --workers 2    (one line)
    crystalnet data export --store stores/ct -o exports/ct.npz
    crystalnet data info stores/ct            # or: crystalnet data info exports/ct.npz

``data build`` runs from a ``BuildConfig`` and a ``SplitConfig`` (``data.config``): its options
set some of their fields and default to theirs, ``--set build.KEY=VALUE`` /
``--set split.KEY=VALUE`` (or a bare KEY) sets any field.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from pymatgen_crystalnet.cli.settings import ConfigDefaultOption, apply_set, given, set_option

__all__ = ["data"]

logger = logging.getLogger(__name__)

_SYSTEMS = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal",
            "cubic"]
_STORE_HELP = ("Store: a directory (embedded montydb store, default), json://DIR (JSON files) "
               "or a mongodb:// URI naming the database.")


@click.group("data")
def data() -> None:
    """Build, export and inspect training datasets (maggma stores)."""


@data.command("build")
@click.option("--source", required=True,
              help="JSONL(.gz) corpus, folder of CIFs, one CIF file, or 'mp' (Materials Project).")
@click.option("--store", required=True, help=_STORE_HELP)
@click.option("--crystal-system", "crystal_systems", multiple=True,
              type=click.Choice(_SYSTEMS, case_sensitive=False),
              help="Crystal system to include (repeat; default all).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1),
              help="Worker processes.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Ingest at most this many structures.")
@click.option("--b-factor", type=click.FloatRange(0, min_open=True), cls=ConfigDefaultOption,
              config_default=lambda: _default("build", "b_factor"),
              help="Debye–Waller factor B (Å²) of patterns and IAM densities.")
@click.option("--cell", type=click.Choice(["primitive", "conventional"]), cls=ConfigDefaultOption,
              config_default=lambda: _default("build", "cell"), help="Canonical cell of the densities.")
@click.option("--symprec", type=click.FloatRange(0, min_open=True), cls=ConfigDefaultOption,
              config_default=lambda: _default("build", "symprec"), help="Symmetry tolerance (Å).")
@click.option("--grid-n", type=click.IntRange(2), cls=ConfigDefaultOption,
              config_default=lambda: _default("build", "grid_n"), help="Grid points per axis, DFT densities.")
@click.option("--val-fraction", type=click.FloatRange(0, 1), cls=ConfigDefaultOption,
              config_default=lambda: _default("split", "val_fraction"),
              help="Hash share of validation (crystals without a seed split; stable only).")
@click.option("--test-fraction", type=click.FloatRange(0, 1), cls=ConfigDefaultOption,
              config_default=lambda: _default("split", "test_fraction"),
              help="Hash share of test (crystals without a seed split; stable only).")
@click.option("--retry-failed", is_flag=True, help="Rebuild structures that failed before.")
@click.option("--api-key", envvar="MP_API_KEY", default=None,
              help="Materials Project API key (default: $MP_API_KEY).")
@click.option("--stable-only", is_flag=True, help="Materials Project: only materials on the hull.")
@click.option("--max-e-above-hull", type=float, default=None,
              help="Materials Project: largest e_above_hull (eV/atom).")
@click.option("--charge-density", is_flag=True,
              help="Materials Project: download DFT charge densities and regrid them (pyrho).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@set_option("the build (build.KEY: BuildConfig) or the split (split.KEY: SplitConfig)")
def build(source: str, store: str, crystal_systems: tuple[str, ...], workers: int,
          limit: int | None, b_factor: float | None, cell: str | None, symprec: float | None,
          grid_n: int | None, val_fraction: float | None, test_fraction: float | None,
          retry_failed: bool, api_key: str | None, stable_only: bool, max_e_above_hull: float | None,
          charge_density: bool, no_progress: bool, settings: tuple[str, ...]) -> None:
    """Ingest structures from SOURCE and build the dataset in STORE (incremental, resumable)."""
    from pymatgen_crystalnet.configs import apply_values
    from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
    from pymatgen_crystalnet.data.pipeline import build_dataset

    mp_options = None
    if source == "mp":
        mp_options = {"api_key": api_key, "stable_only": stable_only,
                      "max_e_above_hull": max_e_above_hull, "charge_densities": charge_density}
    elif not Path(source).exists():
        raise click.BadParameter(f"{source} does not exist (give a path or 'mp').",
                                 param_hint="--source")
    try:
        config = apply_values(BuildConfig(), given(cell=cell, symprec=symprec, b_factor=b_factor,
                                                   grid_n=grid_n, crystal_systems=crystal_systems))
        split_config = apply_values(SplitConfig(), given(val_fraction=val_fraction,
                                                         test_fraction=test_fraction))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    configs = apply_set({"build": config, "split": split_config}, settings)
    config, split_config = configs["build"], configs["split"]
    try:
        report = build_dataset(source, store, config=config, split_config=split_config,
                               workers=workers, limit=limit, retry_failed=retry_failed,
                               progress=not no_progress, mp_options=mp_options)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    ing, cry = report.ingest, report.crystals
    click.echo(f"ingested: {ing.new} new, {ing.updated} updated, {ing.unchanged} unchanged")
    click.echo(f"built: {cry.processed} structures ({cry.failed} failed) in {cry.seconds:.1f} s "
               f"with {cry.workers} worker(s)")
    _echo_counts(report.counts)


def _default(section: str, name: str) -> Any:
    from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig

    return getattr(BuildConfig if section == "build" else SplitConfig, name)


@data.command("export")
@click.option("--store", required=True, help=_STORE_HELP)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output .npz file.")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Split to include (repeat; default all).")
@click.option("--crystal-system", "crystal_systems", multiple=True,
              type=click.Choice(_SYSTEMS, case_sensitive=False),
              help="Crystal system to include (repeat; default all).")
@click.option("--no-grids", is_flag=True, help="Leave DFT density grids out.")
@click.option("--xrd-dtype", type=click.Choice(["float16", "float32"]), default="float16",
              show_default=True, help="Storage type of the XRD vectors.")
def export(store: str, output: Path, splits: tuple[str, ...], crystal_systems: tuple[str, ...],
           no_grids: bool, xrd_dtype: str) -> None:
    """Write the kept crystals of STORE to a compact .npz for training."""
    from pymatgen_crystalnet.data.export import export_dataset

    try:
        summary = export_dataset(store, output, splits=list(splits) or None,
                                 crystal_systems=list(crystal_systems) or None,
                                 include_grids=not no_grids, xrd_dtype=xrd_dtype)
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {summary.path}: {summary.n_crystals} crystals, {summary.n_grids} grids, "
               f"{summary.bytes / 2**20:.2f} MiB")
    _echo_table(summary.counts)


@data.command("info")
@click.argument("location")
def info(location: str) -> None:
    """Counts by crystal system and split of a store or an export (.npz)."""
    path = Path(location)
    try:
        if path.is_file():
            from pymatgen_crystalnet.data.reader import load_export

            ds = load_export(path)
            m = ds.manifest
            click.echo(f"export {path} (format {m['format_version']}): {len(ds)} crystals, "
                       f"cell {m['cell']}, B = {m['b_factor']} Å², "
                       f"density sources {m.get('density_sources')}, "
                       f"{path.stat().st_size / 2**20:.2f} MiB")
            _echo_table(ds.counts())
            return
        if not (path.is_dir() or "://" in location):
            raise click.BadParameter(f"{location} is neither a store nor an export file.",
                                     param_hint="LOCATION")
        from pymatgen_crystalnet.data.pipeline import dataset_counts

        _echo_counts(dataset_counts(location))
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_counts(counts: dict[str, Any]) -> None:
    click.echo(f"store: {counts['structures']} structures; crystals {counts['successful']} built, "
               f"{counts['failed']} failed; {counts['duplicates']} duplicates, "
               f"{counts['excluded']} left out")
    _echo_table(counts["splits"])


def _echo_table(table: dict[str, dict[str, int]]) -> None:
    splits = ["train", "val", "test"]
    click.echo(f"{'system':<14}" + "".join(f"{s:>8}" for s in splits) + f"{'total':>8}")
    totals = dict.fromkeys(splits, 0)
    for system, row in sorted(table.items()):
        click.echo(f"{system:<14}" + "".join(f"{row.get(s, 0):>8}" for s in splits)
                   + f"{sum(row.values()):>8}")
        for s in splits:
            totals[s] += row.get(s, 0)
    click.echo(f"{'all':<14}" + "".join(f"{totals[s]:>8}" for s in splits)
               + f"{sum(totals.values()):>8}")

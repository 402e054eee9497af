"""``crystalnet evaluate``: the evaluation protocol of a model on one split of a dataset export.

The evaluation's settings are :class:`~pymatgen_crystalnet.evaluation.config.EvaluationConfig`:
the options users need most have their own flag (default: the configuration's default), and
every field can be set with ``--set KEY=VALUE``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from pymatgen_crystalnet.evaluation.config import SPLITS, EvaluationConfig

logger = logging.getLogger(__name__)

#: The configuration's defaults, shown in the help (never repeated as option defaults).
_DEFAULTS = EvaluationConfig()
#: ``--set`` keys and their defaults, for the help.
_SET_HELP = ", ".join(f"{k}={v}" for k, v in _DEFAULTS.as_dict().items() if not k.startswith("@"))


def _resolve_model(model: str) -> Path:
    """A weights folder given as a path, or the folder of a bundled model of that name."""
    path = Path(model)
    if path.is_dir():
        return path
    from pymatgen_crystalnet.model.pretrained import list_pretrained, pretrained_path

    try:
        return pretrained_path(model)
    except (ValueError, FileNotFoundError):
        known = ", ".join(list_pretrained()) or "none bundled"
        raise click.ClickException(
            f"--model {model!r} is neither a weights folder (config.json + model.safetensors) nor a "
            f"bundled model name (bundled: {known})."
        ) from None


def _config(options: dict[str, object], settings: tuple[str, ...]) -> EvaluationConfig:
    """The configuration's defaults, then ``--set`` items, then the dedicated options given.

    A setting given both ways is refused (which one was meant is not clear).
    """
    given = {k: v for k, v in options.items() if v is not None}
    set_keys = {item.partition("=")[0].strip() for item in settings}
    both = sorted(set_keys & set(given))
    if both:
        raise click.UsageError(f"{', '.join(both)} given both as an option and with --set; give it once.")
    try:
        config = _DEFAULTS.with_settings(settings)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--set'") from None
    items = [f"{k}={v}" for k, v in given.items()]
    try:
        return config.with_settings(items)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("evaluate")
@click.option("--model", "model", default=None, help="Weights folder, or the name of a bundled model.")
@click.option(
    "--baselines-only",
    is_flag=True,
    help="No model: score the flat-map and other-crystal baselines alone (the floor a model must beat).",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Dataset export (.npz) written by `crystalnet data export`.",
)
@click.option(
    "--split",
    default=None,
    type=click.Choice(SPLITS),
    help=f"Split to evaluate (default {_DEFAULTS.split}; val/train/all are labelled as such in the report).",
)
@click.option("--grid", type=int, default=None, help=f"Grid points per cell axis (default {_DEFAULTS.grid}).")
@click.option("--samples", type=int, default=None, help=f"Latent samples k (default {_DEFAULTS.samples}).")
@click.option("--limit", type=int, default=None, help="Evaluate at most N crystals (export order).")
@click.option("--systems", default=None, help="Only these crystal systems, comma-separated (cubic,trigonal).")
@click.option(
    "--paper-subset", is_flag=True, default=None, help="Only crystals of the paper's published test lists."
)
@click.option(
    "--seed-splits",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="material_id -> seed_split of the paper's lists (JSON Lines such as mp_structures.jsonl.gz, or "
    "a JSON object), when the export does not carry them.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"Any evaluation setting, repeatable (booleans true/false, lists comma-separated). Keys and "
    f"defaults: {_SET_HELP}.",
)
@click.option(
    "--structures",
    is_flag=True,
    help="Evaluate crystal structures instead of densities: the structure pipeline's methods (a)-(f) "
    "(network decoded, refined, symmetry search alone, pooled, control, true density), match rates "
    "top-1/top-k per crystal system. Writes OUT/structures.json and OUT/structures.md. --samples is k, "
    "--grid the density grid; --set keys are then those of StructureEvaluationConfig (methods, k, grid, "
    "n_search_trials, n_hypotheses, n_refine, time_budget_s, seed, sample_per_system).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="--structures: continue the run in OUT (same settings and selection), skipping the crystals "
    "already in OUT/structures.json.",
)
@click.option("--device", default=None, help="auto (default: CUDA when available), cpu, cuda, cuda:N.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
def evaluate(
    model: str | None,
    baselines_only: bool,
    data_path: Path,
    split: str | None,
    grid: int | None,
    samples: int | None,
    limit: int | None,
    systems: str | None,
    paper_subset: bool | None,
    seed_splits: Path | None,
    settings: tuple[str, ...],
    structures: bool,
    resume: bool,
    device: str | None,
    threads: int | None,
    progress: bool,
    out: Path,
) -> None:
    """Score a model on a dataset split with the paper's protocol and the stricter checks.

    Writes OUT/evaluation.json (every number, per crystal) and OUT/evaluation.md (the tables:
    per crystal system n and mean ± std of SSIM, PSNR, map CC and NMAE for the model, the
    strict and translation-aware scores, the mismatched-pattern control, the flat-map and
    other-crystal baselines, the composition ablations and the forward-verification check),
    and OUT/figures/*.png (truth vs prediction of the best and worst crystal per system).

    Parts are switched off with --set, e.g. --set ablations=false --set translation=false
    (also control, baselines, verification, examples: the figures).
    """
    from pymatgen_crystalnet.data.reader import load_export
    from pymatgen_crystalnet.evaluation.protocol import evaluate as run_evaluation
    from pymatgen_crystalnet.evaluation.report import write_report
    from pymatgen_crystalnet.evaluation.selection import load_seed_splits
    from pymatgen_crystalnet.model.weights import WeightsError, load_model_and_metadata
    from pymatgen_crystalnet.plotting import write_density_example

    if resume and not structures:
        raise click.ClickException("--resume continues a --structures run; give --structures too.")
    if baselines_only == (model is not None):
        raise click.ClickException("Give --model NAME_OR_FOLDER, or --baselines-only (not both).")
    options = {
        "split": split,
        "grid": grid,
        "samples": samples,
        "limit": limit,
        "crystal_systems": systems,
        "paper_subset_only": paper_subset,
    }
    if structures:
        options["grid"] = options["samples"] = None
        config = _config(options, ())
    else:
        config = _config(options, settings)
    folder = _resolve_model(model) if model is not None else None
    try:
        data = load_export(data_path)
        seeds = load_seed_splits(seed_splits) if seed_splits is not None else None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    net, metadata, info = None, {}, None
    if folder is not None:
        try:
            net, metadata = load_model_and_metadata(folder, device="cpu")
        except WeightsError as exc:
            raise click.ClickException(str(exc)) from None
        info = {"name": folder.name or str(folder), "path": str(folder)}
    if threads:
        import torch

        torch.set_num_threads(threads)

    if structures:
        _evaluate_structures(
            net, data, config, seeds, settings, grid, samples, device, progress, out, info, resume
        )
        return
    try:
        result = run_evaluation(
            net,
            data,
            config,
            metadata=metadata,
            model_info=info,
            seed_splits=seeds,
            device=device,
            progress=progress,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for note in result.notes:
        if note.startswith("WARNING"):
            click.echo(note, err=True)
    json_path, md_path = write_report(result, out, figure_writer=write_density_example)

    summary = result.as_dict()["summary"]["all"]
    click.echo(
        f"Evaluated {len(result.crystals)} crystals ({result.labels['split']}) in {result.elapsed_s:.0f} s."
    )
    for method in ("model", "strict", "control", "flat", "other_crystal"):
        for system, cell in summary.get(method, {}).items():
            parts = ", ".join(
                f"{key} {cell[key]['mean']:.3f}±{cell[key]['std']:.3f}"
                for key in ("ssim", "cc", "nmae")
                if cell[key]["mean"] is not None
            )
            click.echo(f"  {method:<14} {system:<12} n={cell['n']:<4} {parts}")
    click.echo(f"Wrote {json_path} and {md_path}")


def _evaluate_structures(
    net, data, config, seeds, settings, grid, samples, device, progress, out, info, resume
) -> None:
    """``--structures``: the structure pipeline's methods on the selected crystals."""
    from pymatgen_crystalnet.evaluation.selection import seed_splits_of, select_crystals
    from pymatgen_crystalnet.evaluation.structure_report import read_structure_report, write_structure_report
    from pymatgen_crystalnet.evaluation.structures import StructureEvaluationConfig, evaluate_structures

    items = [*settings, *([f"grid={grid}"] if grid else []), *([f"k={samples}"] if samples else [])]
    try:
        sconfig = StructureEvaluationConfig().with_settings(items)
        selected = select_crystals(data, config, seed_splits_of(data, seeds))
        rows = sconfig.sample_rows(selected, data.crystal_system)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    info = {
        "model": (info or {}).get("name"),
        "data": str(data.path),
        "split": config.split,
        "systems": ",".join(config.crystal_systems or []) or "all",
        "paper_subset_only": config.paper_subset_only,
        "limit": config.limit,
        "sample_per_system": sconfig.sample_per_system,
        "crystals": len(rows),
    }
    try:
        records: list = read_structure_report(out, sconfig, info) if resume else []
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if records:
        click.echo(f"Resuming: {len(records)} of {len(rows)} crystals already in {out / 'structures.json'}")

    def done(record: dict) -> None:
        if progress:
            ranks = {m: r["match_rank"] for m, r in record["methods"].items()}
            tops = " ".join(f"{m}:{'-' if r is None else r}" for m, r in ranks.items())
            click.echo(f"[{len(records) + 1}/{len(rows)}] {record['material_id']} {record['formula']} {tops}")
        records.append(record)
        write_structure_report(records, sconfig, out, info)  # partial results survive an interruption

    try:
        evaluate_structures(
            net, data, rows, sconfig, device=device or "cpu", on_crystal=done,
            skip={r["material_id"] for r in records},
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    json_path, md_path = write_structure_report(records, sconfig, out, info)
    click.echo(md_path.read_text())
    click.echo(f"Wrote {json_path} and {md_path}")


@click.command("evaluate-merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option(
    "-o", "--out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Output folder."
)
def evaluate_merge(parts: tuple[Path, ...], out: Path) -> None:
    """Join evaluation folders of disjoint crystal selections (e.g. one per crystal system).

    PARTS are output folders of `crystalnet evaluate` run with the same model, export and
    settings, differing only in --systems/--limit. OUT receives evaluation.json,
    evaluation.md (tables recomputed over all crystals) and the parts' figures.
    """
    from pymatgen_crystalnet.evaluation.merge import merge_report_folders

    try:
        json_path, md_path = merge_report_folders(list(parts), out)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Merged {len(parts)} evaluations into {json_path} and {md_path}")

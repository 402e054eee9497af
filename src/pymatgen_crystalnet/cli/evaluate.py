"""``crystalnet evaluate``: the evaluation protocol of a model on one split of a dataset export."""

from __future__ import annotations

import logging
from pathlib import Path

import click

logger = logging.getLogger(__name__)


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
    default="test",
    show_default=True,
    type=click.Choice(["test", "val", "train", "all"]),
    help="Split to evaluate (val/train/all are labelled as such in the report).",
)
@click.option("--grid", default=50, show_default=True, help="Grid points per cell axis (the paper: 50).")
@click.option("--samples", default=5, show_default=True, help="Latent samples k (the paper: 5).")
@click.option("--ablation-samples", default=3, show_default=True, help="Samples per ablation (the paper: 3).")
@click.option("--limit", type=int, default=None, help="Evaluate at most N crystals (export order).")
@click.option("--systems", default=None, help="Only these crystal systems, comma-separated (cubic,trigonal).")
@click.option("--paper-subset", is_flag=True, help="Only crystals of the paper's published test lists.")
@click.option(
    "--seed-splits",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="material_id -> seed_split of the paper's lists (JSON Lines such as mp_structures.jsonl.gz, or "
    "a JSON object), when the export does not carry them.",
)
@click.option("--ablations/--no-ablations", default=True, show_default=True)
@click.option("--translation/--no-translation", default=True, show_default=True)
@click.option("--control/--no-control", default=True, show_default=True)
@click.option("--baselines/--no-baselines", default=True, show_default=True)
@click.option("--verification/--no-verification", default=True, show_default=True)
@click.option(
    "--figures/--no-figures",
    default=True,
    show_default=True,
    help="Draw the best and worst crystal (model map CC) of each system into OUT/figures/.",
)
@click.option("--batch-size", default=4, show_default=True, help="Crystals predicted and scored at once.")
@click.option("--seed", default=0, show_default=True, help="Seed of samples, pairing and element drops.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, … (default: cuda when available).")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice).")
@click.option(
    "--allow-mismatch",
    is_flag=True,
    help="Evaluate even if the model was trained on another cell, B factor or density source (warns).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "-o", "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder."
)
def evaluate(
    model: str | None,
    baselines_only: bool,
    data_path: Path,
    split: str,
    grid: int,
    samples: int,
    ablation_samples: int,
    limit: int | None,
    systems: str | None,
    paper_subset: bool,
    seed_splits: Path | None,
    ablations: bool,
    translation: bool,
    control: bool,
    baselines: bool,
    verification: bool,
    figures: bool,
    batch_size: int,
    seed: int,
    device: str | None,
    threads: int | None,
    allow_mismatch: bool,
    progress: bool,
    out: Path,
) -> None:
    """Score a model on a dataset split with the paper's protocol and the stricter checks.

    Writes OUT/evaluation.json (every number, per crystal) and OUT/evaluation.md (the tables:
    per crystal system n and mean ± std of SSIM, PSNR, map CC and NMAE for the model, the
    strict and translation-aware scores, the mismatched-pattern control, the flat-map and
    other-crystal baselines, the composition ablations and the forward-verification check),
    and OUT/figures/*.png (truth vs prediction of the best and worst crystal per system).
    """
    from pymatgen_crystalnet.data.reader import load_export
    from pymatgen_crystalnet.evaluation.config import EvaluationConfig
    from pymatgen_crystalnet.evaluation.protocol import evaluate as run_evaluation
    from pymatgen_crystalnet.evaluation.report import write_report
    from pymatgen_crystalnet.evaluation.selection import load_seed_splits
    from pymatgen_crystalnet.model.weights import WeightsError, load_model, read_weights_config
    from pymatgen_crystalnet.plotting import write_density_example

    if baselines_only == (model is not None):
        raise click.ClickException("Give --model NAME_OR_FOLDER, or --baselines-only (not both).")
    folder = _resolve_model(model) if model is not None else None
    try:
        config = EvaluationConfig(
            split=split,
            grid=grid,
            samples=samples,
            ablation_samples=ablation_samples,
            ablations=ablations,
            translation=translation,
            control=control,
            baselines=baselines,
            verification=verification,
            examples=figures,
            limit=limit,
            crystal_systems=[s.strip() for s in systems.split(",") if s.strip()] if systems else None,
            paper_subset_only=paper_subset,
            batch_size=batch_size,
            seed=seed,
            allow_mismatch=allow_mismatch,
        )
        data = load_export(data_path)
        seeds = load_seed_splits(seed_splits) if seed_splits is not None else None
    except (ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    net, doc, info = None, {}, None
    if folder is not None:
        try:
            net = load_model(folder, device="cpu")
            doc = read_weights_config(folder)
        except WeightsError as exc:
            raise click.ClickException(str(exc)) from None
        info = {"name": folder.name or str(folder), "path": str(folder)}
    if threads:
        import torch

        torch.set_num_threads(threads)

    try:
        result = run_evaluation(
            net,
            data,
            config,
            metadata=doc.get("metadata", {}),
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

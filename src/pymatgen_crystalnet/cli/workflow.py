r"""``crystalnet workflow``: the jobflow pipeline, locally or on FireWorks.

::

    crystalnet workflow run-local --source ../shared/data/mp_structures.jsonl.gz --out runs/tiny
    crystalnet workflow report runs/tiny
    crystalnet workflow submit --source /shared/corpus.jsonl.gz --launchpad my_launchpad.yaml \\
        --store mongodb://db-host:27017/crystalnet_outputs
    crystalnet workflow status --launchpad my_launchpad.yaml --fw-id 1

jobflow and torch are imported inside the commands, so ``crystalnet --help`` stays fast. The
options default to those of ``PipelineMaker.tiny``; ``--set`` sets any field of the pipeline's
configs: ``build.KEY`` / ``split.KEY`` (dataset), ``model.KEY`` / ``training.KEY`` (training),
or a bare KEY where it is unambiguous.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from pymatgen_crystalnet.cli.settings import ConfigDefaultOption, apply_set, given, set_option

__all__ = ["workflow"]

logger = logging.getLogger(__name__)

_SYSTEMS = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"]


def _tiny_default() -> str:
    """The default of the pipeline options (not looked up: --help must not import jobflow)."""
    return "that of PipelineMaker.tiny"


def _pipeline_options(func: Any) -> Any:
    options = [
        click.option("--source", required=True,
                     help="Structure source: a JSONL(.gz) corpus, a folder of CIFs, or 'mp'."),
        click.option("--crystal-system", "crystal_systems", multiple=True, cls=ConfigDefaultOption,
                     config_default=_tiny_default,
                     type=click.Choice(_SYSTEMS, case_sensitive=False),
                     help="Crystal system to keep (repeat)."),
        click.option("--limit", type=click.IntRange(1), cls=ConfigDefaultOption,
                     config_default=_tiny_default,
                     help="Ingest at most this many structures of the selected systems."),
        click.option("--epochs", type=click.IntRange(1), cls=ConfigDefaultOption,
                     config_default=_tiny_default,
                     help="Training epochs of the small model."),
        click.option("--workers", type=click.IntRange(1), cls=ConfigDefaultOption,
                     config_default=_tiny_default, help="Processes of the dataset build."),
        click.option("--threads", type=click.IntRange(1), cls=ConfigDefaultOption,
                     config_default=_tiny_default, help="CPU threads for training."),
        click.option("--candidates", type=click.IntRange(1), cls=ConfigDefaultOption,
                     config_default=_tiny_default,
                     help="Candidate densities of the solve."),
        click.option("--grid", type=click.IntRange(8), cls=ConfigDefaultOption,
                     config_default=_tiny_default,
                     help="Grid points per axis of the candidates."),
        click.option("--no-evaluate", is_flag=True, help="Leave the evaluation job out."),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="JSON/YAML file with a serialised PipelineMaker (Maker.as_dict()), used "
                          "instead of the options above."),
        set_option("the dataset (build.KEY, split.KEY) or the training (model.KEY, training.KEY)"),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _maker(config_file: Path | None, crystal_systems: tuple[str, ...], limit: int | None, epochs: int | None,
           workers: int | None, threads: int | None, candidates: int | None, grid: int | None,
           no_evaluate: bool, settings: tuple[str, ...] = ()) -> Any:
    from pymatgen_crystalnet.workflows.flows import PipelineMaker

    if config_file is not None:
        from monty.serialization import loadfn

        maker = loadfn(config_file)
        if isinstance(maker, dict):
            maker = PipelineMaker.from_dict(maker)
        if not isinstance(maker, PipelineMaker):
            raise click.BadParameter(f"{config_file} does not hold a PipelineMaker.", param_hint="--config")
    else:
        options = given(epochs=epochs, limit=limit, workers=workers, threads=threads, n_candidates=candidates,
                        grid=grid, crystal_systems=tuple(s.lower() for s in crystal_systems))
        maker = PipelineMaker.tiny(evaluate=not no_evaluate, **options)
    return _apply_settings(maker, settings)


def _apply_settings(maker: Any, settings: tuple[str, ...]) -> Any:
    """Apply ``--set`` to the configs inside a pipeline (dataset build, model, training)."""
    if not settings:
        return maker
    train_maker = maker.train_evaluate.train_maker
    build_maker = maker.train_evaluate.build_maker
    configs = {"model": train_maker.network_config, "training": train_maker.training_config}
    if build_maker is not None:
        configs.update(build=build_maker.build_config, split=build_maker.split_config)
    new = apply_set(configs, settings)
    train_maker.network_config, train_maker.training_config = new["model"], new["training"]
    if build_maker is not None:
        build_maker.build_config, build_maker.split_config = new["build"], new["split"]
    return maker


def _source(source: str) -> str:
    if source != "mp" and not Path(source).exists():
        raise click.BadParameter(f"{source} does not exist.", param_hint="--source")
    return source if source == "mp" else str(Path(source).resolve())


def _echo_report(report: Any) -> None:
    click.echo(report.table())
    n_ok = sum(j.state == "completed" for j in report.jobs)
    click.echo(f"{n_ok} of {len(report.jobs)} jobs completed; {len(report.failed)} failed.")


@click.group("workflow")
def workflow() -> None:
    """Jobflow workflows: build a dataset → train → evaluate → solve and verify a pattern."""


@workflow.command("run-local")
@_pipeline_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: jobs/ (one folder per job), jobstore/ (outputs), report.json.")
@click.option("--store", default=None,
              help="JobStore location instead of OUT/jobstore: a directory, json://DIR or mongodb://…/DB.")
def run_local(source: str, crystal_systems: tuple[str, ...], limit: int | None, epochs: int | None,
              workers: int | None, threads: int | None, candidates: int | None, grid: int | None,
              no_evaluate: bool, config_file: Path | None, settings: tuple[str, ...], out: Path,
              store: str | None) -> None:
    """Run the pipeline here with jobflow's run_locally (offline; a few minutes on 2 cores)."""
    from pymatgen_crystalnet.workflows.run import run_workflow_locally

    maker = _maker(config_file, crystal_systems, limit, epochs, workers, threads, candidates, grid,
                   no_evaluate, settings)
    flow = maker.make(_source(source))
    report = run_workflow_locally(flow, out, store=store, log=False, progress=click.echo)
    _echo_report(report)
    _echo_summary(out, store)
    click.echo(f"report: {Path(out).resolve() / 'report.json'}")
    if report.failed:
        raise SystemExit(1)


def _echo_summary(out: Path, store_location: str | None) -> None:
    from pymatgen_crystalnet.workflows.run import job_store

    store = job_store(store_location or Path(out) / "jobstore")
    store.connect()
    try:
        lines = _summary_lines(store)
    finally:
        store.close()
    for line in lines:
        click.echo(line)


def _summary_lines(store: Any) -> list[str]:
    def output(name: str) -> dict[str, Any] | None:
        doc = store.query_one({"name": name}, properties=["output"], sort={"index": -1})
        return None if doc is None else doc.get("output")

    lines = []
    if (d := output("build dataset")) is not None:
        lines.append(f"dataset: {d['n_crystals']} crystals {d['counts']} -> {d['export_path']}")
    if (t := output("train")) is not None:
        best = t.get("best") or {}
        lines.append(f"training: {t['epochs']} epochs on {t['device']} in {t['wall_time_s']:.1f} s, best "
                     f"{best.get('metric')} = {best.get('value')}; weights {t['checkpoint_dir']} "
                     f"(sha256 {t['weights_sha256'][:12]}…)")
    if (e := output("evaluate")) is not None:
        model = e["summary"]["all"].get("model", {}).get("all", {})
        flat = e["summary"]["all"].get("flat", {}).get("all", {})

        def pm(stats: dict[str, Any], key: str) -> str:
            v = stats.get(key) or {}
            return "n/a" if v.get("mean") is None else f"{v['mean']:.3f} ± {v.get('std') or 0:.3f}"

        lines.append(f"evaluation ({e['split']}, {e['n_crystals']} crystals): model SSIM "
                     f"{pm(model, 'ssim')}, CC {pm(model, 'cc')}; flat map SSIM {pm(flat, 'ssim')}, "
                     f"CC {pm(flat, 'cc')}")
    if (s := output("rank candidates")) is not None:
        pattern = s.get("pattern") or {}
        lines.append(f"solution of {pattern.get('formula')} ({pattern.get('material_id')}): best candidate "
                     f"{s['best_sample']} cosine {s['best_cosine']:.3f}, Rwp {s['best_rwp']:.3f}")
    return lines


@workflow.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print report.json as it is.")
def report(out: Path, as_json: bool) -> None:
    """Show what a local run in OUT did (its report.json and the stored outputs)."""
    path = out / "report.json"
    if not path.is_file():
        raise click.ClickException(f"{out} holds no report.json (not a run folder of run-local).")
    from pymatgen_crystalnet.workflows.schemas import WorkflowReport

    rep = WorkflowReport.model_validate_json(path.read_text())
    if as_json:
        click.echo(json.dumps(json.loads(path.read_text()), indent=2))
        return
    _echo_report(rep)
    if (out / "jobstore").is_dir():
        _echo_summary(out, None)


@workflow.command("submit")
@_pipeline_options
@click.option("--launchpad", "launchpad_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="my_launchpad.yaml.")
@click.option("--store", required=True,
              help="JobStore every worker reaches: mongodb://host:27017/DB, or a directory on a shared "
                   "file system.")
@click.option("--train-category", default="gpu", show_default=True,
              help="FireWorks category of the training and evaluation jobs ('' for none).")
@click.option("--run-dir", default=None,
              help="Fixed training run folder (on a shared file system), so a rerun resumes.")
def submit(source: str, crystal_systems: tuple[str, ...], limit: int | None, epochs: int | None,
           workers: int | None, threads: int | None, candidates: int | None, grid: int | None,
           no_evaluate: bool, config_file: Path | None, settings: tuple[str, ...], launchpad_file: Path,
           store: str, train_category: str, run_dir: str | None) -> None:
    """Add the pipeline to a FireWorks LaunchPad; run it with rlaunch on the workers."""
    try:
        from fireworks import LaunchPad
    except ImportError:
        raise click.ClickException(
            'FireWorks is not installed: pip install "pymatgen-crystalnet[fireworks]".'
        ) from None
    from pymatgen_crystalnet.workflows.fireworks import submit_flow
    from pymatgen_crystalnet.workflows.job_decorator import set_category

    maker = _maker(config_file, crystal_systems, limit, epochs, workers, threads, candidates, grid,
                   no_evaluate, settings)
    flow = maker.make(_source(source), run_dir=run_dir)
    category = train_category or None
    set_category(flow, category, name_filter="train")
    set_category(flow, category, name_filter="evaluate")
    lpad = LaunchPad.from_file(str(launchpad_file))
    ids = submit_flow(flow, lpad, store)
    click.echo(f"submitted {len(ids)} Fireworks (fw_ids {min(ids.values())}–{max(ids.values())}); "
               f"run them with: rlaunch -l {launchpad_file} rapidfire")


@workflow.command("status")
@click.option("--launchpad", "launchpad_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="my_launchpad.yaml.")
@click.option("--fw-id", required=True, type=int, help="Any Firework id of the workflow.")
def status(launchpad_file: Path, fw_id: int) -> None:
    """State of every job of a workflow on a LaunchPad, with the errors of failed ones."""
    try:
        from fireworks import LaunchPad
    except ImportError:
        raise click.ClickException(
            'FireWorks is not installed: pip install "pymatgen-crystalnet[fireworks]".'
        ) from None
    from pymatgen_crystalnet.workflows.fireworks import report_from_launchpad

    rep = report_from_launchpad(LaunchPad.from_file(str(launchpad_file)), fw_id)
    _echo_report(rep)

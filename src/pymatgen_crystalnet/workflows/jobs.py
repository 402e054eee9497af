"""Jobs and Makers: build a dataset, train, evaluate, solve, verify.

Every job of this package is made by one decorator, :func:`crystalnet_job`, which fixes the
job's output schema (a pydantic document of :mod:`.schemas`) and sends the documents' large
fields (:data:`~.schemas.LARGE_FIELDS`: density grids, histories, weights, id lists, forward
patterns) to the JobStore's ``data`` store, as atomate2's forcefield jobs do::

    from pymatgen_crystalnet.workflows.jobs import BuildDatasetMaker, TrainMaker

    build = BuildDatasetMaker(limit=100).make("corpus.jsonl.gz")
    train = TrainMaker.from_preset("small", epochs=5).make(build.output)

Resources: :class:`TrainMaker` and :class:`EvaluateMaker` jobs carry the FireWorks category
``"gpu"`` (``job.config.manager_config["_category"]``), so on a LaunchPad they go to a worker
whose ``category`` is ``gpu`` (or to a worker without a category); other jobs carry none.
Change it for a whole flow with :func:`set_category` -- the flow itself does not change.
Local runs ignore categories.

Paths: jobs write into their working directory unless given a location (``run_locally`` with
``create_folders=True`` and FireWorks give every job its own). Later jobs read what earlier
ones wrote through the absolute paths recorded in the documents, and check the SHA-256
recorded beside them; on a cluster the job folders must be on a shared file system, or the
model weights travel through the data store (``TrainMaker.store_weights``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jobflow import Flow, Job, JobConfig, Maker, Response, job

from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.physics.cells import grid_electrons
from pymatgen_crystalnet.scoring.verification import agreement_key
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.workflows.schemas import (
    LARGE_FIELDS,
    CandidateDocument,
    DatasetDocument,
    DensityGrid,
    EvaluationDocument,
    PatternDocument,
    SolutionDocument,
    SolveDocument,
    TrainingRunDocument,
    VerificationDocument,
    WeightsBlob,
    make_provenance,
)

__all__ = [
    "DATA_STORE",
    "GPU_CATEGORY",
    "BuildDatasetMaker",
    "EvaluateMaker",
    "SolveMaker",
    "TrainMaker",
    "VerifyMaker",
    "crystalnet_job",
    "pick_pattern",
    "rank_candidates",
    "set_category",
    "verify_candidates",
]

logger = logging.getLogger(__name__)

#: Name of the JobStore's additional store that receives the large fields.
DATA_STORE = "data"
#: FireWorks category of the jobs that want a GPU.
GPU_CATEGORY = "gpu"


def crystalnet_job(output_schema: type | None, *, category: str | None = None) -> Any:
    """The job decorator of this package.

    Parameters
    ----------
    output_schema
        The pydantic document the job returns (jobflow checks references against it);
        None only for a job that replaces itself by a flow (its stored output is then a
        reference to that flow's output, which no schema describes).
    category
        FireWorks category of the job (``manager_config["_category"]``), e.g. ``"gpu"``.

    Returns
    -------
    callable
        ``jobflow.job`` configured to store :data:`~.schemas.LARGE_FIELDS` in the
        :data:`DATA_STORE` store.
    """
    kwargs: dict[str, Any] = {DATA_STORE: list(LARGE_FIELDS)}
    if output_schema is not None:
        kwargs["output_schema"] = output_schema
    if category:
        kwargs["config"] = JobConfig(manager_config={"_category": category})
    return job(**kwargs)


def set_category(flow: Flow | Job, category: str | None, name_filter: str | None = None) -> Flow | Job:
    """Set (or, with None, remove) the FireWorks category of jobs of a flow, in place.

    Parameters
    ----------
    flow
        A flow or a job.
    category
        The category (``"gpu"``, ``"big-gpu"``, …) or None for no category.
    name_filter
        Only jobs whose name contains this string (all jobs when None).
    """
    manager_config = {} if category is None else {"_category": category}
    flow.update_config({"manager_config": manager_config}, name_filter=name_filter)
    return flow


def _work_path(path: str | os.PathLike | None, default: str) -> Path:
    """An absolute path: ``path``, or ``default`` in the job's working directory."""
    return (Path(path) if path is not None else Path.cwd() / default).expanduser().resolve()


# ---------------------------------------------------------------------------- dataset


@dataclass
class BuildDatasetMaker(Maker):
    """Build a dataset from a structure source and export it for training.

    Runs :func:`pymatgen_crystalnet.data.build_dataset` (incremental: a rerun on the same
    store only does what is new) and :func:`~pymatgen_crystalnet.data.export_dataset`.

    Parameters
    ----------
    name
        Job name.
    build_config, split_config
        How crystals become training data, and the de-duplication and split rules.
    workers
        Processes for the crystal build.
    limit
        Ingest at most this many (selected) structures.
    export_crystal_systems
        Systems to export (default: those of ``build_config``, or all).
    xrd_dtype
        Storage type of the exported XRD vectors.
    """

    name: str = "build dataset"
    build_config: BuildConfig = field(default_factory=BuildConfig)
    split_config: SplitConfig = field(default_factory=SplitConfig)
    workers: int = 1
    limit: int | None = None
    export_crystal_systems: list[str] | None = None
    xrd_dtype: str = "float16"

    @crystalnet_job(DatasetDocument)
    def make(
        self, source: str, store: str | None = None, export: str | None = None
    ) -> DatasetDocument:
        """Build the store at ``store`` from ``source`` and export it to ``export``.

        Parameters
        ----------
        source
            A JSONL(.gz) corpus, a folder of CIFs, a CIF file, or ``"mp"``.
        store
            Store location (directory, ``json://DIR`` or a ``mongodb://`` URI); default
            ``dataset_store/`` in the job's folder.
        export
            The ``.npz`` export; default ``dataset.npz`` in the job's folder.
        """
        from pymatgen_crystalnet.data.export import export_dataset
        from pymatgen_crystalnet.data.pipeline import build_dataset
        from pymatgen_crystalnet.data.reader import load_export
        from pymatgen_crystalnet.data.stores import is_mongo_uri

        t0 = time.perf_counter()
        is_file = source != "mp" and Path(source).is_file()
        if source != "mp" and not Path(source).exists():
            raise FileNotFoundError(f"The structure source {source} does not exist.")
        source_text = source if source == "mp" else str(Path(source).resolve())
        if store is None:
            store_text = str(_work_path(None, "dataset_store"))
        elif is_mongo_uri(store) or str(store).startswith("json://"):
            store_text = str(store)
        else:
            store_text = str(_work_path(store, "dataset_store"))
        export_path = _work_path(export, "dataset.npz")

        report = build_dataset(
            source_text,
            store_text,
            config=self.build_config,
            split_config=self.split_config,
            workers=self.workers,
            limit=self.limit,
            progress=False,
        )
        systems = self.export_crystal_systems or self.build_config.crystal_systems
        summary = export_dataset(store_text, export_path, crystal_systems=systems, xrd_dtype=self.xrd_dtype)
        exported = load_export(summary.path)
        ids: dict[str, list[str]] = {}
        for mid, split in zip(exported.material_id.tolist(), exported.split.tolist()):
            ids.setdefault(split, []).append(mid)
        counts = dict(report.counts)
        export_sha = sha256_file(summary.path)
        source_sha = sha256_file(source_text) if is_file else None
        logger.info("dataset: %d crystals exported to %s", summary.n_crystals, summary.path)
        return DatasetDocument(
            source=source_text,
            source_sha256=source_sha,
            store=store_text if "@" not in store_text else "mongodb",
            export_path=str(summary.path),
            export_sha256=export_sha,
            export_bytes=summary.bytes,
            n_crystals=summary.n_crystals,
            counts=summary.counts,
            build={k: v for k, v in counts.items() if k != "splits"},
            build_config=self.build_config.as_dict(),
            split_config=self.split_config.as_dict(),
            cell=exported.manifest.get("cell"),
            b_factor=exported.manifest.get("b_factor"),
            wavelength=exported.manifest.get("wavelength"),
            material_ids=ids,
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(
                self, source=source_text, source_sha256=source_sha, export_sha256=export_sha
            ),
        )


def _export_of(dataset: DatasetDocument | str | os.PathLike) -> tuple[Path, str | None]:
    """Path of the export a job should read, checked against its recorded SHA-256."""
    if isinstance(dataset, DatasetDocument):
        path = Path(dataset.export_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"The dataset export {path} is not on this machine; run the jobs on a shared "
                "file system (or give the export path)."
            )
        digest = sha256_file(path)
        if digest != dataset.export_sha256:
            raise ValueError(
                f"The dataset export {path} changed since it was built (SHA-256 {digest[:12]}… "
                f"!= {dataset.export_sha256[:12]}…); rebuild it."
            )
        return path, digest
    path = Path(dataset).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"No dataset export at {path}.")
    return path, sha256_file(path)


@crystalnet_job(PatternDocument)
def pick_pattern(
    dataset: DatasetDocument | str, split: str = "test", index: int = 0, composition: bool = True
) -> PatternDocument:
    """The pattern, formula and cell of one crystal of an export, as a solver input.

    Parameters
    ----------
    dataset
        A :class:`~.schemas.DatasetDocument` or an export path.
    split
        Split to take the crystal from; when it is empty, the first of test, val, train that
        is not.
    index
        Which crystal of the split (in the export's order).
    composition
        Give the solver the formula (else no formula).
    """
    import numpy as np

    from pymatgen_crystalnet.data.reader import load_export

    path, digest = _export_of(dataset)
    data = load_export(path)
    order = [split] + [s for s in ("test", "val", "train") if s != split]
    for name in order:
        rows = np.flatnonzero(data.split == name)
        if len(rows):
            if name != split:
                logger.warning("The export has no %s crystal; taking one from %s.", split, name)
            break
    else:  # pragma: no cover - load_export refuses empty exports
        raise ValueError(f"{path} holds no crystal.")
    i = int(rows[index % len(rows)])
    return PatternDocument(
        material_id=str(data.material_id[i]),
        formula=str(data.formula[i]),
        crystal_system=str(data.crystal_system[i]),
        split=name,
        xrd_vector=np.asarray(data.xrd[i], dtype=np.float32).tolist(),
        composition=str(data.formula[i]) if composition else None,
        lattice=np.asarray(data.lattice[i]).tolist(),
        cell=data.manifest.get("cell"),
        provenance=make_provenance(None, export=str(path), export_sha256=digest),
    )


# ---------------------------------------------------------------------------- training


def _history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class TrainMaker(Maker):
    """Train a CrystalNet on a dataset export; single process or under ``torchrun``.

    The job asks for a GPU through its FireWorks category (``"gpu"``, see
    :func:`set_category`); it trains on whatever device ``device`` resolves to.

    Parameters
    ----------
    name
        Job name.
    network_config, training_config
        The model's and the training's settings (``from_preset`` builds both).
    device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, …
    launcher
        ``"single"``: train in the job's process. ``"torchrun"``: start
        ``nproc_per_node`` processes with ``torch.distributed.run`` (DDP, one GPU each; gloo
        on CPU), running ``crystalnet train``.
    nproc_per_node
        Processes for ``torchrun`` (default: the visible GPUs, at least 1).
    threads
        CPU threads for torch (default: torch's choice).
    resume
        Continue a run found in the run folder (a rerun of the job after a crash goes on
        from its last checkpoint); otherwise such a folder is an error.
    store_weights
        Also put the selected weights into the document (data store) when they are at most
        ``max_stored_weights_mb``, so that later jobs need no shared file system. Off by
        default: the document records the weights' path and SHA-256, and every job that
        takes the document as input carries it (FireWorks stores a failed job's inputs).
    max_stored_weights_mb
        Size limit for ``store_weights``.
    """

    name: str = "train"
    network_config: CrystalNetConfig = field(default_factory=lambda: CrystalNetConfig.from_preset("small"))
    training_config: TrainingConfig = field(default_factory=lambda: TrainingConfig.from_preset("small"))
    device: str = "auto"
    launcher: Literal["single", "torchrun"] = "single"
    nproc_per_node: int | None = None
    threads: int | None = None
    resume: bool = True
    store_weights: bool = False
    max_stored_weights_mb: float = 64.0

    def __post_init__(self) -> None:
        if self.launcher not in ("single", "torchrun"):
            raise ValueError(f"launcher must be 'single' or 'torchrun', got {self.launcher!r}.")
        if self.nproc_per_node is not None and self.nproc_per_node < 1:
            raise ValueError(f"nproc_per_node must be at least 1, got {self.nproc_per_node}.")

    @classmethod
    def from_preset(
        cls,
        preset: str = "small",
        *,
        epochs: int | None = None,
        network: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> TrainMaker:
        """A maker with the named model and training preset (``"small"`` or ``"paper"``).

        Parameters
        ----------
        preset
            Preset of both configs.
        epochs
            Override the number of epochs.
        network, training
            Overrides of ``CrystalNetConfig`` and ``TrainingConfig`` fields.
        **kwargs
            Other fields of the maker (``device``, ``launcher``, …).
        """
        training = dict(training or {})
        if epochs is not None:
            training["epochs"] = epochs
        return cls(
            network_config=CrystalNetConfig.from_preset(preset, **(network or {})),
            training_config=TrainingConfig.from_preset(preset, **training),
            **kwargs,
        )

    @crystalnet_job(TrainingRunDocument, category=GPU_CATEGORY)
    def make(self, dataset: DatasetDocument | str, run_dir: str | None = None) -> TrainingRunDocument:
        """Train on ``dataset`` (a :class:`~.schemas.DatasetDocument` or an export path).

        Parameters
        ----------
        dataset
            What to train on.
        run_dir
            Run folder; default ``run/`` in the job's folder. Give a fixed one to let a
            rerun of the job resume.
        """
        export, digest = _export_of(dataset)
        out = _work_path(run_dir, "run")
        t0 = time.perf_counter()
        if self.launcher == "torchrun":
            world, device, device_name = self._train_torchrun(export, out)
        else:
            world, device, device_name = self._train_single(export, out)
        wall = time.perf_counter() - t0
        return self._document(out, world, device, device_name, wall, export, digest, dataset)

    # -- the two launchers
    def _train_single(self, export: Path, out: Path) -> tuple[int, str, str | None]:
        import torch

        from pymatgen_crystalnet.training.data import open_datasets
        from pymatgen_crystalnet.training.distributed import DistEnv, resolve_device
        from pymatgen_crystalnet.training.trainer import Trainer

        if self.threads:
            torch.set_num_threads(self.threads)
        train_set, val_set, description = open_datasets(
            str(export), self.network_config, self.training_config
        )
        dev = resolve_device(self.device)
        trainer = Trainer(
            self.network_config,
            self.training_config,
            train_set,
            val_set,
            out,
            resume=self.resume,
            progress=False,
            data_description=description,
            env=DistEnv(device=dev),
        )
        trainer.fit()
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
        return 1, dev.type, name

    def _train_torchrun(self, export: Path, out: Path) -> tuple[int, str, str | None]:
        import torch

        from pymatgen_crystalnet.atomic import atomic_write_json
        from pymatgen_crystalnet.training.distributed import resolve_device

        dev = resolve_device(self.device)
        nproc = self.nproc_per_node or max(1, torch.cuda.device_count() if dev.type == "cuda" else 1)
        out.mkdir(parents=True, exist_ok=True)
        config_file = out / "workflow_train_config.json"
        atomic_write_json(
            config_file, {"model": self.network_config.as_dict(), "training": self.training_config.as_dict()}
        )
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "pymatgen_crystalnet.workflows.train_entry",
            "train", "--data", str(export), "--out", str(out), "--config", str(config_file),
            "--device", self.device, "--no-progress",
        ]  # fmt: skip
        if self.resume:
            cmd.append("--resume")
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        log_file = out / "torchrun.log"
        logger.info("training with %d processes: %s", nproc, " ".join(cmd))
        with open(log_file, "ab") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            tail = log_file.read_text(errors="replace").strip().splitlines()[-15:]
            raise RuntimeError(
                f"torchrun training exited with status {proc.returncode}; last lines of {log_file}:\n"
                + "\n".join(tail)
            )
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
        return nproc, dev.type, name

    def _document(
        self,
        out: Path,
        world: int,
        device: str,
        device_name: str | None,
        wall: float,
        export: Path,
        digest: str | None,
        dataset: Any,
    ) -> TrainingRunDocument:
        from pymatgen_crystalnet.model.weights import read_weights_config
        from pymatgen_crystalnet.training.checkpoint import latest_checkpoint

        best_dir = out / "best"
        if not (best_dir / "model.safetensors").is_file():
            raise RuntimeError(f"Training finished without weights in {best_dir}.")
        weights_cfg = read_weights_config(best_dir)
        weights_sha = sha256_file(best_dir / "model.safetensors")
        record = json.loads((out / "training.json").read_text())
        history = _history(out)
        best_rows = [r for r in history if r.get("is_best")]
        metric = f"val_{self.training_config.select_metric}"
        best = (
            {"epoch": best_rows[-1]["epoch"], "metric": metric, "value": best_rows[-1].get(metric)}
            if best_rows
            else None
        )
        last = latest_checkpoint(out)
        blob = None
        size_mb = (best_dir / "model.safetensors").stat().st_size / 2**20
        if self.store_weights and size_mb <= self.max_stored_weights_mb:
            blob = WeightsBlob.from_folder(best_dir)
        elif self.store_weights:
            logger.info("weights of %.1f MiB not stored in the document (limit %.1f MiB)", size_mb,
                        self.max_stored_weights_mb)
        inputs = {"export": str(export), "export_sha256": digest}
        if isinstance(dataset, DatasetDocument):
            inputs["material_ids_train"] = len(dataset.material_ids.get("train", []))
        return TrainingRunDocument(
            run_dir=str(out),
            checkpoint_dir=str(best_dir),
            weights_sha256=weights_sha,
            last_checkpoint=str(last) if last else None,
            last_checkpoint_sha256=sha256_file(last / "model.safetensors") if last else None,
            launcher=self.launcher,
            world_size=int(record.get("world_size", world)),
            device=device,
            device_name=device_name,
            wall_time_s=wall,
            epochs=len(history),
            n_parameters=int(weights_cfg.get("n_parameters", 0)),
            best=best,
            final=history[-1] if history else {},
            network_config=record.get("model_config", {}),
            training_config=record.get("training_config", {}),
            data=record.get("data", {}),
            training_history=history,
            weights_blob=blob,
            provenance=make_provenance(self, **inputs),
        )


def _weights_folder(model: TrainingRunDocument | str | None) -> tuple[Path, str | None]:
    """A local weights folder for ``model`` and its expected SHA-256 (None: bundled/unchecked)."""
    if model is None:
        from pymatgen_crystalnet.model.pretrained import pretrained_path

        return Path(pretrained_path(None)), None
    if isinstance(model, TrainingRunDocument):
        folder = Path(model.checkpoint_dir)
        if (folder / "model.safetensors").is_file():
            return folder, model.weights_sha256
        if model.weights_blob is not None:
            local = Path.cwd() / "weights"
            logger.info("%s is not on this machine; using the weights stored with the run", folder)
            return model.weights_blob.write(local), model.weights_sha256
        raise FileNotFoundError(
            f"The weights {folder} are not on this machine and were not stored with the run "
            "(TrainMaker.store_weights); use a shared file system."
        )
    return Path(model).expanduser().resolve(), None


def _load_solver(
    model: TrainingRunDocument | str | None, device: str | None
) -> tuple[Any, dict[str, Any]]:
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver

    folder, expected = _weights_folder(model)
    digest = sha256_file(folder / "model.safetensors")
    if expected is not None and digest != expected:
        raise ValueError(
            f"The weights in {folder} changed since training (SHA-256 {digest[:12]}… != {expected[:12]}…)."
        )
    solver = CrystalNetSolver.from_checkpoint(folder, device=device)
    return solver, {"checkpoint_dir": str(folder), "weights_sha256": digest, "name": solver.name}


# ---------------------------------------------------------------------------- evaluation


@dataclass
class EvaluateMaker(Maker):
    """Evaluate a trained model with the evaluation protocol of :mod:`pymatgen_crystalnet.evaluation`.

    Parameters
    ----------
    name
        Job name.
    split
        Split of the export to score.
    options
        Fields of :class:`pymatgen_crystalnet.evaluation.protocol.EvaluationConfig` other than
        ``split`` (``grid``, ``samples``, ``ablations``, ``control``, ``limit``, …).
    device
        Torch device (``None``: CUDA when available).
    write_report
        Also write the report files (markdown and JSON) into the job's folder.
    """

    name: str = "evaluate"
    split: str = "test"
    options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    write_report: bool = True

    @crystalnet_job(EvaluationDocument, category=GPU_CATEGORY)
    def make(self, training: TrainingRunDocument | str, dataset: DatasetDocument | str) -> EvaluationDocument:
        """Score the model of ``training`` on the ``split`` crystals of ``dataset``."""
        from pymatgen_crystalnet.workflows._evaluation import run_evaluation

        t0 = time.perf_counter()

        folder, expected = _weights_folder(training)
        export, digest = _export_of(dataset)
        weights_sha = sha256_file(folder / "model.safetensors")
        if expected is not None and weights_sha != expected:
            raise ValueError(f"The weights in {folder} changed since training.")
        result = run_evaluation(
            folder,
            export,
            split=self.split,
            options=self.options,
            device=self.device,
            report_dir=Path.cwd() / "evaluation" if self.write_report else None,
        )
        return EvaluationDocument(
            split=self.split,
            n_crystals=result["n_crystals"],
            checkpoint_dir=str(folder),
            weights_sha256=weights_sha,
            export_sha256=digest,
            summary=result["summary"],
            report=result["report"],
            report_files=result["files"],
            per_crystal=result["per_crystal"],
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(
                self, checkpoint_dir=str(folder), weights_sha256=weights_sha, export=str(export),
                export_sha256=digest,
            ),
        )


# ---------------------------------------------------------------------------- solving


def _pattern_input(pattern: Any) -> tuple[Any, dict[str, Any]]:
    """The solver's ``pattern`` argument and a description of it."""
    import numpy as np

    if isinstance(pattern, PatternDocument):
        return np.asarray(pattern.xrd_vector, dtype=np.float32), {
            "material_id": pattern.material_id, "formula": pattern.formula,
            "crystal_system": pattern.crystal_system, "split": pattern.split, "kind": "vector",
        }  # fmt: skip
    if isinstance(pattern, (list, tuple)) and len(pattern) == 1024:
        return np.asarray(pattern, dtype=np.float32), {"kind": "vector"}
    if isinstance(pattern, (str, os.PathLike)):
        return str(pattern), {"kind": "file", "path": str(pattern)}
    return pattern, {"kind": type(pattern).__name__}


@dataclass
class SolveMaker(Maker):
    """Propose candidate densities for one powder pattern with a trained model.

    Parameters
    ----------
    name
        Job name.
    n_candidates
        Latent samples (candidates) to draw.
    grid
        Grid points per cell axis of the candidates.
    seed
        Seed of the latent samples.
    composition_mode
        Override the composition ablation mode the solver infers.
    device
        Torch device (``None``: CUDA when available).
    """

    name: str = "solve"
    n_candidates: int = 5
    grid: int = 50
    seed: int | None = 0
    composition_mode: str | None = None
    device: str | None = None

    @crystalnet_job(SolveDocument)
    def make(
        self,
        model: TrainingRunDocument | str | None,
        pattern: PatternDocument | Any,
        composition: str | None = None,
        lattice: list[list[float]] | float | None = None,
    ) -> SolveDocument:
        """Solve ``pattern`` with ``model``.

        Parameters
        ----------
        model
            A :class:`~.schemas.TrainingRunDocument`, a weights folder, or None for the
            bundled model.
        pattern
            A :class:`~.schemas.PatternDocument` (its formula and cell are used unless given
            here), a 1024-bin vector, a ``DiffractionPattern``, or a pattern file path.
        composition
            Formula (or elements) known for the crystal.
        lattice
            The cell (3×3 rows, Å) or a cubic ``a``; None: from the pattern document, or
            indexed (cubic).
        """
        t0 = time.perf_counter()
        if isinstance(pattern, PatternDocument):
            composition = composition if composition is not None else pattern.composition
            lattice = lattice if lattice is not None else pattern.lattice
        solver, model_info = _load_solver(model, self.device)
        pattern_arg, pattern_info = _pattern_input(pattern)
        result = solver.solve(
            pattern_arg,
            composition,
            lattice=lattice,
            n_candidates=self.n_candidates,
            grid=self.grid,
            seed=self.seed,
            composition_mode=self.composition_mode,
        )
        candidates = [
            CandidateDocument(
                rank=c.rank,
                sample=c.sample,
                cosine=c.verification.cosine,
                rwp=c.verification.rwp,
                electrons=grid_electrons(c.grid, result.lattice.volume),
                density_max=float(c.grid.max()),
                density_grid=DensityGrid.from_array(c.grid, result.lattice),
            )
            for c in result.candidates
        ]
        return SolveDocument(
            model=model_info,
            pattern=pattern_info,
            composition=None if composition is None else str(composition),
            composition_mode=result.composition_mode,
            lattice=result.lattice.matrix.tolist(),
            lattice_source=result.lattice_source,
            input_vector=[float(v) for v in result.input_vector],
            covered=[bool(v) for v in result.covered],
            n_candidates=self.n_candidates,
            grid=self.grid,
            seed=self.seed,
            candidates=candidates,
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(self, **model_info, pattern=pattern_info),
        )


@dataclass
class VerifyMaker(Maker):
    """Compute a candidate density's powder pattern and compare it with the input.

    The forward model (FFT of the density on its lattice → structure factors → Mo Kα powder
    pattern) gives the candidate's 1024-bin vector; cosine similarity and Rwp are taken over
    the bins the input covers and the grid resolves.

    Parameters
    ----------
    name
        Job name.
    """

    name: str = "verify"

    @crystalnet_job(VerificationDocument)
    def make(
        self,
        candidate: CandidateDocument | DensityGrid,
        target_vector: list[float],
        covered: list[bool] | None = None,
    ) -> VerificationDocument:
        """Verify one candidate against the input vector (and its covered bins)."""
        from pymatgen_crystalnet.scoring.verification import verify_density

        t0 = time.perf_counter()
        grid_doc = candidate.density_grid if isinstance(candidate, CandidateDocument) else candidate
        sample = candidate.sample if isinstance(candidate, CandidateDocument) else -1
        check = verify_density(grid_doc.array(), grid_doc.lattice, target_vector, covered)
        return VerificationDocument(
            sample=sample,
            cosine=check.cosine,
            rwp=check.rwp,
            compared_bins=check.compared_bins,
            electrons=grid_doc.electrons,
            forward_vector=[float(v) for v in check.vector],
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(self, density_sha256=grid_doc.sha256),
        )


@crystalnet_job(SolutionDocument)
def rank_candidates(solve: SolveDocument, verifications: list[VerificationDocument]) -> SolutionDocument:
    """Rank the candidates of ``solve`` by their independent verification (cosine, then Rwp)."""
    by_sample = {c.sample: c for c in solve.candidates}
    order = sorted(verifications, key=lambda v: agreement_key(v.cosine, v.rwp))
    ranking = [
        {"rank": r, "sample": v.sample, "cosine": v.cosine, "rwp": v.rwp,
         "solver_rank": by_sample[v.sample].rank}
        for r, v in enumerate(order)
    ]  # fmt: skip
    best = order[0]
    return SolutionDocument(
        pattern=solve.pattern,
        ranking=ranking,
        best_sample=best.sample,
        best_cosine=best.cosine,
        best_rwp=best.rwp,
        agrees_with_solver=by_sample[best.sample].rank == 0,
        lattice=solve.lattice,
        density_grid=by_sample[best.sample].density_grid,
        provenance=make_provenance(None, model=solve.model, pattern=solve.pattern),
    )


@crystalnet_job(None)
def verify_candidates(solve: SolveDocument, verify_maker: VerifyMaker | None = None) -> Response:
    """Fan out at run time: one verification job per candidate of ``solve``, then a ranking job.

    The job replaces itself by that flow (``Response(replace=…)``), so its output becomes the
    ranking's :class:`~.schemas.SolutionDocument`. The new jobs carry the candidates' values
    (densities included) in their descriptions, since a FireWorks replacement may not refer
    to jobs outside it: fine for small grids; :class:`~.flows.SolveVerifyMaker` fans out when
    the flow is built instead (``fan_out="static"``, the default), through references.
    """
    maker = verify_maker or VerifyMaker()
    jobs = []
    for cand in solve.candidates:
        verify = maker.make(cand, solve.input_vector, solve.covered)
        verify.name = f"{maker.name} candidate {cand.rank}"
        jobs.append(verify)
    rank = rank_candidates(solve, [j.output for j in jobs])
    rank.name = "rank candidates"
    return Response(replace=Flow([*jobs, rank], output=rank.output, name="verify and rank"))

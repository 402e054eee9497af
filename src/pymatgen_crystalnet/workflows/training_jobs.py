"""Training job: :class:`TrainMaker` trains a CrystalNet on a dataset export.

::

    from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

    train = TrainMaker.from_preset("small", epochs=5).make(build.output)

The job carries the FireWorks category ``"gpu"`` (see :func:`~.job_decorator.set_category`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jobflow import Maker

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.workflows.job_decorator import GPU_CATEGORY, _work_path, crystalnet_job
from pymatgen_crystalnet.workflows.job_inputs import checked_export
from pymatgen_crystalnet.workflows.schemas import (
    DatasetDocument,
    TrainingRunDocument,
    WeightsBlob,
    make_provenance,
)

if TYPE_CHECKING:
    import torch

__all__ = ["TrainMaker"]

logger = logging.getLogger(__name__)


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
        Torch device: ``"auto"`` (or None: CUDA when available, else the CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, … Resolved when the job runs; a device absent on the machine
        running it is an error. Under ``torchrun`` each process takes the GPU of its local rank.
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
    device: str | None = "auto"
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
        dev = resolve_device(self.device)
        export, digest = checked_export(dataset)
        out = _work_path(run_dir, "run")
        t0 = time.perf_counter()
        if self.launcher == "torchrun":
            world, device, device_name = self._train_torchrun(export, out, dev)
        else:
            world, device, device_name = self._train_single(export, out, dev)
        wall = time.perf_counter() - t0
        return self._document(out, world, device, device_name, wall, export, digest, dataset)

    # -- the two launchers
    def _train_single(self, export: Path, out: Path, dev: torch.device) -> tuple[int, str, str | None]:
        import torch

        from pymatgen_crystalnet.training.data import open_datasets
        from pymatgen_crystalnet.training.distributed import DistEnv
        from pymatgen_crystalnet.training.trainer import Trainer

        if self.threads:
            torch.set_num_threads(self.threads)
        train_set, val_set, description = open_datasets(
            str(export), self.network_config, self.training_config
        )
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

    def _train_torchrun(self, export: Path, out: Path, dev: torch.device) -> tuple[int, str, str | None]:
        import torch

        from pymatgen_crystalnet.atomic import atomic_write_json

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
            "--device", self.device or "auto", "--no-progress",
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

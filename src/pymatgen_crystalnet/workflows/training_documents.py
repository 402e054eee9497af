"""Documents of the build → train → evaluate jobs: dataset, training run (and its weights), evaluation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from pymatgen_crystalnet.workflows.provenance import Document, Provenance, SettingsDict

__all__ = ["DatasetDocument", "EvaluationDocument", "TrainingRunDocument", "WeightsBlob"]


class DatasetDocument(Document):
    """Output of :class:`~.dataset_jobs.BuildDatasetMaker`: a built store and its training export.

    Attributes
    ----------
    source, source_sha256
        The structure source (a path, or ``"mp"``) and the SHA-256 of a source file.
    store
        Location of the maggma dataset store.
    export_path, export_sha256, export_bytes
        The ``.npz`` export that training reads, its digest and size.
    n_crystals
        Crystals in the export.
    counts
        ``{crystal system: {split: n}}`` of the export.
    build
        Counts of the store: structures, successful, failed, duplicates, excluded.
    build_config, split_config
        The settings (``as_dict()``).
    cell, b_factor, wavelength
        Settings recorded in the export's manifest.
    material_ids
        ``{split: [ids]}`` of the export (kept in the data store).
    wall_time_s
        Seconds the build and export took.
    """

    task_label: Literal["dataset"] = "dataset"
    source: str
    source_sha256: str | None = None
    store: str
    export_path: str
    export_sha256: str
    export_bytes: int
    n_crystals: int
    counts: dict[str, dict[str, int]]
    build: dict[str, Any] = Field(default_factory=dict)
    build_config: SettingsDict = Field(default_factory=dict)
    split_config: SettingsDict = Field(default_factory=dict)
    cell: str | None = None
    b_factor: float | None = None
    wavelength: float | None = None
    material_ids: dict[str, list[str]] = Field(default_factory=dict)
    wall_time_s: float
    provenance: Provenance


class WeightsBlob(Document):
    """A weights folder (``model.safetensors`` + ``config.json``) carried inside a document.

    Lets a job on another machine (no shared file system) rebuild the trained model.
    """

    config_json: str = Field(repr=False)
    safetensors_b64: str = Field(repr=False)
    sha256: str

    @classmethod
    def from_folder(cls, folder: str | Path) -> WeightsBlob:
        """Read a weights folder written by ``model.weights.save_model``."""
        import base64

        folder = Path(folder)
        raw = (folder / "model.safetensors").read_bytes()
        return cls(
            config_json=(folder / "config.json").read_text(),
            safetensors_b64=base64.b64encode(raw).decode("ascii"),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    def write(self, folder: str | Path) -> Path:
        """Write the two files into ``folder`` (created) and return it.

        Raises
        ------
        ValueError
            If the weights do not match their recorded SHA-256.
        """
        import base64

        from pymatgen_crystalnet.atomic import atomic_write_bytes

        raw = base64.b64decode(self.safetensors_b64)
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise ValueError("The stored weights do not match their SHA-256; refusing to write them.")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "model.safetensors", raw)
        atomic_write_bytes(folder / "config.json", self.config_json.encode())
        return folder


class TrainingRunDocument(Document):
    """Output of :class:`~.training_jobs.TrainMaker`: one training run.

    Attributes
    ----------
    run_dir
        The run folder (``training.json``, metrics, ``checkpoints/``, ``best/``).
    checkpoint_dir
        The selected weights (``best/``), loadable with ``CrystalNetSolver.from_checkpoint``.
    weights_sha256
        SHA-256 of ``best/model.safetensors``.
    last_checkpoint, last_checkpoint_sha256
        The newest resumable snapshot and the SHA-256 of its weights file.
    launcher, world_size
        ``"single"`` or ``"torchrun"``, and the number of processes.
    device, device_name
        Torch device type and, on CUDA, the GPU model.
    wall_time_s
        Seconds the job spent training (start to end, including validation).
    epochs, n_parameters
        Epochs completed and model size.
    best
        ``{"epoch", "metric", "value"}`` of the selected weights.
    final
        The last epoch's metrics.
    network_config, training_config
        The model's and the training's settings (``as_dict()``).
    data
        What training read (export path, SHA-256, counts, cell, B factor).
    training_history
        One row per epoch (kept in the data store).
    weights_blob
        The weights themselves (data store), when small enough and asked for.
    """

    task_label: Literal["training"] = "training"
    run_dir: str
    checkpoint_dir: str
    weights_sha256: str
    last_checkpoint: str | None = None
    last_checkpoint_sha256: str | None = None
    launcher: Literal["single", "torchrun"] = "single"
    world_size: int = 1
    device: str
    device_name: str | None = None
    wall_time_s: float
    epochs: int
    n_parameters: int
    best: dict[str, Any] | None = None
    final: dict[str, Any] = Field(default_factory=dict)
    network_config: SettingsDict = Field(default_factory=dict)
    training_config: SettingsDict = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    training_history: list[dict[str, Any]] = Field(default_factory=list)
    weights_blob: WeightsBlob | None = None
    provenance: Provenance


class EvaluationDocument(Document):
    """Output of :class:`~.evaluation_jobs.EvaluateMaker`: the evaluation protocol on one split.

    Attributes
    ----------
    split
        Split evaluated (``"test"`` normally).
    n_crystals
        Crystals scored.
    checkpoint_dir, weights_sha256, export_sha256
        The model and the data evaluated.
    summary
        The report's tables: for each scored setting (model, baselines, control), mean and
        standard deviation of SSIM, PSNR, map CC and NMAE, rotation-only and
        translation-aware, as the evaluation package reports them.
    report
        The evaluation report as its package returns it (JSON-serialisable).
    report_files
        Files the report was written to (markdown, JSON), if any.
    per_crystal
        Scores of every crystal (data store).
    wall_time_s
        Seconds the evaluation took.
    """

    task_label: Literal["evaluation"] = "evaluation"
    split: str
    n_crystals: int
    checkpoint_dir: str
    weights_sha256: str
    export_sha256: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    report: dict[str, Any] = Field(default_factory=dict)
    report_files: list[str] = Field(default_factory=list)
    per_crystal: list[dict[str, Any]] = Field(default_factory=list)
    wall_time_s: float
    provenance: Provenance

"""Evaluation job: :class:`EvaluateMaker` scores a trained model with the evaluation protocol.

The job carries the FireWorks category ``"gpu"`` (see :func:`~.job_decorator.set_category`);
the work is done by :mod:`pymatgen_crystalnet.evaluation`, through :mod:`._evaluation`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Maker

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.workflows.job_decorator import GPU_CATEGORY, crystalnet_job
from pymatgen_crystalnet.workflows.job_inputs import checked_export, checked_weights
from pymatgen_crystalnet.workflows.schemas import (
    DatasetDocument,
    EvaluationDocument,
    TrainingRunDocument,
    make_provenance,
)

__all__ = ["EvaluateMaker"]


@dataclass
class EvaluateMaker(Maker):
    """Evaluate a trained model with the evaluation protocol of :mod:`pymatgen_crystalnet.evaluation`.

    Parameters
    ----------
    name
        Job name.
    config
        What to evaluate and how: the split, grid, samples, which methods, limits, seed
        (:class:`~pymatgen_crystalnet.evaluation.config.EvaluationConfig`, whose defaults are
        the paper's protocol on the test split).
    device
        Torch device: ``"auto"`` (or None: CUDA when available, else the CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, … Resolved when the job runs; a device absent on the machine
        running it is an error.
    write_report
        Also write the report files (markdown and JSON) into the job's folder.

    Raises
    ------
    TypeError
        If ``config`` is neither an ``EvaluationConfig`` nor a mapping of its fields.
    """

    name: str = "evaluate"
    config: EvaluationConfig = field(default_factory=EvaluationConfig)
    device: str | None = "auto"
    write_report: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.config, dict):  # a config written by hand, without "@module"
            self.config = EvaluationConfig.from_dict(self.config)
        if not isinstance(self.config, EvaluationConfig):
            raise TypeError(
                f"EvaluateMaker.config must be an EvaluationConfig (or a dict of its fields), "
                f"got {type(self.config).__name__}."
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvaluateMaker:
        """Rebuild from ``as_dict()``; also reads the ``split`` + ``options`` form written before
        ``EvaluateMaker`` took an :class:`EvaluationConfig` (flows stored on a LaunchPad).
        """
        d = dict(d)
        if "options" in d or "split" in d:
            options = dict(d.pop("options", None) or {})
            d["config"] = EvaluationConfig(split=d.pop("split", "test"), **options)
        return super().from_dict(d)

    @crystalnet_job(EvaluationDocument, category=GPU_CATEGORY)
    def make(self, training: TrainingRunDocument | str, dataset: DatasetDocument | str) -> EvaluationDocument:
        """Score the model of ``training`` on the ``config.split`` crystals of ``dataset``."""
        from pymatgen_crystalnet.workflows._evaluation import run_evaluation

        t0 = time.perf_counter()
        device = resolve_device(self.device)
        folder, weights_sha = checked_weights(training)
        export, digest = checked_export(dataset)
        result = run_evaluation(
            folder,
            export,
            self.config,
            device=str(device),
            report_dir=Path.cwd() / "evaluation" if self.write_report else None,
        )
        return EvaluationDocument(
            split=self.config.split,
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

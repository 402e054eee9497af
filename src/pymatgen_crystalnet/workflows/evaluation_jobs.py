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

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.workflows.job_decorator import GPU_CATEGORY, crystalnet_job
from pymatgen_crystalnet.workflows.job_inputs import checked_export, weights_folder
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

        folder, expected = weights_folder(training)
        export, digest = checked_export(dataset)
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

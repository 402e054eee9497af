"""What an evaluation returns: the per-crystal rows, the settings and the examples for figures.

:class:`EvaluationResult` is filled by :func:`~.protocol.evaluate`; :meth:`EvaluationResult.as_dict`
is the JSON document (summary tables included, :func:`~.summary.summarise`) that
:func:`~.report.write_report` writes and :mod:`.merge` joins. :class:`Example` is one crystal's
truth and best-aligned prediction, kept for the report's figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet._version import __version__
from pymatgen_crystalnet.evaluation.config import ABLATION_MODES, METHODS, EvaluationConfig
from pymatgen_crystalnet.evaluation.summary import summarise
from pymatgen_crystalnet.scoring.density_metrics import METRICS

__all__ = ["EvaluationResult", "Example"]


@dataclass
class Example:
    """One crystal's truth and its best-aligned predicted sample, for a figure.

    Attributes
    ----------
    material_id, formula
        The crystal.
    scores
        Its ``model`` scores (best of k samples × 24 rotations, each score on its own).
    truth
        The true density on the n³ grid (e/Å³).
    prediction
        The sample and rotation with the highest map CC, turned into the truth's orientation.
    """

    material_id: str
    formula: str
    scores: dict[str, float]
    truth: NDArray[np.float32]
    prediction: NDArray[np.float32]


@dataclass
class EvaluationResult:
    """Everything an evaluation produced; :meth:`as_dict` is the JSON document.

    Attributes
    ----------
    config
        The settings.
    model
        What is known of the model (name, path, preset, parameters, training metadata).
    data
        The export (path, cell, B, density sources, counts) and the selection.
    crystals
        One row per crystal: ``material_id``, ``formula``, ``crystal_system``, ``split``,
        ``seed_split``, ``paper_test``, ``truth``, ``scores`` (``{method: {score: value}}``),
        ``control_partner`` and ``verification``.
    notes
        What a reader must know to read the numbers honestly.
    labels
        Human-readable labels: ``split``, ``paper_test_subset``.
    elapsed_s
        Wall time.
    device
        Torch device used.
    examples
        ``{system: {"best" | "worst": Example}}``: success and failure cases by model map CC
        (not part of :meth:`as_dict`; :func:`~.report.write_report` draws them with the
        figure writer it is given).
    """

    config: EvaluationConfig
    model: dict[str, Any]
    data: dict[str, Any]
    crystals: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    device: str = "cpu"
    examples: dict[str, dict[str, Example]] = field(default_factory=dict)

    @property
    def methods(self) -> dict[str, str]:
        """The methods present in the rows, with their descriptions, in report order."""
        present = {m for row in self.crystals for m in row["scores"]}
        out = {k: v for k, v in METHODS.items() if k in present}
        k_ab = self.config.ablation_samples
        for mode in ABLATION_MODES:
            if f"ablation:{mode}" in present:
                out[f"ablation:{mode}"] = (
                    f"Ablation: composition input '{mode}', best of {k_ab} samples x 24 rotations"
                )
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (summary tables included)."""
        return {
            "format": "crystalnet-evaluation",
            "format_version": 1,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "package_version": __version__,
            "config": {k: v for k, v in self.config.as_dict().items() if not k.startswith("@")},
            "model": self.model,
            "data": self.data,
            "device": self.device,
            "elapsed_s": round(self.elapsed_s, 2),
            "labels": self.labels,
            "notes": self.notes,
            "methods": self.methods,
            "scores": list(METRICS),
            "summary": summarise(self.crystals, list(self.methods), samples=self.config.samples),
            "crystals": self.crystals,
        }

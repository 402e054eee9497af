"""Adapter between :class:`~.jobs.EvaluateMaker` and :mod:`pymatgen_crystalnet.evaluation`."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_evaluation(
    weights: Path,
    export: Path,
    *,
    split: str,
    options: dict[str, Any],
    device: str | None,
    report_dir: Path | None,
) -> dict[str, Any]:
    """Run the evaluation protocol; returns n_crystals, summary, report, files, per_crystal."""
    try:
        from pymatgen_crystalnet.evaluation import protocol  # noqa: F401
    except ImportError as exc:
        raise NotImplementedError(
            "The evaluation protocol (pymatgen_crystalnet.evaluation.protocol) is not available."
        ) from exc
    raise NotImplementedError("adapter pending")

"""Adapter between :class:`~.evaluation_jobs.EvaluateMaker` and :mod:`pymatgen_crystalnet.evaluation`.

The evaluation protocol (:func:`pymatgen_crystalnet.evaluation.protocol.evaluate`) and its
report (:func:`pymatgen_crystalnet.evaluation.report.write_report`) do the work, with every
setting read from one :class:`~pymatgen_crystalnet.evaluation.config.EvaluationConfig`; this
module only loads the model and the export, and splits the result into the document's parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.jsonsafe import finite_or_none

if TYPE_CHECKING:
    from pymatgen_crystalnet.evaluation.config import EvaluationConfig


def run_evaluation(
    weights: Path,
    export: Path,
    config: EvaluationConfig,
    *,
    device: str | None,
    report_dir: Path | None,
) -> dict[str, Any]:
    """Run the evaluation protocol of the weights in ``weights`` on ``export``.

    Parameters
    ----------
    weights
        A weights folder (``model.safetensors`` + ``config.json``).
    export
        The dataset export.
    config
        The evaluation's settings (split, grid, samples, methods, limits, seed).
    device
        Torch device, already resolved (``pymatgen_crystalnet.devices.resolve_device``).
    report_dir
        Where to write ``evaluation.json`` and ``evaluation.md`` (None: nowhere).

    Returns
    -------
    dict
        ``n_crystals``, ``summary`` (the report's tables), ``report`` (the report's JSON
        document without the per-crystal rows), ``files``, ``per_crystal``.
    """
    from pymatgen_crystalnet.data.reader import load_export
    from pymatgen_crystalnet.evaluation.protocol import evaluate
    from pymatgen_crystalnet.evaluation.report import write_report
    from pymatgen_crystalnet.model.weights import load_model_and_metadata
    from pymatgen_crystalnet.plotting import write_density_example

    model, metadata = load_model_and_metadata(weights, device="cpu")
    result = evaluate(
        model,
        load_export(export),
        config,
        metadata=metadata,
        model_info={"path": str(weights), "name": Path(weights).name},
        device=device,
        progress=False,
    )
    files: list[str] = []
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        files = [str(p) for p in write_report(result, report_dir, figure_writer=write_density_example)]
    doc = finite_or_none(result.as_dict())
    crystals = doc.pop("crystals")
    summary = doc.pop("summary")
    return {"n_crystals": len(crystals), "summary": summary, "report": doc, "files": files,
            "per_crystal": crystals}  # fmt: skip

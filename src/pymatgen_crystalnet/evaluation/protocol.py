"""The evaluation protocol: the paper's scores and the stricter ones, on one split of an export.

For every selected crystal of a dataset export (:mod:`pymatgen_crystalnet.data.reader`) the
truth is computed on the n×n×n fractional grid (exact IAM density with the export's B, or the
stored DFT grid) and the model is scored as follows (each score best over its own samples,
rotations and shifts; see :mod:`pymatgen_crystalnet.scoring.alignment`):

``model``
    The paper's protocol: k = ``samples`` (5) latent samples, best of the 24 grid rotations.
``model_translation``
    The same samples, best over the 24 rotations and all n³ grid shifts.
``strict``
    One prediction from the latent means (z = μ, deterministic), no rotation, no shift.
``selected``
    The sample that forward verification ranks first (largest cosine between its computed
    pattern and the input pattern, :func:`~pymatgen_crystalnet.scoring.verification.verify_density`),
    best of the 24 rotations: what a user trusting the ranking gets.
``control`` / ``control_translation``
    The model's k samples for this crystal made from *another* crystal's pattern of the same
    system (:func:`~.baselines.control_partners`), with this crystal's own composition.
``flat``
    A flat map at the true mean density.
``other_crystal`` / ``other_crystal_translation``
    The truth of the control partner, fractional grid to fractional grid, best of 24 rotations
    (and shifts): the same search the model gets.
``ablation:<mode>``
    k = ``ablation_samples`` (3) samples with the composition input in each ablation mode
    (``full``, ``no_ratios``, ``drop_element``, ``none``), best of 24 rotations.

Forward verification also records, per crystal, whether the best-agreement sample is the
best-SSIM sample. :func:`evaluate` returns an :class:`~.result.EvaluationResult`; :mod:`.report`
turns it into tables (per crystal system, μ ± σ) and writes JSON and Markdown.

:func:`evaluate` orchestrates: it checks the model against the export
(:func:`~.selection.check_model_data`), selects the crystals (:mod:`.selection`), pairs them
(:func:`~.baselines.control_partners`), and hands each :class:`~.batch.Batch` to the scorers of
the method families asked for (:mod:`.scorers`); the notes come from :mod:`.notes`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.evaluation.baselines import control_partners
from pymatgen_crystalnet.evaluation.batch import Batch
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.notes import protocol_notes, split_label, unpaired_note
from pymatgen_crystalnet.evaluation.result import EvaluationResult
from pymatgen_crystalnet.evaluation.scorers import ModelScorer, Sampler, make_scorers
from pymatgen_crystalnet.evaluation.selection import (
    check_model_data,
    paper_subset_label,
    seed_splits_of,
    select_crystals,
    selection_info,
)

if TYPE_CHECKING:
    import torch

    from pymatgen_crystalnet.data.reader import ExportedDataset
    from pymatgen_crystalnet.model.crystalnet import CrystalNet

__all__ = ["evaluate"]

logger = logging.getLogger(__name__)


def evaluate(
    model: CrystalNet | None,
    data: ExportedDataset,
    config: EvaluationConfig | None = None,
    *,
    metadata: dict[str, Any] | None = None,
    model_info: dict[str, Any] | None = None,
    seed_splits: dict[str, str] | None = None,
    device: str | torch.device | None = "auto",
    progress: bool = True,
) -> EvaluationResult:
    """Run the evaluation protocol (module docstring) of ``model`` on ``data``.

    Parameters
    ----------
    model
        A trained :class:`~pymatgen_crystalnet.model.crystalnet.CrystalNet`, or None for the
        baselines alone (flat map, other crystal): the floor any model must beat.
    data
        A dataset export (:func:`~pymatgen_crystalnet.data.reader.load_export`).
    config
        Settings (default :class:`~.config.EvaluationConfig`).
    metadata
        The model's training metadata (``cell``, ``b_factor``, ``density_source``,
        ``wavelength``, …), checked against the export's.
    model_info
        Extra description of the model for the report (name, path, …).
    seed_splits
        ``material_id`` → ``seed_split`` of the paper's lists, used when the export does not
        carry them (:func:`~.selection.load_seed_splits`).
    device
        ``"auto"`` or None (CUDA when available, else the CPU), or a torch device
        (:func:`~pymatgen_crystalnet.devices.resolve_device`).
    progress
        Show a progress bar.

    Raises
    ------
    ValueError
        Unknown or empty split or selection; model/data settings that differ (unless
        ``config.allow_mismatch``); a device that is not present.
    """
    from tqdm.auto import tqdm

    config = config or EvaluationConfig()
    start_time = time.perf_counter()
    dev = resolve_device(device)
    metadata = dict(metadata or {})
    notes = check_model_data(metadata, data, config.allow_mismatch) if model is not None else []

    seeds = seed_splits_of(data, seed_splits)
    idx = select_crystals(data, config, seeds)
    systems = data.crystal_system[idx]
    with_model = model is not None
    partners = None
    if (with_model and config.control) or config.baselines:
        local = control_partners(systems, config.seed)  # positions in the selection, -1: none
        partners = np.where(local >= 0, idx[np.maximum(local, 0)], -1)
    model_mode = model.config.composition_mode if model is not None else "full"
    sampler = None
    if model is not None:
        model = model.to(dev).eval()
        sampler = Sampler(model, config.grid, config.seed, dev, temperature=config.temperature)
    scorers = make_scorers(config, sampler, model_mode)

    notes.extend(protocol_notes(config, data, model_mode, seeds is not None, with_model))
    alone = unpaired_note(systems, partners) if partners is not None else None
    if alone:
        notes.append(alone)

    rows: list[dict[str, Any]] = []
    with tqdm(total=idx.size, unit="crystal", desc="evaluate", disable=not progress) as bar:
        for start in range(0, idx.size, config.batch_size):
            part = slice(start, start + config.batch_size)
            batch = Batch.load(
                data, idx[part], config.grid, dev, None if partners is None else partners[part], config.seed
            )
            for scorer in scorers:
                scorer.score(batch)
            rows.extend(batch.crystal_rows(seeds))
            bar.update(batch.size)

    examples = next((s.examples for s in scorers if isinstance(s, ModelScorer)), {})
    result = EvaluationResult(
        config=config,
        model=_model_description(model, model_mode, metadata, model_info),
        data=selection_info(data, config, idx),
        crystals=rows,
        notes=notes,
        labels={
            "split": split_label(config.split),
            "paper_test_subset": paper_subset_label(rows, seeds is not None),
        },
        elapsed_s=time.perf_counter() - start_time,
        device=str(dev),
        examples=examples,
    )
    logger.info("Evaluated %d crystals in %.1f s on %s", len(rows), result.elapsed_s, dev)
    return result


def _model_description(
    model: CrystalNet | None, model_mode: str, metadata: dict[str, Any], model_info: dict[str, Any] | None
) -> dict[str, Any]:
    """What the report says about the model (or that there is none)."""
    if model is None:
        return {"name": "baselines only (no model)", "metadata": {}, **(model_info or {})}
    return {
        "composition_mode": model_mode,
        "preset": model.config.preset,
        "n_parameters": model.num_parameters(),
        "metadata": metadata,
        **(model_info or {}),
    }

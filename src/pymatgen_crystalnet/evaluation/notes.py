"""The report's prose: what the evaluated split is and the notes a reader needs to read the numbers.

Every sentence an evaluation writes into its report's "Notes" section, apart from the
compatibility warnings (:func:`~.selection.check_model_data`), is composed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from pymatgen_crystalnet.data.reader import ExportedDataset
    from pymatgen_crystalnet.evaluation.config import EvaluationConfig

__all__ = ["protocol_notes", "split_label", "unpaired_note"]


def split_label(split: str) -> str:
    """What the evaluated split is, for a reader (validation and training crystals are not a test)."""
    return {
        "test": "test split",
        "val": "validation split (the trainer selects its checkpoint on it: not an independent test)",
        "train": "training split (in-sample: not a test of generalisation)",
        "all": "all splits together (includes training crystals: not a test of generalisation)",
    }[split]


def protocol_notes(
    config: EvaluationConfig, data: ExportedDataset, model_mode: str, seeds_known: bool, with_model: bool
) -> list[str]:
    """What a reader must know to read this evaluation's numbers honestly, one sentence each.

    Parameters
    ----------
    config
        The settings.
    data
        The export (its truth source, B factor and cell).
    model_mode
        The composition mode the model was trained with.
    seeds_known
        Whether the crystals' ``seed_split`` is known (the paper's test subset is identified).
    with_model
        False for a baselines-only evaluation.
    """
    b = data.manifest.get("b_factor")
    cell = data.manifest.get("cell")
    sources = set(data.density_source.tolist())
    notes = []
    if "iam" in sources:
        notes.append(
            f"Truth: the independent-atom-model density (B = {b} Å²) on the {cell} cell, not the Materials "
            "Project DFT densities the paper used; the paper's numbers are shown for orientation only."
        )
    notes.append(
        "Each score is the best over its own samples, rotations (and shifts): the paper's protocol. "
        "Means ± population standard deviations (ddof = 0) over crystals."
    )
    notes.append(
        "SSIM with the truth's max − min as data range is dominated by the near-empty regions between atoms "
        "(docs/science.md, scores that discriminate): compare the model with the flat map, the other "
        "crystal and the control on map CC and NMAE, not on SSIM alone."
    )
    if with_model and config.temperature != 1.0:
        notes.append(
            f"Latent samples drawn at temperature {config.temperature:g} (z = μ + T·σ·ε), not from the "
            "model's posterior (T = 1) as in the paper's protocol."
        )
    if config.translation:
        notes.append(
            "Translation-aware: CC and PSNR are exact optima over all n³ grid shifts (FFT "
            "cross-correlation); SSIM and NMAE are evaluated at the zero shift and the "
            f"{config.n_peaks} best-correlated shift(s), so they are lower bounds of their own optima."
        )
    if not with_model:
        notes.append(
            "Baselines only: no model was evaluated; these rows are the floor a model must beat "
            "(the flat map and another crystal's truth, with the same rotation and shift search)."
        )
    else:
        notes.append(
            "Strict: a single prediction from the latent means (deterministic), compared as predicted "
            "(no rotation, no shift)."
        )
    if (with_model and config.control) or config.baselines:
        who = (
            "Control and other-crystal baseline use the same partner per crystal"
            if with_model and config.control
            else "The other-crystal baseline pairs each crystal with another"
        )
        notes.append(
            f"{who}: a seeded (seed {config.seed}) cyclic pairing within each crystal system of the "
            "evaluated crystals, never the crystal itself"
            + (
                "; the control keeps the crystal's own composition input."
                if with_model and config.control
                else "."
            )
        )
    if with_model and config.ablations:
        if model_mode == "none":
            notes.append(
                "Ablations: this model has no composition branch (trained with composition_mode 'none'), so "
                "the four ablation rows differ only by their latent samples."
            )
        notes.append(
            f"Ablations (k = {config.ablation_samples}): ONE model, trained with composition_mode "
            f"'{model_mode}', given the other modes' inputs at test time. This is a robustness test, NOT the "
            "paper's Table 2, which trained one model per mode and evaluated each with its own inputs; "
            "for that form train a model per mode (crystalnet train --set composition_mode=...) and "
            "evaluate each."
        )
    if with_model and config.verification:
        notes.append(
            "Forward verification: each sample's density gives a Mo Kα pattern on the crystal's lattice, "
            "compared with the input pattern by cosine; 'selected' scores the first-ranked sample, and the "
            f"agreement rate says how often it is also the best-SSIM sample (chance: 1/{config.samples}; "
            "crystals whose samples tie are counted apart)."
        )
    if not seeds_known:
        notes.append(
            "The export carries no seed_split and none was given: the paper's test subset is not identified."
        )
    if config.grid != 50:
        notes.append(f"Grid {config.grid}³, not the paper's 50³: SSIM and PSNR depend on the grid.")
    return notes


def unpaired_note(systems: NDArray[np.str_], partners: NDArray[np.int64]) -> str | None:
    """The note naming the systems with a single selected crystal (no control, no other crystal)."""
    if not (partners < 0).any():
        return None
    alone = sorted({str(systems[j]) for j in np.flatnonzero(partners < 0)})
    return (
        f"No control or other-crystal baseline for the single crystal of: {', '.join(alone)} "
        "(no other crystal of the same system in the selection)."
    )

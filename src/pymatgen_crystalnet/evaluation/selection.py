"""Which crystals an evaluation scores, and whether the model may be scored on them.

- :func:`load_seed_splits`, :func:`seed_splits_of`: each crystal's ``seed_split`` (the paper's
  published lists), from the export or from a file.
- :func:`check_compatibility`, :func:`check_model_data`: the model's training settings (cell,
  B factor, density source, wavelength) against the export's.
- :func:`select_crystals`: the crystals of the split, systems and paper subset asked for.
- :func:`paper_subset_label`, :func:`system_counts`, :func:`selection_info`: how the report
  describes the selection.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.evaluation.config import PAPER_TEST_SEEDS, EvaluationConfig

if TYPE_CHECKING:
    from pymatgen_crystalnet.data.reader import ExportedDataset

__all__ = [
    "check_compatibility",
    "check_model_data",
    "load_seed_splits",
    "paper_subset_label",
    "seed_splits_of",
    "select_crystals",
    "selection_info",
    "system_counts",
]

logger = logging.getLogger(__name__)


def load_seed_splits(path: str | os.PathLike) -> dict[str, str]:
    """Read ``material_id`` → ``seed_split`` (the paper's lists) from a file.

    Accepted: JSON Lines (``.jsonl``, ``.jsonl.gz``) with ``material_id`` and ``seed_split``
    fields, such as the development corpus ``mp_structures.jsonl.gz``; or a JSON object
    ``{material_id: seed_split}``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No seed-split file at {path}.")
    name = path.name.lower()
    out: dict[str, str] = {}
    try:
        if name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
                for line in fh:
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if row.get("seed_split"):
                        out[str(row["material_id"])] = str(row["seed_split"])
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict):
                raise ValueError("expected a JSON object {material_id: seed_split}")
            out = {str(k): str(v) for k, v in doc.items() if v}
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"{path} is not a seed-split file (JSON Lines or a JSON object): {exc}") from None
    return out


def seed_splits_of(data: ExportedDataset, seed_splits: dict[str, str] | None) -> NDArray[np.str_] | None:
    """Each crystal's ``seed_split``: the export's own, else looked up in ``seed_splits``, else None."""
    stored = getattr(data, "seed_split", None)
    if stored is not None:
        return np.asarray(stored, dtype=str)
    if seed_splits is None:
        return None
    return np.array([seed_splits.get(str(i), "") for i in data.material_id.tolist()], dtype=str)


def check_compatibility(metadata: dict[str, Any], data: ExportedDataset) -> tuple[list[str], list[str]]:
    """Compare what a model was trained on with what an export holds.

    Returns
    -------
    tuple
        ``(mismatches, unchecked)``: messages for settings that differ (cell, B factor,
        density source, wavelength) and for settings the model does not record.
    """
    manifest = data.manifest
    sources = sorted((manifest.get("density_sources") or {}).keys()) or sorted(
        set(data.density_source.tolist())
    )
    have = {
        "cell": manifest.get("cell"),
        "b_factor": manifest.get("b_factor"),
        "wavelength": manifest.get("wavelength"),
        "density_source": "+".join(sources) if sources else None,
    }
    mismatches, unchecked = [], []
    for key, value in have.items():
        if value is None:
            continue
        if metadata.get(key) is None:
            unchecked.append(key)
            continue
        theirs = metadata[key]
        if key in ("b_factor", "wavelength"):
            same = abs(float(theirs) - float(value)) < 1e-6
        elif key == "density_source":  # the data's sources must be among the model's ("dft+iam")
            same = set(sources) <= set(str(theirs).split("+"))
        else:
            same = str(theirs) == str(value)
        if not same:
            mismatches.append(f"{key}: model {theirs!r}, data {value!r}")
    return mismatches, unchecked


def check_model_data(metadata: dict[str, Any], data: ExportedDataset, allow_mismatch: bool) -> list[str]:
    """Refuse a model trained on other data settings than the export's, unless allowed.

    Returns
    -------
    list
        The report's notes: a warning when a mismatch is allowed, and the settings the model
        does not record (not checked).

    Raises
    ------
    ValueError
        Settings differ (:func:`check_compatibility`) and ``allow_mismatch`` is False.
    """
    notes: list[str] = []
    mismatches, unchecked = check_compatibility(metadata, data)
    if mismatches:
        message = "The model was trained on other data settings than the export's: " + "; ".join(mismatches)
        if not allow_mismatch:
            raise ValueError(
                message + ". Densities on other cells or with another B are not comparable; "
                "pass allow_mismatch to evaluate anyway."
            )
        logger.warning("%s. Evaluating anyway (allow_mismatch); the scores are not comparable.", message)
        notes.append(f"WARNING: {message}. Scores are not comparable with a matched evaluation.")
    if unchecked:
        logger.warning(
            "The model records no %s; its match with the data was not checked.", ", ".join(unchecked)
        )
        notes.append(f"The model records no {', '.join(unchecked)}: not checked against the data.")
    return notes


def select_crystals(
    data: ExportedDataset, config: EvaluationConfig, seeds: NDArray[np.str_] | None
) -> NDArray[np.int64]:
    """Indices of the crystals an evaluation scores (export order), with clear errors."""
    where = f" of {data.path}" if data.path else ""
    if config.split == "all":
        mask = np.ones(len(data), dtype=bool)
    else:
        mask = data.split == config.split
        if not mask.any():
            raise ValueError(
                f"The {config.split!r} split{where} is empty; crystals by system and split: {data.counts()}."
            )
    if config.crystal_systems:
        present = sorted(set(data.crystal_system[mask].tolist()))
        unknown = sorted(set(config.crystal_systems) - set(present))
        if unknown:
            raise ValueError(
                f"No {', '.join(unknown)} crystals in the {config.split!r} split{where} "
                f"(it holds {', '.join(present)})."
            )
        mask &= np.isin(data.crystal_system, config.crystal_systems)
    if config.paper_subset_only:
        if seeds is None:
            raise ValueError(
                "paper_subset_only needs each crystal's seed_split: the export carries none; give the "
                "paper's lists (e.g. the corpus mp_structures.jsonl.gz) as seed splits."
            )
        mask &= np.isin(seeds, PAPER_TEST_SEEDS)
        if not mask.any():
            raise ValueError(f"No crystal of the paper's test lists is in the {config.split!r} split{where}.")
    idx = np.flatnonzero(mask)
    if config.limit is not None:
        idx = idx[: config.limit]
    return idx


def paper_subset_label(rows: list[dict[str, Any]], known: bool) -> str:
    """The report's label of the paper test subset among the evaluated ``rows``."""
    if not known:
        return "paper test subset: unknown (no seed_split for these crystals; give the paper's lists)"
    cubic = sum(r["seed_split"] == "cubic:test" for r in rows)
    trigonal = sum(r["seed_split"] == "trigonal:test" for r in rows)
    return f"paper test subset ({cubic} of 500 cubic, {trigonal} of 237 trigonal)"


def system_counts(systems: Iterable[str]) -> dict[str, int]:
    """Number of crystals per crystal system, systems in alphabetical order (the report's form)."""
    return dict(sorted(Counter(systems).items()))


def selection_info(data: ExportedDataset, config: EvaluationConfig, idx: NDArray[np.int64]) -> dict[str, Any]:
    """The report's description of the export and of the crystals ``idx`` selected from it."""
    return {
        "path": str(data.path) if data.path else None,
        "cell": data.manifest.get("cell"),
        "b_factor": data.manifest.get("b_factor"),
        "wavelength": data.manifest.get("wavelength"),
        "density_sources": data.manifest.get("density_sources"),
        "counts": data.counts(),
        "split": config.split,
        "selected": system_counts(data.crystal_system[idx].tolist()),
        "n_selected": int(idx.size),
    }

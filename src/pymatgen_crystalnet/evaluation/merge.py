"""Merge evaluation reports of disjoint parts of one evaluation into a single report.

A long evaluation can be split over processes, cores or GPUs by crystal system
(``crystalnet evaluate --systems cubic`` in one, ``--systems trigonal`` in another; the control
and the other-crystal baseline pair crystals within a system, so the parts lose nothing), then
joined with ``crystalnet evaluate-merge``. The parts must score the same model on the same
export with the same settings; they may differ only in which crystals they selected, and no
crystal may appear twice. The merged document has the parts' per-crystal rows, tables
recomputed over all of them, and each part's figures.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["load_report", "merge_report_folders", "merge_reports"]

#: Settings that may differ between the parts of one evaluation (they select crystals).
SELECTION_KEYS = ("crystal_systems", "limit", "batch_size", "examples")


def load_report(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``evaluation.json`` of an evaluation output folder (or the file itself)."""
    path = Path(folder)
    if path.is_dir():
        path = path / "evaluation.json"
    if not path.is_file():
        raise ValueError(f"No evaluation report at {path} (expected evaluation.json of crystalnet evaluate).")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != "crystalnet-evaluation":
        raise ValueError(f"{path} is not a crystalnet evaluation report.")
    if doc.get("format_version") != 1:
        raise ValueError(f"{path}: unsupported evaluation format version {doc.get('format_version')!r}.")
    return doc


def _model_identity(doc: dict[str, Any]) -> Any:
    model = doc.get("model") or {}
    return {k: v for k, v in model.items() if k not in ("path", "name")}


def _check_compatible(docs: list[dict[str, Any]], names: list[str]) -> None:
    first, name0 = docs[0], names[0]
    cfg0 = {k: v for k, v in first["config"].items() if k not in SELECTION_KEYS}
    for doc, name in zip(docs[1:], names[1:]):
        cfg = {k: v for k, v in doc["config"].items() if k not in SELECTION_KEYS}
        differ = sorted(k for k in set(cfg0) | set(cfg) if cfg0.get(k) != cfg.get(k))
        if differ:
            raise ValueError(
                f"{name} was evaluated with other settings than {name0} ({', '.join(differ)}); "
                "only the crystal selection may differ between parts of one evaluation."
            )
        if _model_identity(doc) != _model_identity(first):
            raise ValueError(f"{name} scores another model than {name0}.")
        for key in ("cell", "b_factor", "wavelength", "counts", "split"):
            if doc["data"].get(key) != first["data"].get(key):
                raise ValueError(f"{name} was evaluated on other data than {name0} ({key} differs).")
        if doc.get("device") != first.get("device"):
            raise ValueError(f"{name} ran on {doc.get('device')}, {name0} on {first.get('device')}.")


def merge_reports(docs: list[dict[str, Any]], names: list[str] | None = None) -> dict[str, Any]:
    """Merge evaluation documents of disjoint crystal selections into one document.

    Parameters
    ----------
    docs
        Documents as written by ``crystalnet evaluate`` (``evaluation.json``), at least two.
    names
        What to call each part in error messages (default ``part 1``, ``part 2``, …).

    Returns
    -------
    dict
        One document: concatenated per-crystal rows, summary tables over all of them,
        the union of notes and methods, summed elapsed time.

    Raises
    ------
    ValueError
        Fewer than two parts, parts that differ in model, data or settings, or a crystal that
        appears in more than one part.
    """
    from pymatgen_crystalnet.evaluation.selection import paper_subset_label, system_counts
    from pymatgen_crystalnet.evaluation.summary import summarise

    if len(docs) < 2:
        raise ValueError("Merging needs at least two evaluation reports.")
    names = names or [f"part {i + 1}" for i in range(len(docs))]
    _check_compatible(docs, names)
    seen: dict[str, int] = {}
    for i, doc in enumerate(docs):
        for row in doc["crystals"]:
            j = seen.setdefault(row["material_id"], i)
            if j != i:
                raise ValueError(
                    f"Crystal {row['material_id']} is in both {names[j]} and {names[i]}: "
                    "parts must be disjoint."
                )
    crystals = [row for doc in docs for row in doc["crystals"]]
    methods: dict[str, str] = {}
    notes: list[str] = []
    for doc in docs:
        methods.update(doc["methods"])
        notes.extend(n for n in doc["notes"] if n not in notes)
    first = docs[0]
    config = dict(first["config"])
    systems = [doc["config"].get("crystal_systems") for doc in docs]
    config["crystal_systems"] = (
        None if any(s is None for s in systems) else sorted({x for s in systems for x in s})
    )
    config["limit"] = None if all(doc["config"].get("limit") is None for doc in docs) else "per part"
    known = all(row.get("seed_split") is not None for row in crystals)
    merged = {
        **first,
        "config": config,
        "data": {
            **first["data"],
            "selected": system_counts(row["crystal_system"] for row in crystals),
            "n_selected": len(crystals),
        },
        "elapsed_s": round(sum(float(doc["elapsed_s"]) for doc in docs), 2),
        "labels": {**first["labels"], "paper_test_subset": paper_subset_label(crystals, known)},
        "notes": [*notes, f"Merged from {len(docs)} parts: {', '.join(names)}."],
        "methods": methods,
        "summary": summarise(crystals, list(methods), samples=int(config["samples"])),
        "crystals": crystals,
    }
    figures = [fig for doc in docs for fig in doc.get("figures") or []]
    merged.pop("figures", None)
    if figures:
        merged["figures"] = figures
    return merged


def merge_report_folders(folders: list[str | os.PathLike], out: str | os.PathLike) -> tuple[Path, Path]:
    """Merge the evaluation output folders ``folders`` into ``out`` (JSON, Markdown, figures).

    Figures of the parts are copied into ``out/figures/``; their names carry system, kind and
    material id, so parts of different systems do not collide.
    """
    from pymatgen_crystalnet.evaluation.report import write_report

    paths = [Path(f) for f in folders]
    docs = [load_report(p) for p in paths]
    merged = merge_reports(docs, [str(p) for p in paths])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path, doc in zip(paths, docs):
        base = path if path.is_dir() else path.parent
        for fig in doc.get("figures") or []:
            src = base / fig["file"]
            if src.is_file() and src.resolve() != (out / fig["file"]).resolve():
                (out / fig["file"]).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out / fig["file"])
    return write_report(merged, out)

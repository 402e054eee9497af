"""The structure evaluation's report: summary per system and method, its table, and its files.

``OUT/structures.json`` holds the settings, the summary and every crystal's record;
``OUT/structures.md`` the table. Both are written whole after every crystal (to a temporary
file renamed over the old one, so an interrupted run never leaves half a file), and a run
can be resumed from the JSON: :func:`read_structure_report` returns the records done so far
when the settings and the selection are the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pymatgen_crystalnet.atomic import atomic_write
from pymatgen_crystalnet.evaluation.structures import LABELS

if TYPE_CHECKING:
    from pymatgen_crystalnet.evaluation.structures import StructureEvaluationConfig

__all__ = [
    "read_structure_report",
    "render_structure_table",
    "summarise_structures",
    "write_structure_report",
]


def summarise_structures(records: list[dict[str, Any]], methods: Sequence[str], k: int = 5) -> list[dict]:
    """Per crystal system and method: n, top-1 and top-k match rates, mean RMS, mean seconds."""
    systems = sorted({r["crystal_system"] for r in records if "methods" in r})
    out = []
    for system in [*systems, "all"]:
        for method in methods:
            recs = [
                r["methods"][method]
                for r in records
                if method in r.get("methods", {}) and (system == "all" or r["crystal_system"] == system)
            ]
            if not recs:
                continue
            ranks = [x["match_rank"] for x in recs]
            rms = [x["rms"] for x in recs if x["rms"] is not None]
            out.append(
                {
                    "system": system,
                    "method": method,
                    "n": len(recs),
                    "top1": sum(r == 0 for r in ranks) / len(recs),
                    "topk": sum(r is not None and r < k for r in ranks) / len(recs),
                    "rms": float(np.mean(rms)) if rms else None,
                    "seconds": float(np.mean([x["seconds"] for x in recs])),
                }
            )
    return out


def render_structure_table(summary: list[dict], k: int = 5) -> str:
    """Markdown table of :func:`summarise_structures`."""
    lines = [
        f"| system | method | n | top-1 | top-{k} | mean RMS (matches) | s / pattern |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in summary:
        rms = "–" if row["rms"] is None else f"{row['rms']:.4f}"
        lines.append(
            f"| {row['system']} | {LABELS[row['method']]} | {row['n']} | {row['top1']:.0%} | "
            f"{row['topk']:.0%} | {rms} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all or nothing (never half a file)."""
    with atomic_write(path) as f:
        f.write(text)


def write_structure_report(
    records: list[dict[str, Any]], config: StructureEvaluationConfig, out: Any, info: dict[str, Any]
) -> tuple[Path, Path]:
    """Write ``OUT/structures.json`` (settings, summary, every crystal) and ``OUT/structures.md``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarise_structures(records, config.methods, config.k)
    doc = {"info": info, "config": config.as_dict(), "summary": summary, "crystals": records}
    json_path = folder / "structures.json"
    _write_whole(json_path, json.dumps(doc, indent=1, default=str))
    n = sum("methods" in r for r in records)
    md = [
        "# Structure evaluation",
        "",
        f"{n} crystals; true cell and formula given (Z found), k = {config.k}, grid {config.grid}³, "
        f"{config.n_search_trials} search trials per space group and Z, {config.n_hypotheses} hypotheses, "
        f"{config.n_refine} refined, budget {config.time_budget_s:g} s per method and pattern.",
        "Match: StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10); RMS normalised by (V/N)^(1/3).",
        "",
        render_structure_table(summary, config.k),
    ]
    for key, value in info.items():
        md.append(f"- {key}: {value}")
    md_path = folder / "structures.md"
    _write_whole(md_path, "\n".join(md) + "\n")
    return json_path, md_path


def read_structure_report(
    out: Any, config: StructureEvaluationConfig, info: dict[str, Any]
) -> list[dict[str, Any]]:
    """The records of an earlier run in ``out`` to resume from (empty when there is none).

    Raises
    ------
    ValueError
        When the earlier run used other settings or another selection (model, data, split,
        systems, sample): resuming would mix two experiments in one table.
    """
    path = Path(out) / "structures.json"
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"Cannot resume: {path} is not valid JSON ({exc}).") from None
    old_config = json.loads(json.dumps(doc.get("config") or {}, default=str))
    new_config = json.loads(json.dumps(config.as_dict(), default=str))
    if old_config != new_config:
        changed = sorted(k for k in {*old_config, *new_config} if old_config.get(k) != new_config.get(k))
        raise ValueError(f"Cannot resume from {path}: its settings differ ({', '.join(changed)}).")
    old_info = doc.get("info") or {}
    changed = sorted(k for k in info if old_info.get(k) != info[k])
    if changed:
        raise ValueError(f"Cannot resume from {path}: it evaluated another selection ({', '.join(changed)}).")
    return list(doc.get("crystals") or [])

"""The controlled model study's table, read from the runs' own histories (validation only).

Each run folder (``crystalnet train --out runs/study-<variant> ...``) holds ``metrics.jsonl``,
one row per epoch with the validation scores the trainer records: map CC, NMAE, the
mismatched-pattern control CC and the CC drop, the electrons held, the latent statistics,
and the cumulative wall time. For every run this prints the row of its best validation map
CC (the checkpoint ``best`` that selection keeps) as one line of a markdown table:

    variant | epochs | wall min | val CC | val NMAE | control CC | CC drop | electrons held
    (mean ratio, share within 10 %) | XRD σ | XRD μ spread | XRD active dims

Usage::

    python benchmarks/model_study.py runs/study-*            # prints the table
    python benchmarks/model_study.py runs/study-* --json study.json

The test split is never read: the figures are those the trainer computed on the validation
crystals while it ran.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

logger = logging.getLogger("model_study")

COLUMNS = (
    "variant", "epochs", "wall min", "val CC", "val NMAE", "control CC", "CC drop",
    "electrons held", "within 10 %", "XRD σ", "XRD μ spread", "XRD active dims",
)  # fmt: skip


def best_row(run: Path) -> dict | None:
    """The epoch row of ``run`` with the highest validation map CC (None without history)."""
    path = run / "metrics.jsonl"
    if not path.exists():
        logger.warning("%s has no metrics.jsonl: skipped", run)
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    scored = [r for r in rows if isinstance(r.get("val_cc"), float) and math.isfinite(r["val_cc"])]
    if not scored:
        return None
    best = max(scored, key=lambda r: r["val_cc"])
    return {**best, "epochs_run": len(rows), "wall_total_s": rows[-1].get("wall_time_s")}


def _fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.{digits}f}"
    return "–" if value is None or isinstance(value, float) else str(value)


def table(runs: list[Path]) -> tuple[str, list[dict]]:
    """The markdown table and its rows."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    records = []
    for run in runs:
        row = best_row(run)
        if row is None:
            continue
        wall = row.get("wall_total_s")
        cells = [
            run.name.removeprefix("study-"),
            f"{row['epoch']} of {row['epochs_run']}",
            _fmt(wall / 60 if isinstance(wall, (int, float)) else None, 1),
            _fmt(row.get("val_cc")),
            _fmt(row.get("val_nmae")),
            _fmt(row.get("val_control_cc")),
            _fmt(row.get("val_cc_drop")),
            _fmt(row.get("val_electrons"), 2),
            _fmt(row.get("val_electrons_within_10"), 2),
            _fmt(row.get("val_xrd_sigma"), 2),
            _fmt(row.get("val_xrd_mu_spread"), 2),
            _fmt(row.get("val_xrd_active"), 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        records.append({"run": str(run), **dict(zip(COLUMNS, cells, strict=True))})
    return "\n".join(lines), records


def main(argv: list[str] | None = None) -> None:
    """Print the study table of the given run folders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Run folders (crystalnet train --out).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the rows as JSON.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    text, records = table(sorted(args.runs))
    logger.info("%s", text)
    if args.json is not None:
        args.json.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()

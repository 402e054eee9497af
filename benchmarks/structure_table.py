"""Join ``crystalnet evaluate --structures`` runs into one (a)–(f) table, and say what the network adds.

Each argument is a ``structures.json`` written by a structure evaluation (one per crystal system,
e.g. ``eval/structures/cubic/structures.json``; the results kept in ``benchmarks/results/`` have
the same form). The script prints

1. the table of every method per crystal system and over all crystals (top-1, top-k, mean RMS
   of the matches, seconds per pattern), recomputed from the per-crystal records;
2. what the network adds: for each system, the crystals that the network's decoded and refined
   models match at top 1 but the search alone does not, and the reverse; whether the control
   (the network given another crystal's pattern, refined against the right one) matches those
   crystals too; and the seconds per pattern of (c) and (d).

Usage::

    python benchmarks/structure_table.py benchmarks/results/structures_cubic.json \
        benchmarks/results/structures_trigonal.json

``--reuse REPORT …`` takes the methods that do not use the network ((c) and (f): the same
search and decoder whatever the model) from earlier reports of the same crystals, where a
report lacks them; so a new model's (a), (b), (d), (e) can be run alone and set beside the
search it is compared with. Only crystals present in both, with the same settings (k, grid,
search trials, seed), are joined; anything else is refused.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pymatgen_crystalnet.evaluation.structure_report import render_structure_table, summarise_structures
from pymatgen_crystalnet.evaluation.structures import METHODS

#: settings that must agree for methods of two reports to stand in one table
SAME_SETTINGS = ("k", "grid", "n_search_trials", "n_hypotheses", "n_refine", "time_budget_s", "seed")

logger = logging.getLogger("structure_table")


def _top1(record: dict, method: str) -> bool:
    return record["methods"].get(method, {}).get("match_rank") == 0


def network_effect(records: list[dict]) -> list[str]:
    """Lines describing what (b)/(d) find that (c) does not, per crystal system."""
    lines = []
    for system in sorted({r["crystal_system"] for r in records}):
        rows = [r for r in records if r["crystal_system"] == system and r["methods"]]
        only_net = [r for r in rows if _top1(r, "b_decoded_refined") and not _top1(r, "c_search")]
        only_search = [r for r in rows if _top1(r, "c_search") and not _top1(r, "b_decoded_refined")]
        pooled_gain = [r for r in rows if _top1(r, "d_pooled") and not _top1(r, "c_search")]
        pooled_loss = [r for r in rows if _top1(r, "c_search") and not _top1(r, "d_pooled")]
        control_too = [r for r in pooled_gain if _top1(r, "e_control")]
        secs = {
            m: sum(r["methods"][m]["seconds"] for r in rows if m in r["methods"]) / max(len(rows), 1)
            for m in ("c_search", "d_pooled")
        }
        lines.append(
            f"{system}: n={len(rows)}; (b) finds {len(only_net)} the search (c) misses, (c) finds "
            f"{len(only_search)} that (b) misses; (d) pooled gains {len(pooled_gain)} over (c) "
            f"({', '.join(r['formula'] for r in pooled_gain) or '-'}), of which the control (e) also "
            f"finds {len(control_too)}; (d) loses {len(pooled_loss)} that (c) finds "
            f"({', '.join(r['formula'] for r in pooled_loss) or '-'}); seconds per pattern (c) "
            f"{secs['c_search']:.1f}, (d) {secs['d_pooled']:.1f}"
        )
    return lines


def reuse_search(records: list[dict], config: dict, earlier: list[dict]) -> list[str]:
    """Fill each record's missing network-free methods from an earlier report of the same crystal.

    Parameters
    ----------
    records
        The records of the new reports (changed in place).
    config
        The new reports' settings.
    earlier
        The earlier reports (whole ``structures.json`` documents).

    Returns
    -------
    list of str
        The methods taken over.
    """
    free = [m for m, (densities, _, _) in METHODS.items() if densities in (None, "truth")]
    taken: list[str] = []
    for report in earlier:
        old = report["config"]
        differ = [key for key in SAME_SETTINGS if old.get(key) != config.get(key)]
        if differ:
            raise SystemExit(f"--reuse: settings differ ({', '.join(differ)}); no shared table")
        by_id = {r["material_id"]: r for r in report["crystals"]}
        for record in records:
            source = by_id.get(record["material_id"])
            if source is None:
                continue
            for method in free:
                if method not in record["methods"] and method in source["methods"]:
                    record["methods"][method] = source["methods"][method]
                    taken += [method] if method not in taken else []
    missing = [r["material_id"] for r in records if taken and any(m not in r["methods"] for m in taken)]
    if missing:
        raise SystemExit(f"--reuse: no earlier record of {', '.join(missing[:5])} ({len(missing)} crystals)")
    return taken


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", type=Path, help="structures.json files of structure evaluations")
    ap.add_argument("--reuse", nargs="+", type=Path, default=[],
                    help="earlier structures.json files whose network-free methods (c), (f) fill the gaps")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    records: list[dict] = []
    methods: list[str] = []
    k = None
    for path in args.reports:
        report = json.loads(path.read_text())
        config = report["config"]
        if k is not None and config["k"] != k:
            raise SystemExit(f"{path}: k = {config['k']}, the other reports have k = {k}")
        k = config["k"]
        methods += [m for m in config["methods"] if m not in methods]
        records += report["crystals"]
        logger.info("%s: %d crystals (%s)", path, len(report["crystals"]), report["info"].get("systems"))
    if args.reuse:
        taken = reuse_search(records, config, [json.loads(p.read_text()) for p in args.reuse])
        logger.info("taken from %s: %s", ", ".join(map(str, args.reuse)), ", ".join(taken) or "nothing")
        methods = [m for m in METHODS if m in methods or m in taken]
    summary = summarise_structures(records, methods, k)
    logger.info("\n%s", render_structure_table(summary, k))
    for line in network_effect(records):
        logger.info("%s", line)


if __name__ == "__main__":
    main()

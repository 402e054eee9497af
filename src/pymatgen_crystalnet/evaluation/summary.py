"""Aggregates of an evaluation's per-crystal rows: per crystal system n and μ ± σ of every score.

:func:`summarise` gives the tables of all evaluated crystals and of the paper's test subset
among them, and the forward-verification agreement; the JSON document
(:meth:`~.result.EvaluationResult.as_dict`) carries them, the Markdown report
(:mod:`.report`) shows them, and :mod:`.merge` recomputes them over joined parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from pymatgen_crystalnet.scoring.density_metrics import METRICS

__all__ = ["summarise"]


def _systems(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The crystal systems of ``rows``: cubic and trigonal first (the paper's), then the others."""
    present = {r["crystal_system"] for r in rows}
    first = [s for s in ("cubic", "trigonal") if s in present]
    return first + sorted(present - set(first))


def _groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each crystal system (:func:`_systems` order), then ``"all"``: every row."""
    groups = {s: [r for r in rows if r["crystal_system"] == s] for s in _systems(rows)}
    groups["all"] = rows
    return groups


def _stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / len(finite))
    return {"mean": mean, "std": std, "n": len(finite)}


def _tables(rows: list[dict[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    groups = _groups(rows)
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        per: dict[str, Any] = {}
        for name, members in groups.items():
            scored = [r["scores"][method] for r in members if method in r["scores"]]
            if not scored:
                continue
            per[name] = {"n": len(scored), **{k: _stats([s.get(k) for s in scored]) for k in METRICS}}
        if per:
            out[method] = per
    return out


def _verification(rows: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    groups = _groups(rows)
    out = {}
    for name, members in groups.items():
        checked = [r["verification"] for r in members if r.get("verification")]
        decided = [v for v in checked if v["agree"] is not None]
        if checked:
            agree = sum(bool(v["agree"]) for v in decided)
            out[name] = {
                "n": len(checked),
                "tied": len(checked) - len(decided),
                "agree": agree,
                "fraction": agree / len(decided) if decided else None,
                "chance": 1 / samples,
            }
    return out


def _electrons(rows: list[dict[str, Any]], tolerance: float = 0.1) -> dict[str, Any]:
    """Per system: the electrons the model's samples hold, as fractions of the cell's content."""
    groups = _groups(rows)
    out = {}
    for name, members in groups.items():
        counted = [r["electrons"] for r in members if r.get("electrons")]
        if not counted:
            continue
        samples = [v for e in counted for v in e["samples"]]
        out[name] = {
            "n": len(counted),
            "samples": _stats(samples),
            "within_10": sum(abs(v - 1.0) <= tolerance for v in samples) / len(samples),
            "strict": _stats([e["strict"] for e in counted]),
            "truth": _stats([e["truth"] for e in counted]),
        }
        scaled = [e["formula"] for e in counted if e.get("formula")]
        if scaled:
            held = [v for e in scaled for v in e["samples"]]
            out[name]["formula"] = {
                "n": len(scaled),
                "samples": _stats(held),
                "within_10": sum(abs(v - 1.0) <= tolerance for v in held) / len(held),
            }
    return out


def summarise(crystals: list[dict[str, Any]], methods: Sequence[str], samples: int = 5) -> dict[str, Any]:
    """Per-system tables (n, μ ± σ of every score) of all crystals and of the paper test subset.

    Returns
    -------
    dict
        ``all`` and ``paper_test_subset`` (None when no crystal of the paper's lists was
        evaluated): ``{method: {system or "all": {"n", score: {"mean", "std", "n"}}}}``;
        ``verification``: the same two scopes, ``{system: {"n", "tied", "agree", "fraction",
        "chance"}}`` (``fraction`` over the crystals whose samples do not tie); ``electrons``:
        the same two scopes, ``{system: {"n", "samples", "within_10", "strict", "truth"}}``
        (the electrons held as a fraction of the cell's content: μ ± σ over every sample,
        the share of samples within 10 %, the latent-mean prediction and the truth grid; with
        ``formula``, the same of the samples scaled to the formula's electrons when the run
        scaled them, ``electrons="formula"``).
    """
    subset = [r for r in crystals if r.get("paper_test")]
    return {
        "all": _tables(crystals, methods),
        "paper_test_subset": _tables(subset, methods) if subset else None,
        "verification": {
            "all": _verification(crystals, samples),
            "paper_test_subset": _verification(subset, samples) if subset else None,
        },
        "electrons": {
            "all": _electrons(crystals),
            "paper_test_subset": _electrons(subset) if subset else None,
        },
    }

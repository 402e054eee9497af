"""The report of an evaluation: JSON and Markdown (tables per crystal system, μ ± σ), written atomically.

:func:`render_markdown` turns the JSON document
(:meth:`~pymatgen_crystalnet.evaluation.result.EvaluationResult.as_dict`, whose tables come from
:func:`~.summary.summarise`, or a saved ``evaluation.json``) into Markdown; :func:`write_report`
writes both files. Figures are drawn by a figure writer the caller passes in (the plotting layer
sits above the evaluation): ``crystalnet evaluate`` passes
:func:`pymatgen_crystalnet.plotting.write_density_example`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.jsonsafe import finite_or_none
from pymatgen_crystalnet.scoring.density_metrics import METRICS

if TYPE_CHECKING:
    from pymatgen_crystalnet.evaluation.result import EvaluationResult, Example

__all__ = [
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "FigureWriter",
    "render_markdown",
    "write_example_figures",
    "write_report",
]

#: The paper's Table 1 (Materials Project DFT densities, 50³): n, SSIM and PSNR (μ, σ).
PAPER_TABLE1: dict[str, dict[str, Any]] = {
    "cubic": {"n": 500, "ssim": (0.934, 0.149), "psnr": (43.0, 12.7)},
    "trigonal": {"n": 237, "ssim": (0.741, 0.215), "psnr": (27.8, 8.1)},
}
#: The paper's Table 2: mean SSIM of one model per composition mode.
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "cubic": {"full": 0.914, "no_ratios": 0.916, "drop_element": 0.887, "none": 0.868},
    "trigonal": {"full": 0.732, "no_ratios": 0.718, "drop_element": 0.695, "none": 0.703},
}

#: Draws one example (its truth and best-aligned prediction) as a PNG at the path, with the title.
FigureWriter = Callable[["Example", Path, str], None]

_NAMES = {"ssim": "SSIM", "psnr": "PSNR (dB)", "cc": "map CC", "nmae": "NMAE"}
_DIGITS = {"ssim": 3, "psnr": 1, "cc": 3, "nmae": 3}
_MODE_NAMES = {"full": "full", "no_ratios": "no ratios", "drop_element": "drop element", "none": "no formula"}


# ------------------------------------------------------------------ Markdown
def _pm(stats: dict[str, Any] | None, key: str) -> str:
    if not stats or stats.get("mean") is None:
        return "–"
    d = _DIGITS[key]
    return f"{stats['mean']:.{d}f} ± {stats['std']:.{d}f}"


def _value(value: float | None, key: str) -> str:
    if value is None or not math.isfinite(value):
        return "–" if value is None else ("∞" if value > 0 else "−∞")
    return f"{value:.{_DIGITS[key]}f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], right_from: int = 1) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i < right_from else "---:" for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return [*lines, ""]


def _scope_sections(doc: dict[str, Any], tables: dict[str, Any], scope: str) -> list[str]:
    methods = doc["methods"]
    k = doc["config"]["samples"]
    out: list[str] = []
    model = tables.get("model", {})
    first = model or next(iter(tables.values()), {})
    systems = [s for s in first if s != "all"] + (["all"] if "all" in first else [])

    if model:
        out.append(f"### Table 1 form: paper protocol (k = {k}, best of 24 rotations), {scope}")
        out.append("")
    rows = []
    for s in systems if model else []:
        paper = PAPER_TABLE1.get(s)
        rows.append(
            [s, str(model[s]["n"]), *(_pm(model[s][m], m) for m in METRICS)]
            + (
                [
                    str(paper["n"]),
                    f"{paper['ssim'][0]:.3f} ± {paper['ssim'][1]:.3f}",
                    f"{paper['psnr'][0]:.1f} ± {paper['psnr'][1]:.1f}",
                ]
                if paper
                else ["", "", ""]
            )
        )
    if model:
        out += _table(
            ["system", "n", *(_NAMES[m] for m in METRICS), "paper n", "paper SSIM", "paper PSNR"], rows
        )

    title = "Model, strict, translation-aware, control and baselines" if model else "Baselines"
    out.append(f"### {title}, {scope}")
    out.append("")
    main = [m for m in methods if not m.startswith("ablation:")]
    for s in systems:
        rows = []
        for m in main:
            cell = tables.get(m, {}).get(s)
            if cell:
                rows.append([f"`{m}`", str(cell["n"]), *(_pm(cell[key], key) for key in METRICS)])
        out.append(f"**{s}**")
        out.append("")
        out += _table(["method", "n", *(_NAMES[key] for key in METRICS)], rows, right_from=1)

    ablations = [m for m in methods if m.startswith("ablation:")]
    if ablations:
        k_ab = doc["config"]["ablation_samples"]
        out.append(f"### Table 2 form: composition ablations (k = {k_ab}, best of 24 rotations), {scope}")
        out.append("")
        rows = []
        for s in systems:
            for m in ablations:
                mode = m.split(":", 1)[1]
                cell = tables.get(m, {}).get(s)
                if not cell:
                    continue
                paper = PAPER_TABLE2.get(s, {}).get(mode)
                rows.append(
                    [
                        s,
                        _MODE_NAMES.get(mode, mode),
                        str(cell["n"]),
                        *(_pm(cell[key], key) for key in METRICS),
                        f"{paper:.3f}" if paper is not None else "",
                    ]
                )
        out += _table(
            ["system", "composition input", "n", *(_NAMES[key] for key in METRICS), "paper SSIM"], rows, 2
        )
    return out


def render_markdown(doc: dict[str, Any], max_rows: int | None = None) -> str:
    """Markdown of an evaluation document (:meth:`EvaluationResult.as_dict`).

    Parameters
    ----------
    doc
        The JSON document.
    max_rows
        Per-crystal rows to list (default: all).
    """
    cfg, model, data = doc["config"], doc["model"], doc["data"]
    name = model.get("name") or model.get("path") or "model"
    lines = [f"# CrystalNet evaluation: {name}", ""]
    lines += [
        (
            f"- Model: `{name}` (preset {model.get('preset')}, {model['n_parameters']:,} parameters, "
            f"composition input `{model.get('composition_mode')}`)"
            if model.get("n_parameters") is not None
            else f"- Model: {name}"
        ),
        f"- Data: `{data.get('path')}` — {doc['labels']['split']}; cell {data.get('cell')}, "
        f"B = {data.get('b_factor')} Å²; {data.get('n_selected')} crystals "
        f"({', '.join(f'{k} {v}' for k, v in data.get('selected', {}).items())})",
        f"- {doc['labels']['paper_test_subset']}",
        f"- Grid {cfg['grid']}³"
        + (f", k = {cfg['samples']} samples" if model.get("n_parameters") is not None else "")
        + f", seed {cfg['seed']}, device {doc['device']}, "
        f"{doc['elapsed_s']:.0f} s; package {doc['package_version']}, {doc['created']}",
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in doc["notes"]),
        "",
        "## Methods",
        "",
        *(f"- `{k}`: {v}" for k, v in doc["methods"].items()),
        "",
        "## Results: all evaluated crystals",
        "",
    ]
    summary = doc["summary"]
    lines += _scope_sections(doc, summary["all"], "all evaluated crystals")
    lines += _verification_lines(summary["verification"]["all"], summary["all"], doc["config"]["samples"])
    lines += _electron_lines(summary.get("electrons", {}).get("all"))
    if summary.get("paper_test_subset"):
        label = doc["labels"]["paper_test_subset"]
        lines += [f"## Results: {label}", ""]
        lines += _scope_sections(doc, summary["paper_test_subset"], label)
        lines += _verification_lines(
            summary["verification"]["paper_test_subset"],
            summary["paper_test_subset"],
            doc["config"]["samples"],
        )
        lines += _electron_lines(summary.get("electrons", {}).get("paper_test_subset"))
    if doc.get("figures"):
        lines += ["## Examples: best and worst model map CC per crystal system", ""]
        for fig in doc["figures"]:
            sc = fig["scores"]
            lines += [
                f"**{fig['system']}, {fig['kind']}**: {fig['formula']} ({fig['material_id']}), "
                + ", ".join(f"{_NAMES[k]} {_value(sc.get(k), k)}" for k in METRICS),
                "",
                f"![{fig['system']} {fig['kind']}: {fig['material_id']}]({fig['file']})",
                "",
            ]
    lines += _crystal_lines(doc["crystals"], max_rows)
    return "\n".join(lines).rstrip() + "\n"


def _verification_lines(ver: dict[str, Any] | None, tables: dict[str, Any], samples: int) -> list[str]:
    if not ver:
        return []
    out = ["### Forward verification", ""]
    rows = []
    for s, v in ver.items():
        sel = tables.get("selected", {}).get(s, {})
        best = tables.get("model", {}).get(s, {})
        rows.append(
            [
                s,
                str(v["n"]),
                f"{v['agree']} of {v['n'] - v['tied']}"
                + (f" ({100 * v['fraction']:.0f} %)" if v["fraction"] is not None else ""),
                str(v["tied"]),
                f"{100 * v['chance']:.0f} %",
                _pm(sel.get("ssim"), "ssim"),
                _pm(best.get("ssim"), "ssim"),
                _pm(sel.get("cc"), "cc"),
                _pm(best.get("cc"), "cc"),
            ]
        )
    out += _table(
        [
            "system",
            "n",
            "top-ranked = best-SSIM sample",
            "ties",
            "chance",
            "SSIM top-ranked",
            f"SSIM best of {samples}",
            "CC top-ranked",
            f"CC best of {samples}",
        ],
        rows,
    )
    return out


def _electron_lines(table: dict[str, Any] | None) -> list[str]:
    """The electrons the model's densities hold, per system, as fractions of the cell's content."""
    if not table:
        return []
    out = ["### Electrons held (fraction of the cell's electrons, Σ Z)", ""]
    rows = [
        [s, str(v["n"]), _pm(v["samples"], "nmae"), f"{100 * v['within_10']:.0f} %", _pm(v["strict"], "nmae"),
         _pm(v["truth"], "nmae")]
        for s, v in table.items()
    ]  # fmt: skip
    out += _table(["system", "n", "samples", "samples within 10 %", "latent means", "truth grid"], rows)
    scaled = {s: v["formula"] for s, v in table.items() if v.get("formula")}
    if scaled:
        out += ["", "Scaled to the formula's electrons (Z from the cell volume; scored so):", ""]
        rows = [[s, str(v["n"]), _pm(v["samples"], "nmae"), f"{100 * v['within_10']:.0f} %"]
                for s, v in scaled.items()]  # fmt: skip
        out += _table(["system", "n", "samples", "samples within 10 %"], rows)
    return out


def _crystal_lines(crystals: list[dict[str, Any]], max_rows: int | None) -> list[str]:
    shown = crystals if max_rows is None else crystals[:max_rows]
    out = ["## Per-crystal scores", ""]
    if max_rows is not None and len(crystals) > max_rows:
        out += [f"The first {max_rows} of {len(crystals)}; all are in evaluation.json.", ""]
    columns = [
        ("model", "ssim"), ("model", "psnr"), ("model", "cc"), ("model", "nmae"),
        ("strict", "ssim"), ("strict", "cc"), ("model_translation", "cc"),
        ("control", "ssim"), ("control", "cc"), ("flat", "ssim"),
        ("other_crystal", "ssim"), ("other_crystal", "cc"),
    ]  # fmt: skip
    present = [(m, k) for m, k in columns if any(m in r["scores"] for r in crystals)]
    header = ["id", "formula", "system", "paper test", *(f"{m} {_NAMES[k]}" for m, k in present), "verified"]
    rows = []
    for r in shown:
        ver = r.get("verification")
        rows.append(
            [
                r["material_id"],
                r["formula"],
                r["crystal_system"],
                "yes" if r.get("paper_test") else "",
                *(_value(r["scores"].get(m, {}).get(k), k) for m, k in present),
                {True: "yes", False: "no", None: "tie"}[ver["agree"]] if ver else "",
            ]
        )
    return out + _table(header, rows, right_from=4)


# ------------------------------------------------------------------ files
def write_example_figures(
    result: EvaluationResult, folder: str | os.PathLike, figure_writer: FigureWriter
) -> list[dict[str, Any]]:
    """Draw, per crystal system, the truth and the best-aligned sample of the best and worst crystal.

    Parameters
    ----------
    result
        The evaluation (its :attr:`~.result.EvaluationResult.examples`).
    folder
        Where the PNGs go (``figure_writer`` should write each atomically).
    figure_writer
        Draws one example at a path with a title, e.g.
        :func:`pymatgen_crystalnet.plotting.write_density_example` (slices through each cell
        axis and a projection, one log colour scale).

    Returns
    -------
    list
        One entry per figure: ``system``, ``kind`` (``best``/``worst`` model map CC),
        ``material_id``, ``formula``, ``scores`` and ``file`` (relative to the report folder).
    """
    folder = Path(folder)
    entries = []
    for system, kept in result.examples.items():
        for kind in ("best", "worst"):
            ex = kept.get(kind)
            if ex is None or (kind == "worst" and kept["best"].material_id == ex.material_id):
                continue
            name = f"{system}-{kind}-{ex.material_id}.png".replace("/", "_")
            title = (
                f"{ex.formula} ({ex.material_id}): {kind} map CC of the {system} crystals; "
                f"SSIM {ex.scores['ssim']:.3f}, CC {ex.scores['cc']:.3f}, NMAE {ex.scores['nmae']:.3f}"
            )
            figure_writer(ex, folder / name, title)
            entries.append(
                {
                    "system": system,
                    "kind": kind,
                    "material_id": ex.material_id,
                    "formula": ex.formula,
                    "scores": ex.scores,
                    "file": f"{folder.name}/{name}",
                }
            )
    return entries


def write_report(
    result: EvaluationResult | dict[str, Any],
    outdir: str | os.PathLike,
    figure_writer: FigureWriter | None = None,
) -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` into ``outdir``, each atomically.

    Non-finite numbers (a PSNR of an exact match) are written as JSON ``null``.

    Parameters
    ----------
    result
        An :class:`~.result.EvaluationResult`, or a JSON document (written as it is, with the
        figures it lists).
    outdir
        The output folder.
    figure_writer
        Draws the result's examples into ``outdir/figures/`` (see :data:`FigureWriter`); None:
        no figures.

    Returns
    -------
    tuple
        The two paths.
    """
    from pymatgen_crystalnet.atomic import atomic_write

    outdir = Path(outdir)
    if isinstance(result, dict):
        doc = dict(result)
    else:
        doc = result.as_dict()
        if result.examples and figure_writer is not None:
            doc["figures"] = write_example_figures(result, outdir / "figures", figure_writer)
    doc = finite_or_none(doc)
    text_json = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    text_md = render_markdown(doc)
    json_path, md_path = outdir / "evaluation.json", outdir / "evaluation.md"
    with atomic_write(json_path, mode="wb") as fh:
        fh.write(text_json.encode("utf-8"))  # type: ignore[arg-type]
    with atomic_write(md_path, mode="wb") as fh:
        fh.write(text_md.encode("utf-8"))  # type: ignore[arg-type]
    return json_path, md_path

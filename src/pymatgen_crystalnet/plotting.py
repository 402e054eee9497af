"""Matplotlib figures a crystallographer would show.

- :func:`plot_density_views`: for each density (truth, candidates, …) a central slice through
  each of the three cell axes and the projection (sum) along the third axis, on a shared
  logarithmic colour scale.
- :func:`plot_pattern_overlay`: the input pattern over each candidate's computed pattern,
  with the agreement in the legend.
- :func:`plot_xrd_strip`: the paper-style XRD strip, each 1024-vector one row of an image.
- :func:`solve_figure`: the figure ``crystalnet solve`` writes (patterns on top, densities below).
- :func:`write_density_example`: the evaluation report's figure writer (truth and the
  best-aligned prediction of one crystal).

All functions return a ``matplotlib.figure.Figure`` and never call ``pyplot.show``; the Agg
backend is used, so they work without a display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pymatgen_crystalnet.featurize.xrd_vector import bin_centres

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pymatgen_crystalnet.evaluation.result import Example
    from pymatgen_crystalnet.solver.solver import SolveResult

__all__ = [
    "plot_density_views",
    "plot_pattern_overlay",
    "plot_xrd_strip",
    "save_figure",
    "solve_figure",
    "write_density_example",
]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: Any, dpi: int = 120) -> None:
    """Write a figure atomically (temporary file, then rename)."""
    from pymatgen_crystalnet.atomic import atomic_write

    with atomic_write(path, mode="wb") as fh:
        fig.savefig(fh, dpi=dpi, format="png")


def _density_axes(fig: Figure, axes_grid: Any, grids: Mapping[str, ArrayLike]) -> None:
    from matplotlib.colors import LogNorm

    arrays = {k: np.asarray(v, dtype=float) for k, v in grids.items()}
    floor = max(1e-3, min(float(np.percentile(a, 1)) for a in arrays.values()))
    top = max(float(a.max()) for a in arrays.values())
    norm = LogNorm(vmin=floor, vmax=max(top, floor * 10))
    titles = ["slice a=½ (b, c)", "slice b=½ (a, c)", "slice c=½ (a, b)", "projection along c"]
    image = None
    for row, (label, rho) in enumerate(arrays.items()):
        n = rho.shape
        views = [
            rho[n[0] // 2, :, :],
            rho[:, n[1] // 2, :],
            rho[:, :, n[2] // 2],
            rho.mean(axis=2),
        ]
        for col, view in enumerate(views):
            ax = axes_grid[row, col]
            image = ax.imshow(np.clip(view, floor, None).T, origin="lower", norm=norm, cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(titles[col], fontsize=9)
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes_grid, shrink=0.8, label="ρ (e/Å³)")


def plot_density_views(grids: Mapping[str, ArrayLike], title: str | None = None) -> Figure:
    """Slices and a projection of each density (rows), on one log colour scale.

    Parameters
    ----------
    grids
        Label → (n, n, n) CMED in e/Å³, e.g. ``{"truth": ρ, "candidate 1": ρ₁}``.
    title
        Figure title.
    """
    if not grids:
        raise ValueError("No density to plot.")
    fig = _figure(9.5, 2.3 * len(grids) + 0.4)
    axes = fig.subplots(len(grids), 4, squeeze=False)
    _density_axes(fig, axes, grids)
    if title:
        fig.suptitle(title)
    return fig


def plot_pattern_overlay(
    input_vector: ArrayLike,
    computed: Mapping[str, ArrayLike],
    covered: ArrayLike | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """The input 1024-vector (black sticks) with each computed pattern offset below it."""
    fig = ax.figure if ax is not None else _figure(9, 3.2 + 0.4 * len(computed))
    ax = ax if ax is not None else fig.subplots()
    x = bin_centres()
    target = np.asarray(input_vector, dtype=float)
    ax.vlines(x, 0, target, color="black", lw=0.8, label="input")
    for i, (label, vec) in enumerate(computed.items(), start=1):
        v = np.asarray(vec, dtype=float)
        ax.vlines(x, -1.1 * i, -1.1 * i + v, color=f"C{i - 1}", lw=0.8, label=label)
    if covered is not None:
        cov = np.asarray(covered, dtype=bool)
        if not cov.all():
            ax.axvspan(x[cov].max() if cov.any() else 0, 180, color="0.9", zorder=-1, label="not measured")
    hi = x[np.nonzero(target)[0].max()] if np.any(target) else 180
    ax.set_xlim(0, min(180, hi + 10))
    ax.set_yticks([])
    ax.set_xlabel("2θ (degrees, Mo Kα)")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_xrd_strip(
    vectors: Mapping[str, ArrayLike] | Sequence[ArrayLike], title: str | None = None
) -> Figure:
    """The paper-style XRD strip: each 1024-vector as one row of intensity."""
    items = (
        list(vectors.items())
        if isinstance(vectors, Mapping)
        else [(str(i), v) for i, v in enumerate(vectors)]
    )
    if not items:
        raise ValueError("No pattern to plot.")
    data = np.stack([np.asarray(v, dtype=float) for _, v in items])
    fig = _figure(9, 0.45 * len(items) + 1.2)
    ax = fig.subplots()
    ax.imshow(
        np.sqrt(data), aspect="auto", cmap="Greys", extent=(0, 180, len(items), 0), interpolation="nearest"
    )
    ax.set_yticks(np.arange(len(items)) + 0.5, [k for k, _ in items], fontsize=8)
    ax.set_xlabel("2θ (degrees, Mo Kα); intensity shown as √I")
    if title:
        ax.set_title(title)
    return fig


def solve_figure(result: SolveResult, truth: ArrayLike | None = None, max_candidates: int = 3) -> Figure:
    """The summary figure of a solve: pattern overlay on top, densities below."""
    shown = list(result)[:max_candidates]
    grids: dict[str, ArrayLike] = {}
    if truth is not None:
        grids["truth"] = truth
    for c in shown:
        grids[f"#{c.rank + 1} (cos {c.agreement['cosine']:.3f})"] = c.grid
    fig = _figure(10, 3.4 + 2.3 * len(grids))
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.4, 2.3 * len(grids)])
    plot_pattern_overlay(
        result.input_vector,
        {f"#{c.rank + 1} computed (cos {c.agreement['cosine']:.3f})": c.verification.vector for c in shown},
        result.covered,
        ax=top.subplots(),
        title="input pattern and the computed patterns of the best candidates",
    )
    axes = bottom.subplots(len(grids), 4, squeeze=False)
    _density_axes(bottom, axes, grids)
    abc = ", ".join(f"{v:.3f}" for v in result.lattice.abc)
    angles = ", ".join(f"{v:.1f}" for v in result.lattice.angles)
    fig.suptitle(f"CrystalNet candidates on a = ({abc}) Å, α = ({angles})° [{result.lattice_source}]")
    return fig


def write_density_example(example: Example, path: Any, title: str) -> None:
    """Draw an evaluation example (truth and best-aligned prediction) and write it atomically.

    The figure writer :func:`pymatgen_crystalnet.evaluation.report.write_report` takes: the views
    of :func:`plot_density_views` of the truth and of the prediction, saved as a PNG at ``path``.
    """
    grids = {"truth": example.truth, "prediction (best CC sample, turned)": example.prediction}
    save_figure(plot_density_views(grids, title), path)

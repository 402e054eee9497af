"""Pattern figures on the model's 1024-bin Mo Kα axis: candidate overlays and the XRD strip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from pymatgen_crystalnet.featurize.xrd_vector import bin_centres
from pymatgen_crystalnet.plotting._figure import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_pattern_overlay", "plot_xrd_strip"]


def plot_pattern_overlay(
    input_vector: ArrayLike,
    computed: Mapping[str, ArrayLike],
    covered: ArrayLike | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """The input 1024-vector (black sticks) with each computed pattern offset below it."""
    fig = ax.figure if ax is not None else new_figure(9, 3.2 + 0.4 * len(computed))
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
    ax.set_xlabel("2θ (°, Mo Kα)")
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
    fig = new_figure(9, 0.45 * len(items) + 1.2)
    ax = fig.subplots()
    ax.imshow(
        np.sqrt(data), aspect="auto", cmap="Greys", extent=(0, 180, len(items), 0), interpolation="nearest"
    )
    ax.set_yticks(np.arange(len(items)) + 0.5, [k for k, _ in items], fontsize=8)
    ax.set_xlabel("2θ (°, Mo Kα); intensity shown as √I")
    if title:
        ax.set_title(title)
    return fig

"""The figure factory and the atomic PNG writer shared by the plotting modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["new_figure", "save_figure"]


def new_figure(width: float, height: float) -> Figure:
    """A ``Figure`` with constrained layout, not attached to pyplot (Agg, no display needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: Any, dpi: int = 120) -> None:
    """Write a figure as PNG atomically (temporary file, then rename)."""
    from pymatgen_crystalnet.atomic import atomic_write

    with atomic_write(path, mode="wb") as fh:
        fig.savefig(fh, dpi=dpi, format="png")

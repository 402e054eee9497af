"""Density maps drawn in the cell's real metric.

A slice of a grid at a fixed fractional coordinate along one cell axis is a plane spanned by
the other two lattice vectors. :func:`plot_density_slices` draws it in Cartesian coordinates
of that plane (Å): the first spanning vector along x, the second at its true angle, so the
60° primitive cell of a face-centred lattice is a rhombus and a hexagonal (a, b) plane a
120° parallelogram, never a square. Each grid point ``(i/n, j/n)`` is drawn as the
parallelogram of points nearer to it than to its neighbours (``pcolormesh`` on the sheared
corners), and the cell's outline is drawn over it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.plotting._figure import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.collections import QuadMesh
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.evaluation.result import Example

__all__ = [
    "density_norm",
    "density_rows",
    "plane_basis",
    "plot_density_slices",
    "plot_density_views",
    "row_height",
    "write_density_example",
]

_AXES = "abc"
#: for the slice perpendicular to axis k: the two in-plane axes
_PLANES = {0: (1, 2), 1: (0, 2), 2: (0, 1)}


def _matrix(lattice: Lattice | ArrayLike | None) -> NDArray[np.float64] | None:
    if lattice is None:
        return None
    mat = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
    if mat.shape != (3, 3) or not np.all(np.isfinite(mat)) or abs(np.linalg.det(mat)) < 1e-9:
        raise ValueError(f"The lattice must be a non-singular (3, 3) matrix, got shape {mat.shape}.")
    return mat


def plane_basis(lattice: Lattice | ArrayLike, p: int, q: int) -> tuple[NDArray, NDArray]:
    """2D coordinates (Å) of lattice vectors ``p`` and ``q`` in the plane they span.

    Vector ``p`` lies along +x; vector ``q`` is at its true angle to it, with y ≥ 0.

    Returns
    -------
    (2,) arrays ``e_p`` and ``e_q``.
    """
    mat = _matrix(lattice)
    if mat is None:
        raise ValueError("plane_basis needs a lattice.")
    u, v = mat[p], mat[q]
    len_u = float(np.linalg.norm(u))
    x_hat = u / len_u
    along = float(v @ x_hat)
    perp = float(np.linalg.norm(v - along * x_hat))
    return np.array([len_u, 0.0]), np.array([along, perp])


def density_norm(grids: Sequence[ArrayLike]) -> Normalize:
    """One logarithmic colour scale for several densities (1st percentile floor, ≥ 1e-3 e/Å³)."""
    from matplotlib.colors import LogNorm

    arrays = [np.asarray(g, dtype=float) for g in grids]
    if not arrays:
        raise ValueError("No density to plot.")
    floor = max(1e-3, min(float(np.percentile(a, 1)) for a in arrays))
    top = max(float(a.max()) for a in arrays)
    return LogNorm(vmin=floor, vmax=max(top, floor * 10))


def _view(rho: NDArray, k: int, position: float, projection: bool) -> NDArray:
    if projection:
        return rho.mean(axis=k)
    index = round(position * rho.shape[k]) % rho.shape[k]
    return np.take(rho, index, axis=k)


def plot_density_slices(
    axes: Sequence[Any],
    grid: ArrayLike,
    lattice: Lattice | ArrayLike | None,
    *,
    position: float = 0.5,
    norm: Normalize | None = None,
    cmap: str = "magma",
    titles: bool = True,
    outline: bool = True,
    label: str | None = None,
) -> QuadMesh:
    """Slices through a density, drawn with the cell's metric, with axis labels in Å.

    Parameters
    ----------
    axes
        Three or four matplotlib Axes: the slices perpendicular to a, b and c at fractional
        coordinate ``position``; a fourth gets the mean along c (the projection along the c
        vector onto the (a, b) plane).
    grid
        (n₁, n₂, n₃) density (e/Å³) at fractional points ``(i/n₁, j/n₂, k/n₃)``.
    lattice
        The cell of the grid (pymatgen ``Lattice`` or (3, 3) matrix, rows a, b, c). ``None``
        draws the unit square of fractional coordinates (no metric known), labelled so.
    position
        Fractional coordinate of the slices.
    norm
        Colour scale (default: :func:`density_norm` of this grid), shared between calls when
        several densities are compared.
    cmap
        Colour map.
    titles
        Title each axes with its view.
    outline
        Draw the cell's outline.
    label
        Name of the density, put before the first title.

    Returns
    -------
    matplotlib.collections.QuadMesh
        The last map drawn, for a colour bar.
    """
    rho = np.asarray(grid, dtype=float)
    if rho.ndim != 3 or min(rho.shape) < 1:
        raise ValueError(f"The density must be a 3D grid, got shape {rho.shape}.")
    if len(axes) not in (3, 4):
        raise ValueError(f"Give three or four axes (slices ⊥ a, b, c and the projection), got {len(axes)}.")
    mat = _matrix(lattice)
    norm = norm if norm is not None else density_norm([rho])
    floor = getattr(norm, "vmin", None)
    mesh = None
    for col, ax in enumerate(axes):
        projection = col == 3
        k = 2 if projection else col
        p, q = _PLANES[k]
        view = _view(rho, k, position, projection)
        if floor is not None:
            view = np.clip(view, floor, None)
        if mat is None:
            e_p, e_q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
        else:
            e_p, e_q = plane_basis(mat, p, q)
        u = (np.arange(view.shape[0] + 1) - 0.5) / view.shape[0]
        v = (np.arange(view.shape[1] + 1) - 0.5) / view.shape[1]
        xx = u[:, None] * e_p[0] + v[None, :] * e_q[0]
        yy = u[:, None] * e_p[1] + v[None, :] * e_q[1]
        mesh = ax.pcolormesh(xx, yy, view, norm=norm, cmap=cmap, shading="flat", rasterized=True)
        if outline:
            corners = np.array([[0, 0], e_p, e_p + e_q, e_q, [0, 0]])
            ax.plot(corners[:, 0], corners[:, 1], color="white", lw=0.6, alpha=0.8)
        ax.set_aspect("equal")
        unit = "fractional" if mat is None else "Å"
        ax.set_xlabel(f"along {_AXES[p]} ({unit})", fontsize=8)
        ax.set_ylabel(f"⊥ {_AXES[p]}, in ({_AXES[p]}, {_AXES[q]}) ({unit})", fontsize=8)
        ax.tick_params(labelsize=7)
        if titles or (label and col == 0):
            text = f"mean along {_AXES[k]}" if projection else f"slice {_AXES[k]} = {position:.2f}"
            if label and col == 0:
                text = f"{label}: {text}" if titles else label
            ax.set_title(text, fontsize=9)
    assert mesh is not None
    return mesh


def row_height(lattice: Lattice | ArrayLike | None, figure_width: float) -> float:
    """Height (inches) of one row of four density views on a figure ``figure_width`` wide.

    The tallest of the four planes (bounding box of its parallelogram) sets it, so cells of
    any shape fill their row without large gaps.
    """
    mat = _matrix(lattice)
    aspect = 1.0
    if mat is not None:
        aspects = []
        for p, q in (_PLANES[0], _PLANES[1], _PLANES[2]):
            e_p, e_q = plane_basis(mat, p, q)
            xs = [0.0, e_p[0], e_q[0], e_p[0] + e_q[0]]
            aspects.append(e_q[1] / (max(xs) - min(xs)))
        aspect = max(aspects)
    column = (figure_width - 1.6) / 4 - 0.45  # colour bar, tick labels and y labels
    return float(np.clip(column * aspect, 0.8, 2.4) + 0.75)  # tall planes get narrower instead


def density_rows(
    fig: Any,
    axes_grid: Any,
    grids: Mapping[str, ArrayLike],
    lattice: Lattice | ArrayLike | None,
) -> None:
    """One row of :func:`plot_density_slices` per density, a shared log scale and one colour bar."""
    norm = density_norm(list(grids.values()))
    mesh = None
    for row, (label, rho) in enumerate(grids.items()):
        mesh = plot_density_slices(axes_grid[row], rho, lattice, norm=norm, label=label)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes_grid, shrink=0.8, label="ρ (e/Å³)")


def plot_density_views(
    grids: Mapping[str, ArrayLike], title: str | None = None, lattice: Lattice | ArrayLike | None = None
) -> Figure:
    """Slices and a projection of each density (rows), on one log colour scale.

    Parameters
    ----------
    grids
        Label → (n, n, n) CMED in e/Å³, e.g. ``{"truth": ρ, "candidate 1": ρ₁}``.
    title
        Figure title.
    lattice
        The cell of the grids, for drawing them in its metric (``None``: fractional axes).
    """
    if not grids:
        raise ValueError("No density to plot.")
    fig = new_figure(11, row_height(lattice, 11) * len(grids) + 0.5)
    axes = fig.subplots(len(grids), 4, squeeze=False)
    density_rows(fig, axes, grids, lattice)
    if title:
        fig.suptitle(title)
    return fig


def write_density_example(example: Example, path: Any, title: str) -> None:
    """Draw an evaluation example (truth and best-aligned prediction) and write it atomically.

    The figure writer :func:`pymatgen_crystalnet.evaluation.report.write_report` takes: the views
    of :func:`plot_density_views` of the truth and of the prediction, saved as a PNG at ``path``;
    drawn in the cell's metric when the example carries a ``lattice``.
    """
    grids = {"truth": example.truth, "prediction (best CC sample, turned)": example.prediction}
    save_figure(plot_density_views(grids, title, lattice=getattr(example, "lattice", None)), path)

"""Matplotlib figures a crystallographer would show.

- :func:`plot_rietveld`: observed pattern (the measured profile, or sticks), calculated
  pattern, reflection ticks and the difference curve, as a Rietveld plot shows them.
- :func:`plot_density_slices`: slices through a density drawn in the cell's real metric
  (a 60° cell is a rhombus), axes in Å; :func:`plot_density_views` one row per density.
- :func:`plot_pattern_overlay`: the input 1024-vector over each candidate's computed vector.
- :func:`plot_xrd_strip`: the paper-style XRD strip, each 1024-vector one row of an image.
- :func:`solve_figure`: the figure ``crystalnet solve`` writes (pattern panels on top,
  densities below).
- :func:`write_density_example`: the evaluation report's figure writer (truth and the
  best-aligned prediction of one crystal).

Figure functions return a ``matplotlib.figure.Figure`` and never call ``pyplot.show``; the
figures are not attached to pyplot, so they work without a display.
"""

from pymatgen_crystalnet.plotting._figure import save_figure
from pymatgen_crystalnet.plotting.density import (
    density_norm,
    plot_density_slices,
    plot_density_views,
    write_density_example,
)
from pymatgen_crystalnet.plotting.patterns import plot_pattern_overlay, plot_xrd_strip
from pymatgen_crystalnet.plotting.rietveld import plot_rietveld
from pymatgen_crystalnet.plotting.solve import solve_figure

__all__ = [
    "density_norm",
    "plot_density_slices",
    "plot_density_views",
    "plot_pattern_overlay",
    "plot_rietveld",
    "plot_xrd_strip",
    "save_figure",
    "solve_figure",
    "write_density_example",
]

"""The model's XRD input: a 1024-bin vector of peak heights on 2θ ∈ [0°, 180°] (Mo Kα).

Bin ``int(1024 · 2θ / 180)``; the value of a bin is the largest peak height that falls in it;
heights are scaled so that the largest peak is 1. A peak exactly at 180° goes to the last bin.
See docs/science.md, 'The XRD vector'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR
from pymatgen_crystalnet.physics.units import MO_KA, TWO_THETA_MAX

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern
    from pymatgen.core import Lattice, Structure

__all__ = [
    "BIN_WIDTH",
    "N_BINS",
    "TWO_THETA_MAX",
    "bin_centres",
    "bin_index",
    "pattern_to_vector",
    "sticks_to_vector",
    "vector_from_density",
    "xrd_vector",
]

#: Number of bins of the XRD vector.
N_BINS: int = 1024
#: Width of one bin in degrees of 2θ.
BIN_WIDTH: float = TWO_THETA_MAX / N_BINS


def bin_index(two_theta: ArrayLike) -> NDArray[np.int64]:
    """Bin of each 2θ (degrees): ``int(1024 · 2θ / 180)``, with 180° in the last bin."""
    tt = np.asarray(two_theta, dtype=float)
    return np.minimum((N_BINS * tt / TWO_THETA_MAX).astype(np.int64), N_BINS - 1)


def bin_centres() -> NDArray[np.float64]:
    """2θ (degrees) at the centre of each of the 1024 bins."""
    return (np.arange(N_BINS) + 0.5) * BIN_WIDTH


def sticks_to_vector(
    two_theta: ArrayLike, heights: ArrayLike, *, normalise: bool = True
) -> NDArray[np.float32]:
    """Bin peak positions and heights into the 1024-vector.

    Parameters
    ----------
    two_theta
        Peak positions, 2θ in degrees on the model's (Mo Kα) axis, within [0, 180].
    heights
        Peak heights (any non-negative scale).
    normalise
        Scale so that the largest bin is 1 (default, as the model expects).

    Returns
    -------
    numpy.ndarray
        Shape ``(1024,)``, float32.

    Raises
    ------
    ValueError
        On mismatched lengths, no peaks, NaN or infinite values, negative heights, positions
        outside [0°, 180°], or heights that are all zero.
    """
    tt = np.asarray(two_theta, dtype=float).ravel()
    h = np.asarray(heights, dtype=float).ravel()
    if tt.shape != h.shape:
        raise ValueError(f"Peak positions and heights differ in length ({tt.size} vs {h.size}).")
    if tt.size == 0:
        raise ValueError("The pattern has no peaks.")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(h))):
        raise ValueError("The pattern contains NaN or infinite positions or heights.")
    if np.any(h < 0):
        raise ValueError("The pattern has negative peak heights.")
    if np.any((tt < 0) | (tt > TWO_THETA_MAX)):
        raise ValueError(
            f"Peak positions must lie in [0, {TWO_THETA_MAX:g}] degrees 2θ; got "
            f"[{tt.min():.4g}, {tt.max():.4g}]."
        )
    vec = np.zeros(N_BINS, dtype=np.float64)
    np.maximum.at(vec, bin_index(tt), h)
    if normalise:
        top = vec.max()
        if top <= 0:
            raise ValueError("All peak heights are zero.")
        vec /= top
    return vec.astype(np.float32)


def pattern_to_vector(
    pattern: DiffractionPattern, *, normalise: bool = True
) -> NDArray[np.float32]:
    """Turn a pymatgen ``DiffractionPattern`` (sticks on the Mo Kα 2θ axis) into the vector.

    The pattern must already be on the model's axis (Mo Kα, 2θ in degrees); a pattern at
    another wavelength is first mapped with :func:`pymatgen_crystalnet.physics.units.convert_two_theta`.
    """
    return sticks_to_vector(pattern.x, pattern.y, normalise=normalise)


def xrd_vector(
    structure: Structure, *, b_factor: float = DEFAULT_B_FACTOR, symprec: float = 0.1
) -> NDArray[np.float32]:
    """The model's 1024-bin XRD vector of a structure (Mo Kα, 2θ = 0–180°; docs/science.md).

    The pattern comes from pymatgen's ``XRDCalculator``
    (:func:`~pymatgen_crystalnet.physics.powder.xrd_pattern`). The peaks do not depend on the
    cell chosen to describe the crystal, so it is computed on the primitive standard cell: the
    vector is the same as from the conventional standard structure (tested to be identical),
    and 2–4× faster for centred lattices, whose conventional cells hold 2–4 times the atoms
    and reflections.
    """
    from pymatgen_crystalnet.physics.cells import canonical_cell
    from pymatgen_crystalnet.physics.powder import xrd_pattern

    primitive = canonical_cell(structure, "primitive", symprec=symprec)
    pattern = xrd_pattern(primitive, wavelength=MO_KA, b_factor=b_factor, conventional=False)
    return pattern_to_vector(pattern)


def vector_from_density(
    grid: ArrayLike, lattice: Lattice | ArrayLike, *, wavelength: float | str = MO_KA
) -> NDArray[np.float32]:
    """The 1024-bin vector of a density grid's pattern (FFT forward model, Mo Kα by default)."""
    from pymatgen_crystalnet.physics.forward import pattern_from_density

    return pattern_to_vector(pattern_from_density(grid, lattice, wavelength=wavelength))

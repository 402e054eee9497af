"""The readers' rule for negative intensities in measured profiles.

Raw data (``*_counts_*``, ``*_intensity_total`` in a powder CIF) must not be negative: any
negative value is an error. Background-subtracted or otherwise processed data (``*_net``,
``*_norm``) and plain text files (whose nature is unknown) may dip slightly below zero from
counting noise: values down to ``−NEGATIVE_TOLERANCE × max(intensity)`` (5 %) are clipped to 0
(logged); anything lower is an error.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray

__all__ = ["NEGATIVE_TOLERANCE", "clip_negatives"]

logger = logging.getLogger(__name__)

#: Relative tolerance for negative values in processed data (fraction of the maximum).
NEGATIVE_TOLERANCE: float = 0.05


def clip_negatives(intensity: NDArray[np.float64], *, raw: bool, where: str) -> NDArray[np.float64]:
    """Apply the rule for negative intensities (see the module docstring).

    Parameters
    ----------
    intensity
        The profile's intensities.
    raw
        Whether the data are raw counts/intensities (no negative value allowed).
    where
        The file (and block) for messages.

    Returns
    -------
    numpy.ndarray
        ``intensity`` itself when nothing is negative, else a clipped copy.

    Raises
    ------
    ValueError
        On NaN/inf, a negative raw value, or processed values below the tolerance.
    """
    if not np.all(np.isfinite(intensity)):
        raise ValueError(f"The profile has NaN or infinite intensities ({where}).")
    low = float(intensity.min()) if intensity.size else 0.0
    if low >= 0:
        return intensity
    if raw:
        raise ValueError(f"Raw counts/intensities cannot be negative; minimum {low:.6g} ({where}).")
    top = float(intensity.max())
    if top <= 0 or low < -NEGATIVE_TOLERANCE * top:
        raise ValueError(
            f"Intensities go down to {low:.6g}, below −{NEGATIVE_TOLERANCE:g} × max "
            f"({top:.6g}); not a background-subtracted profile with noise ({where})."
        )
    n_neg = int(np.count_nonzero(intensity < 0))
    logger.info("Clipped %d small negative intensities (≥ %.4g) to 0 in %s.", n_neg, low, where)
    return np.maximum(intensity, 0.0)

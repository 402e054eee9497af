"""Checks every pattern reader applies before it returns a :class:`PowderProfile`.

Order of 2θ
-----------
A profile's 2θ must be strictly increasing. A file whose 2θ values all *decrease* (a scan
recorded from high to low angle) is reversed, with a log message: nothing is lost or merged.
Anything else that is not strictly increasing is refused with :class:`.PatternFileError`
naming the point: a duplicated 2θ (two intensities for one angle; which one is right is not
the reader's call) and a 2θ that goes back (several scans concatenated, or a damaged file).
The readers never sort or average points.

Numbers
-------
NaN, infinite and overflowing values (``1e400`` reads as infinite) are refused in any column,
as are 2θ outside (0°, 180°) and the other problems :class:`PowderProfile` checks; every one
of them is raised as :class:`.PatternFileError`, with the file named.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.io.errors import PatternFileError
from pymatgen_crystalnet.physics.powder_profile import PowderProfile

__all__ = ["checked_profile", "order_two_theta"]

logger = logging.getLogger(__name__)

_Arrays = tuple[NDArray[np.float64], NDArray[np.float64], "NDArray[np.float64] | None"]


def order_two_theta(
    two_theta: NDArray[np.float64],
    intensity: NDArray[np.float64],
    sigma: NDArray[np.float64] | None,
    path: str | os.PathLike,
    where: str = "",
) -> _Arrays:
    """Return the arrays in increasing 2θ, reversing a decreasing scan (module docstring).

    Raises
    ------
    PatternFileError
        On a non-finite 2θ, a duplicated 2θ, or a 2θ that goes back in an increasing scan.
    """
    tt = np.asarray(two_theta, dtype=np.float64)
    at = f" ({where})" if where else ""
    if not np.all(np.isfinite(tt)):
        i = int(np.argmax(~np.isfinite(tt)))
        raise PatternFileError(path, f"2θ at point {i + 1} is {tt[i]} (not a finite number){at}.")
    if tt.size < 2:
        return tt, intensity, sigma
    steps = np.diff(tt)
    if np.all(steps < 0):
        logger.info("%s: 2θ decreases through the file; the points were reversed.", path)
        return tt[::-1], intensity[::-1], None if sigma is None else sigma[::-1]
    bad = steps <= 0
    if np.any(bad):
        i = int(np.argmax(bad))
        if steps[i] == 0:
            problem = f"2θ = {tt[i]:.6g}° appears twice (points {i + 1} and {i + 2})"
        else:
            problem = (
                f"2θ goes back from {tt[i]:.6g}° to {tt[i + 1]:.6g}° at point {i + 2}; the points "
                "must be in increasing (or all in decreasing) 2θ, one scan per file"
            )
        raise PatternFileError(path, f"{problem}{at}.")
    return tt, intensity, sigma


def checked_profile(
    two_theta: NDArray[np.float64],
    intensity: NDArray[np.float64],
    wavelength: float | None,
    sigma: NDArray[np.float64] | None,
    source: str,
    path: str | os.PathLike,
    where: str = "",
) -> PowderProfile:
    """Order the points (:func:`order_two_theta`) and build the profile.

    Raises
    ------
    PatternFileError
        On any problem, with the file named (``PowderProfile``'s own ``ValueError`` included).
    """
    tt, y, s = order_two_theta(two_theta, intensity, sigma, path, where)
    try:
        return PowderProfile(tt, y, wavelength, s, source)
    except ValueError as exc:
        problem = str(exc).replace(f" ({source})", "")
        if where:
            problem = f"{problem.rstrip('.')} ({where})."
        raise PatternFileError(path, problem) from None

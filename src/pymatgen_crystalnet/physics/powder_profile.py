"""The powder profile type: intensities on a 2θ grid at one wavelength.

The readers of :mod:`pymatgen_crystalnet.io.patterns` return it (and re-export it under that
name); it lives in ``physics`` so that the pattern agreement (:func:`.agreement.profile_rwp`)
and every layer above may use it without importing ``io``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.units import resolve_wavelength

__all__ = ["PowderProfile"]

_MIN_POINTS = 3


@dataclass(frozen=True)
class PowderProfile:
    """A measured (or simulated) powder profile at one wavelength.

    Parameters
    ----------
    two_theta
        2θ in degrees, strictly increasing, within (0°, 180°). Shape ``(n,)``, ``n ≥ 3``.
    intensity
        Intensities at ``two_theta`` (counts or any non-negative scale), not all zero.
    wavelength
        X-ray wavelength in Å, or ``None`` where it is not known.
    sigma
        Standard uncertainties of ``intensity`` (non-negative), or ``None``.
    source
        Where the profile came from (file, block, tags), for the record.

    Notes
    -----
    The arrays are copied to float64 and made read-only; construction validates them and
    raises one ``ValueError`` naming the first problem found.
    """

    two_theta: NDArray[np.float64]
    intensity: NDArray[np.float64]
    wavelength: float | None = None
    sigma: NDArray[np.float64] | None = None
    source: str = ""

    def __post_init__(self) -> None:
        tt = _as_readonly(self.two_theta, "2θ")
        y = _as_readonly(self.intensity, "intensity")
        where = f" ({self.source})" if self.source else ""
        if tt.shape != y.shape:
            raise ValueError(f"2θ and intensity differ in length ({tt.size} vs {y.size}){where}.")
        if tt.size < _MIN_POINTS:
            raise ValueError(f"A profile needs at least {_MIN_POINTS} points, got {tt.size}{where}.")
        if not np.all(np.isfinite(tt)):
            raise ValueError(f"The profile has NaN or infinite 2θ values{where}.")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"The profile has NaN or infinite intensities{where}.")
        if tt.min() <= 0 or tt.max() >= 180:
            raise ValueError(
                f"2θ must lie strictly between 0° and 180°; got [{tt.min():.6g}, {tt.max():.6g}]{where}."
            )
        steps = np.diff(tt)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            kind = "duplicate" if steps[i] == 0 else "decreasing"
            raise ValueError(
                f"2θ must be strictly increasing; {kind} value at point {i + 1} "
                f"({tt[i]:.6g}° then {tt[i + 1]:.6g}°){where}."
            )
        if np.any(y < 0):
            raise ValueError(f"The profile has negative intensities (minimum {y.min():.6g}){where}.")
        if not np.any(y > 0):
            raise ValueError(f"All intensities of the profile are zero{where}.")
        object.__setattr__(self, "two_theta", tt)
        object.__setattr__(self, "intensity", y)
        if self.sigma is not None:
            s = _as_readonly(self.sigma, "sigma")
            if s.shape != y.shape:
                raise ValueError(f"sigma and intensity differ in length ({s.size} vs {y.size}){where}.")
            if not np.all(np.isfinite(s)) or np.any(s < 0):
                raise ValueError(f"sigma must be finite and non-negative{where}.")
            object.__setattr__(self, "sigma", s)
        if self.wavelength is not None:
            object.__setattr__(self, "wavelength", resolve_wavelength(self.wavelength))

    def __len__(self) -> int:
        return int(self.two_theta.size)

    @property
    def step(self) -> float:
        """Median 2θ step in degrees."""
        return float(np.median(np.diff(self.two_theta)))

    def with_wavelength(self, wavelength: float | str) -> PowderProfile:
        """Return a copy of the profile with ``wavelength`` (Å or a name such as ``"CuKa1"``)."""
        return PowderProfile(
            self.two_theta, self.intensity, resolve_wavelength(wavelength), self.sigma, self.source
        )


def _as_readonly(values: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The profile's {name} values are not numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"The profile's {name} must be one-dimensional, got shape {arr.shape}.")
    arr.flags.writeable = False
    return arr

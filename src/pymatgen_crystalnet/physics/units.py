"""Wavelengths and conversions between 2θ, d-spacing and scattering-vector magnitude.

Conventions
-----------
- Angles are 2θ in degrees.
- ``d`` is the interplanar spacing in Å; Bragg's law ``λ = 2 d sin θ``.
- ``Q = 4π sin θ / λ = 2π / d`` in Å⁻¹.
- ``s = sin θ / λ = 1 / (2d)`` in Å⁻¹ is the argument of the form factors.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MO_KA",
    "TWO_THETA_MAX",
    "WAVELENGTHS",
    "convert_two_theta",
    "d_to_two_theta",
    "q_to_two_theta",
    "resolve_wavelength",
    "two_theta_to_d",
    "two_theta_to_q",
]

#: Mo Kα wavelength (Å) used for the model's pattern axis (DESIGN §2).
MO_KA: float = 0.71073
#: Upper end of the 2θ axis (degrees).
TWO_THETA_MAX: float = 180.0

#: Named X-ray wavelengths in Å (the same values as pymatgen's ``XRDCalculator``).
WAVELENGTHS: dict[str, float] = {
    "CuKa": 1.54184,
    "CuKa2": 1.54439,
    "CuKa1": 1.54056,
    "CuKb1": 1.39222,
    "MoKa": 0.71073,
    "MoKa2": 0.71359,
    "MoKa1": 0.70930,
    "MoKb1": 0.63229,
    "CrKa": 2.29100,
    "CrKa2": 2.29361,
    "CrKa1": 2.28970,
    "CrKb1": 2.08487,
    "FeKa": 1.93735,
    "FeKa2": 1.93998,
    "FeKa1": 1.93604,
    "FeKb1": 1.75661,
    "CoKa": 1.79026,
    "CoKa2": 1.79285,
    "CoKa1": 1.78896,
    "CoKb1": 1.63079,
    "AgKa": 0.560885,
    "AgKa2": 0.563813,
    "AgKa1": 0.559421,
    "AgKb1": 0.497082,
}


def resolve_wavelength(wavelength: float | str) -> float:
    """Return a wavelength in Å from a number or a name such as ``"CuKa"``.

    Parameters
    ----------
    wavelength
        A positive number (Å) or a key of :data:`WAVELENGTHS`.

    Returns
    -------
    float
        The wavelength in Å.

    Raises
    ------
    ValueError
        If the name is unknown or the number is not a finite positive value.
    """
    if isinstance(wavelength, str):
        key = wavelength.strip()
        if key in WAVELENGTHS:
            return WAVELENGTHS[key]
        try:
            value = float(key)
        except ValueError:
            known = ", ".join(sorted(WAVELENGTHS))
            raise ValueError(
                f"Unknown wavelength {wavelength!r}: give a number in Å or one of {known}."
            ) from None
    else:
        value = float(wavelength)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"Wavelength must be a finite positive number of Å, got {wavelength!r}.")
    return value


def two_theta_to_d(two_theta: ArrayLike, wavelength: float) -> NDArray[np.float64]:
    """d-spacing (Å) of 2θ (degrees) at ``wavelength`` (Å); ``inf`` at 2θ = 0."""
    theta = np.radians(np.asarray(two_theta, dtype=float)) / 2
    with np.errstate(divide="ignore"):
        return wavelength / (2 * np.sin(theta))


def d_to_two_theta(d: ArrayLike, wavelength: float) -> NDArray[np.float64]:
    """2θ (degrees) of d-spacing ``d`` (Å) at ``wavelength``; NaN where λ/2d > 1 (unreachable)."""
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = wavelength / (2 * d)
        out = 2 * np.degrees(np.arcsin(np.where(ratio <= 1, ratio, np.nan)))
    return out


def two_theta_to_q(two_theta: ArrayLike, wavelength: float) -> NDArray[np.float64]:
    """Scattering-vector magnitude Q = 4π sin θ / λ (Å⁻¹)."""
    theta = np.radians(np.asarray(two_theta, dtype=float)) / 2
    return 4 * np.pi * np.sin(theta) / wavelength


def q_to_two_theta(q: ArrayLike, wavelength: float) -> NDArray[np.float64]:
    """2θ (degrees) of Q (Å⁻¹) at ``wavelength``; NaN where Qλ/4π > 1."""
    ratio = np.asarray(q, dtype=float) * wavelength / (4 * np.pi)
    with np.errstate(invalid="ignore"):
        return 2 * np.degrees(np.arcsin(np.where(np.abs(ratio) <= 1, ratio, np.nan)))


def convert_two_theta(
    two_theta: ArrayLike, from_wavelength: float, to_wavelength: float
) -> NDArray[np.float64]:
    """Map 2θ measured at one wavelength onto another through the d-spacing (Bragg's law).

    Angles that have no counterpart at ``to_wavelength`` (beyond 180°) become NaN.
    """
    two_theta = np.asarray(two_theta, dtype=float)
    ratio = np.sin(np.radians(two_theta) / 2) * to_wavelength / from_wavelength
    with np.errstate(invalid="ignore"):
        return 2 * np.degrees(np.arcsin(np.where(ratio <= 1, ratio, np.nan)))

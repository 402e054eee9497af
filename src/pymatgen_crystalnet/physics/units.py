"""Wavelengths and conversions between 2θ, d-spacing and scattering-vector magnitude.

Conventions
-----------
- Angles are 2θ in degrees.
- ``d`` is the interplanar spacing in Å; Bragg's law ``λ = 2 d sin θ``.
- ``Q = 4π sin θ / λ = 2π / d`` in Å⁻¹.
- ``s = sin θ / λ = 1 / (2d)`` in Å⁻¹ is the argument of the form factors.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "KALPHA_ANODES",
    "MO_KA",
    "TWO_THETA_MAX",
    "WAVELENGTHS",
    "KalphaLines",
    "check_two_theta_range",
    "convert_two_theta",
    "d_to_two_theta",
    "kalpha_lines",
    "q_to_two_theta",
    "resolve_wavelength",
    "two_theta_to_d",
    "two_theta_to_q",
]

#: Mo Kα wavelength (Å) of the model's pattern axis (docs/science.md, 'The XRD vector'): a fixed
#: definition of the axis, equal to pymatgen's ``WAVELENGTHS["MoKa"]`` (the weighted Kα).
MO_KA: float = 0.71073
#: Upper end of the 2θ axis (degrees).
TWO_THETA_MAX: float = 180.0



class _PymatgenWavelengths(Mapping[str, float]):
    """Read-only view of pymatgen's named X-ray wavelengths, loaded on first use.

    Importing :mod:`pymatgen.analysis.diffraction.xrd` takes most of a second, so it is
    deferred until a name is looked up; plain numbers never need it.
    """

    def __getitem__(self, key: str) -> float:
        return _pymatgen_table()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_pymatgen_table())

    def __len__(self) -> int:
        return len(_pymatgen_table())

    def __repr__(self) -> str:
        return f"WAVELENGTHS({dict(_pymatgen_table())!r})"


@functools.lru_cache(maxsize=1)
def _pymatgen_table() -> MappingProxyType[str, float]:
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS as table

    return MappingProxyType({str(k): float(v) for k, v in table.items()})


#: Named X-ray wavelengths in Å (``"CuKa"``, ``"CuKa1"``, ``"MoKa"``, ``"MoKb1"`` …): pymatgen's
#: table (:data:`pymatgen.analysis.diffraction.xrd.WAVELENGTHS`, the one its
#: ``XRDCalculator`` uses), read-only. A bare ``Ka`` is the weighted Kα, ``(2 Kα1 + Kα2) / 3``.
WAVELENGTHS: Mapping[str, float] = _PymatgenWavelengths()


#: Anodes whose Kα1/Kα2 doublet is recognised from a wavelength (:func:`kalpha_lines`).
KALPHA_ANODES: tuple[str, ...] = ("Cu", "Mo", "Co", "Fe", "Cr", "Ag")


class KalphaLines(NamedTuple):
    """The Kα lines of a laboratory anode (Å, pymatgen's table) and which of them was given."""

    anode: str
    ka: float
    ka1: float
    ka2: float
    given: str  # "Ka" (the weighted Kα) or "Ka1"


def kalpha_lines(wavelength: float, tol: float = 5e-4) -> KalphaLines | None:
    """The anode whose weighted Kα or Kα1 line ``wavelength`` (Å) is, within ``tol``; else None.

    The one lookup of laboratory radiation in the package: peak picking strips Kα2 with it and
    the profile model fits the doublet it gives. Any other wavelength (synchrotron, a
    monochromated line given as a plain number far from these) is a single line.
    """
    lam = float(wavelength)
    for anode in KALPHA_ANODES:
        ka, ka1, ka2 = (WAVELENGTHS[f"{anode}Ka{s}"] for s in ("", "1", "2"))
        if abs(lam - ka1) < tol:
            return KalphaLines(anode, ka, ka1, ka2, "Ka1")
        if abs(lam - ka) < tol:
            return KalphaLines(anode, ka, ka1, ka2, "Ka")
    return None


def check_two_theta_range(two_theta_range: tuple[float, float]) -> tuple[float, float]:
    """Check a 2θ range in degrees: ``0 ≤ min < max ≤ 180``.

    Parameters
    ----------
    two_theta_range
        ``(min, max)`` in degrees.

    Returns
    -------
    tuple
        ``(min, max)``, unchanged.

    Raises
    ------
    ValueError
        If the range is empty, reversed, or reaches outside [0°, 180°].
    """
    lo, hi = two_theta_range
    if not 0 <= lo < hi <= TWO_THETA_MAX:
        raise ValueError(f"two_theta_range must satisfy 0 ≤ min < max ≤ 180, got {two_theta_range}.")
    return lo, hi


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

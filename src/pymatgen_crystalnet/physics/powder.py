"""Powder patterns of structures with pymatgen's ``XRDCalculator`` (docs/science.md, 'The XRD vector').

The training input is computed on the conventional standard structure with Mo Kα radiation
over 2θ = 0–180°, every element given the same isotropic Debye–Waller factor B as the IAM
density (B = 0 reproduces the paper's undamped patterns).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR
from pymatgen_crystalnet.physics.units import MO_KA, TWO_THETA_MAX, check_two_theta_range, resolve_wavelength

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern
    from pymatgen.core import Structure

__all__ = ["lorentz_polarisation", "xrd_pattern"]

logger = logging.getLogger(__name__)


def lorentz_polarisation(two_theta: ArrayLike) -> NDArray[np.float64]:
    """Lorentz–polarisation factor ``(1 + cos² 2θ) / (sin² θ cos θ)`` (unpolarised beam).

    The factor pymatgen's ``XRDCalculator`` applies; it diverges at 2θ → 0° and 180°.

    Parameters
    ----------
    two_theta
        2θ in degrees.
    """
    tt = np.radians(np.asarray(two_theta, dtype=np.float64))
    th = tt / 2
    with np.errstate(divide="ignore"):
        return (1 + np.cos(tt) ** 2) / (np.sin(th) ** 2 * np.cos(th))


def xrd_pattern(
    structure: Structure,
    *,
    wavelength: float | str = MO_KA,
    b_factor: float = DEFAULT_B_FACTOR,
    two_theta_range: tuple[float, float] = (0.0, TWO_THETA_MAX),
    conventional: bool = True,
    symprec: float = 0.1,
) -> DiffractionPattern:
    """Stick pattern of a structure (pymatgen ``XRDCalculator``), intensities scaled to 100.

    Parameters
    ----------
    structure
        The crystal.
    wavelength
        Å or a name such as ``"MoKa"`` / ``"CuKa"``.
    b_factor
        Isotropic Debye–Waller factor B (Å²) given to every element (``debye_waller_factors``).
    two_theta_range
        Range of 2θ in degrees.
    conventional
        Compute on the conventional standard structure (the peaks are the same in any cell;
        the conventional one matches the paper's data).
    symprec
        Tolerance of the symmetry analysis that finds the conventional cell.
    """
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    lam = resolve_wavelength(wavelength)
    if not np.isfinite(b_factor) or b_factor < 0:
        raise ValueError(f"The Debye–Waller factor B must be finite and ≥ 0, got {b_factor}.")
    lo, hi = check_two_theta_range(two_theta_range)
    if len(structure) == 0:
        raise ValueError("The structure has no sites.")
    if conventional:
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        structure = SpacegroupAnalyzer(
            structure, symprec=symprec
        ).get_conventional_standard_structure()
    elements = {el.symbol for el in structure.composition.elements}
    dw = {el: float(b_factor) for el in elements} if b_factor else None
    calc = XRDCalculator(wavelength=lam, debye_waller_factors=dw)
    # a reflection exactly at 2θ = 180° has an infinite Lorentz factor: stop just short of it
    hi_eff = min(hi, TWO_THETA_MAX - 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        pattern = calc.get_pattern(structure, scaled=True, two_theta_range=(lo, hi_eff))
    if len(pattern.x) == 0:
        raise ValueError(
            f"{structure.composition.reduced_formula} has no reflection in 2θ = {lo}–{hi}° at "
            f"λ = {lam} Å."
        )
    return pattern

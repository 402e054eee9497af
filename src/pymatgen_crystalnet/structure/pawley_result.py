"""What a Pawley fit returns: extracted intensities, peak parameters, the fitted profile.

:class:`PawleyResult` is the outcome of :func:`~pymatgen_crystalnet.structure.pawley.pawley_fit`;
:meth:`PawleyResult.sticks` turns its intensities into the stick pattern the structure search and
the stick refinement read (:class:`ExtractedSticks`): every reflection group inside the measured
range on the given cell, clusters of groups closer than half a peak width (whose split of the
intensity the profile does not determine) marked, clusters weaker than three esds set to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.structure.profile_model import EmissionLines

__all__ = ["OVERLAP_FWHM", "SIGNIFICANCE", "ExtractedSticks", "PawleyResult"]

#: Reflections closer than this many FWHM form one cluster of :meth:`PawleyResult.sticks`.
OVERLAP_FWHM: float = 0.5
#: Clusters weaker than this many esds count as unobserved in :meth:`PawleyResult.sticks`.
SIGNIFICANCE: float = 3.0


@dataclass(frozen=True)
class ExtractedSticks:
    """Extracted intensities as sticks on the given cell (Kα1 positions, no zero shift).

    Attributes
    ----------
    two_theta, intensity
        ``(K,)`` every reflection group inside the measured range (zero intensity included: an
        extinct or weak reflection is an observation too).
    cluster
        ``(K,)`` non-decreasing cluster index: groups closer than half a peak width.
    wavelength
        λ₁ (Å) at which ``two_theta`` hold.
    two_theta_range
        The measured range (degrees).
    """

    two_theta: NDArray[np.float64]
    intensity: NDArray[np.float64]
    cluster: NDArray[np.int64]
    wavelength: float
    two_theta_range: tuple[float, float]

    def clustered(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Per cluster: intensity-weighted 2θ, summed intensity and half the cluster's span."""
        n = int(self.cluster.max()) + 1 if self.cluster.size else 0
        total = np.bincount(self.cluster, weights=self.intensity, minlength=n)
        count = np.bincount(self.cluster, minlength=n)
        mean = np.bincount(self.cluster, weights=self.two_theta, minlength=n) / np.maximum(count, 1)
        weighted = np.bincount(self.cluster, weights=self.two_theta * self.intensity, minlength=n)
        tt = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), mean)
        lo = np.full(n, np.inf)
        hi = np.full(n, -np.inf)
        np.minimum.at(lo, self.cluster, self.two_theta)
        np.maximum.at(hi, self.cluster, self.two_theta)
        return tt, total, 0.5 * (hi - lo)


@dataclass
class PawleyResult:
    """A Pawley fit: extracted intensities, refined peak parameters and the fitted profile.

    Attributes
    ----------
    hkl
        ``(G,)`` one Miller index per reflection group (the given cell's basis).
    two_theta
        ``(G,)`` Kα1 positions on the given cell (degrees, no zero shift).
    multiplicity
        ``(G,)`` reflections in each group (Friedel pairs counted once, as pymatgen does).
    intensity
        ``(G,)`` extracted integrated intensities (≥ 0; counts × degrees).
    esd
        ``(G,)`` their standard uncertainties, ``sqrt(χ²_ν / Σ_i w_i Ω_g(2θ_i)²)`` (correlations
        between overlapped groups ignored).
    in_range
        ``(G,)`` whether the Kα1 peak lies inside the measured range.
    params
        Refined peak parameters by name (``zero`` … ``ratio``, degrees and degrees²).
    theta
        The nonlinear parameter vector (shape, then the cell's metric coefficients).
    background
        Chebyshev coefficients.
    lattice
        The refined cell (the given one when the cell was not refined).
    start_lattice
        The given cell (the hkl, ``two_theta`` and the reflection groups are its own).
    reflection_range
        The 2θ range (degrees, at λ₁) the reflection groups were enumerated over.
    lines
        The emission lines modelled.
    rwp, rp, rexp, chi2
        Agreement of the fitted profile (:func:`.profile_lm.agreement`).
    two_theta_profile, observed, calculated, background_profile
        The fitted profile (measured points).
    cycles, converged, seconds
        Alternation cycles run, whether χ² stopped falling, wall time.
    ok, message
        False with the reason when the fit gave no usable intensities.
    """

    hkl: NDArray[np.int64]
    two_theta: NDArray[np.float64]
    multiplicity: NDArray[np.int64]
    intensity: NDArray[np.float64]
    esd: NDArray[np.float64]
    in_range: NDArray[np.bool_]
    params: dict[str, float]
    theta: NDArray[np.float64]
    background: NDArray[np.float64]
    lattice: Lattice
    start_lattice: Lattice
    reflection_range: tuple[float, float]
    lines: EmissionLines
    rwp: float
    rp: float
    rexp: float
    chi2: float
    two_theta_profile: NDArray[np.float64] = field(repr=False)
    observed: NDArray[np.float64] = field(repr=False)
    calculated: NDArray[np.float64] = field(repr=False)
    background_profile: NDArray[np.float64] = field(repr=False)
    cycles: int = 0
    converged: bool = False
    seconds: float = 0.0
    ok: bool = True
    message: str = ""

    @property
    def fwhm(self) -> NDArray[np.float64]:
        """``(G,)`` FWHM (degrees) of every group from the refined Caglioti parameters."""
        theta = np.radians(self.two_theta / 2)
        t = np.tan(theta)
        p = self.params
        return np.sqrt(np.maximum(p["U"] * t * t + p["V"] * t + p["W"], 1e-6))

    def sticks(self, overlap: float = OVERLAP_FWHM, significance: float = SIGNIFICANCE) -> ExtractedSticks:
        """The in-range intensities as sticks, clustered where peaks overlap.

        Clusters whose summed intensity is below ``significance`` times its esd are set to 0:
        not observed (an extinct reflection keeps a little noise in a Pawley fit).
        """
        keep = np.flatnonzero(self.in_range)
        tt = self.two_theta[keep]
        width = self.fwhm[keep]
        new = np.ones(len(keep), dtype=bool)
        new[1:] = np.diff(tt) > overlap * 0.5 * (width[1:] + width[:-1])
        cluster = (np.cumsum(new) - 1).astype(np.int64)
        inten = self.intensity[keep].copy()
        total = np.bincount(cluster, weights=inten)
        esd_g = np.where(np.isfinite(self.esd[keep]), self.esd[keep], 0.0)
        esd = np.sqrt(np.bincount(cluster, weights=esd_g**2))
        inten[(total < significance * esd)[cluster]] = 0.0
        return ExtractedSticks(
            two_theta=tt.copy(),
            intensity=inten,
            cluster=cluster,
            wavelength=self.lines.wavelength,
            two_theta_range=(float(self.two_theta_profile[0]), float(self.two_theta_profile[-1])),
        )

    def summary(self) -> dict[str, Any]:
        """JSON-able figures (no arrays)."""
        return {
            "rwp": self.rwp,
            "rp": self.rp,
            "rexp": self.rexp,
            "chi2": self.chi2,
            "params": dict(self.params),
            "lattice": [float(v) for v in (*self.lattice.abc, *self.lattice.angles)],
            "lines": self.lines.description,
            "wavelengths": [self.lines.wavelength, self.lines.wavelength2],
            "n_reflection_groups": int(self.in_range.sum()),
            "n_points": int(self.observed.size),
            "n_background": int(self.background.size),
            "cycles": self.cycles,
            "converged": self.converged,
            "seconds": self.seconds,
            "ok": self.ok,
            "message": self.message,
        }

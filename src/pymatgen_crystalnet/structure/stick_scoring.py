"""Score unrefined models against a stick pattern, and a pattern-gated duplicate matcher.

:class:`StickScorer` computes a model's merged sticks on its lattice
(:func:`~pymatgen_crystalnet.physics.powder_batch.batch_sticks`, pymatgen's physics) at a fixed
isotropic B, bins them against the target sticks (:mod:`.stick_match`) and returns the stick
Rwp, R_Bragg and cosine at the least-squares scale: one figure of merit for every candidate of
the pool before refinement, whatever its source.

:class:`PatternGatedMatcher` wraps pymatgen's ``StructureMatcher``: two candidates on the same
lattice whose computed patterns differ (cosine below ``min_cosine``) cannot be the same crystal,
so the costly ``fit`` is only called on pairs whose patterns agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.physics.powder_batch import batch_sticks
from pymatgen_crystalnet.structure.stick_match import match_sticks, stick_figures

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["PatternGatedMatcher", "StickScore", "StickScorer"]


@dataclass(frozen=True)
class StickScore:
    """Stick figures of merit of one model and its binned pattern (unit norm, for comparisons)."""

    rwp: float
    r_bragg: float
    cosine: float
    fingerprint: NDArray[np.float64]


class StickScorer:
    """Figures of merit of unrefined models against target sticks.

    Parameters
    ----------
    two_theta, intensities
        Target sticks (validated, ascending 2θ).
    wavelength
        Å.
    two_theta_range
        Range the target covers (degrees).
    b_factor
        Isotropic B (Å²) of the models' patterns.
    match_tol
        2θ tolerance (degrees) pairing reflections with sticks.
    groups
        One group index per target stick: sticks of a group are one bin (:mod:`.stick_match`).
    """

    def __init__(
        self,
        two_theta: NDArray[np.float64],
        intensities: NDArray[np.float64],
        wavelength: float,
        two_theta_range: tuple[float, float],
        b_factor: float,
        match_tol: float = 0.02,
        groups: NDArray[np.int64] | None = None,
    ) -> None:
        self.two_theta = two_theta
        self.intensities = intensities
        self.wavelength = wavelength
        self.two_theta_range = two_theta_range
        self.b_factor = b_factor
        self.match_tol = match_tol
        self.groups = groups

    def score(self, structure: Structure) -> StickScore:
        """Stick figures of a model on its own lattice.

        Raises
        ------
        ValueError
            When the lattice has no reflection in the range (from ``batch_sticks``).
        """
        tt, inten = batch_sticks(
            structure.lattice,
            [site.specie.symbol for site in structure],
            structure.frac_coords,
            wavelength=self.wavelength,
            two_theta_range=self.two_theta_range,
            debye_waller_b=self.b_factor or None,
            scaled=False,
        )
        bins = match_sticks(tt, self.two_theta, self.intensities, tol=self.match_tol, groups=self.groups)
        calc = np.bincount(bins.peak_bin, weights=inten[0], minlength=bins.n_bins)
        fig = stick_figures(bins, calc)
        norm = float(np.linalg.norm(calc))
        return StickScore(
            rwp=fig["rwp"],
            r_bragg=fig["r_bragg"],
            cosine=fig["cosine"],
            fingerprint=calc / norm if norm > 0 else calc,
        )


class PatternGatedMatcher:
    """``StructureMatcher.fit`` called only for pairs whose computed patterns agree.

    Parameters
    ----------
    matcher
        A pymatgen ``StructureMatcher``.
    fingerprints
        ``{id(structure): unit-norm binned pattern}`` of the structures that will be compared
        (all on one lattice, binned against one target); missing ones are always fitted.
    min_cosine
        Patterns agreeing less than this are different crystals.
    """

    def __init__(self, matcher: Any, fingerprints: dict[int, NDArray[np.float64]], min_cosine: float = 0.98):
        self.matcher = matcher
        self.fingerprints = fingerprints
        self.min_cosine = min_cosine

    def fit(self, a: Structure, b: Structure) -> bool:
        """Whether ``a`` and ``b`` are the same crystal."""
        fa, fb = self.fingerprints.get(id(a)), self.fingerprints.get(id(b))
        if fa is not None and fb is not None and fa.shape == fb.shape and float(fa @ fb) < self.min_cosine:
            return False
        return bool(self.matcher.fit(a, b))

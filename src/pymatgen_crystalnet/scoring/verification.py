"""XRD-forward verification: the pattern of each candidate density against the input pattern.

Each candidate CMED on the input's lattice goes through the FFT forward model
(:func:`~pymatgen_crystalnet.physics.forward.pattern_from_density`) onto the model's Mo Kα axis;
its 1024-vector is compared with the input vector over the bins both cover (the part of the
axis the measured data reach and the grid resolves), by cosine similarity and by Rwp with a
least-squares scale. Candidates are ranked by cosine, best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_index, pattern_to_vector
from pymatgen_crystalnet.physics.agreement import cosine_similarity, rwp
from pymatgen_crystalnet.physics.forward import pattern_from_density, resolved_two_theta_max
from pymatgen_crystalnet.physics.units import MO_KA

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern
    from pymatgen.core import Lattice

__all__ = ["Verification", "agreement_key", "rank_by_agreement", "verify_density"]


@dataclass(frozen=True)
class Verification:
    """Agreement of one density's computed pattern with the input.

    Attributes
    ----------
    cosine
        Cosine similarity of the two 1024-vectors over the compared bins (1 = identical).
    rwp
        Weighted-profile R of the vectors (unit weights, least-squares scale), 0 = identical.
    pattern
        The density's stick pattern on the Mo Kα axis (pymatgen ``DiffractionPattern``).
    vector
        Its 1024-vector.
    compared_bins
        How many bins of the axis were compared.
    """

    cosine: float
    rwp: float
    pattern: DiffractionPattern
    vector: NDArray[np.float32]
    compared_bins: int


def verify_density(
    grid: ArrayLike,
    lattice: Lattice | ArrayLike,
    target_vector: ArrayLike,
    covered: ArrayLike | None = None,
) -> Verification:
    """Compute a density's pattern and its agreement with ``target_vector`` (Mo Kα axis)."""
    target = np.asarray(target_vector, dtype=float)
    if target.shape != (N_BINS,):
        raise ValueError(f"The target must be a {N_BINS}-bin vector, got shape {target.shape}.")
    mask = np.ones(N_BINS, bool) if covered is None else np.asarray(covered, dtype=bool)
    hi = resolved_two_theta_max(lattice, np.shape(grid), MO_KA)
    mask = mask & (np.arange(N_BINS) <= bin_index(hi))
    pattern = pattern_from_density(grid, lattice, wavelength=MO_KA)
    vector = pattern_to_vector(pattern) if len(pattern.x) else np.zeros(N_BINS, dtype=np.float32)
    a, b = target * mask, vector * mask
    cos = float(cosine_similarity(a, b)) if np.any(a) and np.any(b) else 0.0
    r = float(rwp(a, b)) if np.any(a) and np.any(b) else 1.0
    return Verification(cosine=cos, rwp=r, pattern=pattern, vector=vector, compared_bins=int(mask.sum()))


def agreement_key(cosine: float, rwp: float) -> tuple[float, float]:
    """Sort key of a candidate: highest pattern cosine first, then lowest Rwp.

    The one ranking rule of the package: the solver, the evaluation's ``selected`` method and
    the workflows' ranking job all sort with it.
    """
    return (-float(cosine), float(rwp))


def rank_by_agreement(verifications: list[Verification]) -> list[int]:
    """Indices of ``verifications`` from the best agreement (highest cosine) to the worst."""
    keys = [agreement_key(v.cosine, v.rwp) for v in verifications]
    return sorted(range(len(verifications)), key=keys.__getitem__)

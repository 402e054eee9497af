"""Elements onto density peaks: by peak height and basin electrons against the form factors.

The expected height of an atom's peak is its IAM density at the centre, from the
Waasmaier–Kirfel coefficients with the density's Debye–Waller factor B::

    ρ(0) = Σᵢ aᵢ (4π / (bᵢ + B))^{3/2} + c (4π / B)^{3/2}

(neighbours add a little; a predicted density may be scaled or blurred). An assignment gives each
chosen peak an element, the counts fixed by the composition and Z. Peaks of (nearly) equal
height, usually one crystallographic orbit, are kept together: an assignment maps these height
clusters to elements. Its cost is the scatter of ``ln(observed / expected)`` over the peaks after
one common scale is removed, for the heights and for the basin electrons (against Z), summed.
The cheapest assignments come first; the sorted one (heaviest element on the highest peaks) is
always among the candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.physics.form_factors import wk_coefficients
from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR

__all__ = ["Assignment", "assign_elements", "expected_peak_height", "height_clusters"]

logger = logging.getLogger(__name__)


def expected_peak_height(z: int, b_factor: float = DEFAULT_B_FACTOR) -> float:
    """IAM density (e/Å³) at the centre of an isolated atom of atomic number ``z``."""
    a, b, c = wk_coefficients(int(z))
    return float(np.sum(a * (4 * np.pi / (b + b_factor)) ** 1.5) + c * (4 * np.pi / b_factor) ** 1.5)


def height_clusters(heights: NDArray[np.float64], rel_gap: float = 0.03) -> list[NDArray[np.int64]]:
    """Indices of runs of (descending) heights that differ by less than ``rel_gap`` in turn."""
    order = np.argsort(-heights, kind="stable")
    clusters: list[list[int]] = []
    for i in order:
        if clusters and heights[clusters[-1][-1]] - heights[i] <= rel_gap * heights[clusters[-1][-1]]:
            clusters[-1].append(int(i))
        else:
            clusters.append([int(i)])
    return [np.array(c, dtype=np.int64) for c in clusters]


@dataclass(frozen=True)
class Assignment:
    """Atomic numbers of the chosen peaks and the cost of that choice (lower is better)."""

    numbers: NDArray[np.int64]
    cost: float


def _scatter(observed: NDArray[np.float64], expected: NDArray[np.float64]) -> float:
    r = np.log(np.maximum(observed, 1e-6)) - np.log(expected)
    return float(np.sum((r - r.mean()) ** 2))


def assign_elements(
    heights: NDArray[np.float64],
    electrons: NDArray[np.float64],
    counts: dict[int, int],
    *,
    b_factor: float = DEFAULT_B_FACTOR,
    n_best: int = 3,
    max_leaves: int = 4000,
    rel_gap: float = 0.03,
) -> list[Assignment]:
    """The cheapest ways to put the composition's atoms on the given peaks.

    Parameters
    ----------
    heights, electrons
        (N,) peak heights and basin electrons of the N chosen peaks.
    counts
        Atoms of each element (atomic number → count); the counts sum to N.
    n_best
        How many assignments to return.
    max_leaves
        Stop enumerating after this many complete assignments (many small clusters).

    Returns
    -------
    list of Assignment
        Cheapest first; empty if the clusters cannot be filled with these counts.
    """
    n = int(heights.size)
    if sum(counts.values()) != n:
        raise ValueError(f"{sum(counts.values())} atoms for {n} peaks.")
    elements = sorted(counts, key=lambda z: -expected_peak_height(z, b_factor))
    exp_h = {z: expected_peak_height(z, b_factor) for z in elements}
    clusters = height_clusters(heights, rel_gap)
    results: list[Assignment] = []
    leaves = 0
    remaining = dict(counts)
    chosen = np.zeros(n, dtype=np.int64)

    def score() -> float:
        eh = np.array([exp_h[int(z)] for z in chosen])
        cost = _scatter(heights, eh)
        if np.all(electrons > 0):
            cost += _scatter(electrons, chosen.astype(float))
        return cost

    def visit(k: int) -> None:
        nonlocal leaves
        if leaves >= max_leaves:
            return
        if k == len(clusters):
            leaves += 1
            results.append(Assignment(chosen.copy(), score()))
            return
        size = clusters[k].size
        # the element the sorted assignment would use here first, then the others
        first = next((z for z in elements if remaining[z] > 0), elements[0])
        for z in [first] + [e for e in elements if e != first]:
            if remaining[z] >= size:
                remaining[z] -= size
                chosen[clusters[k]] = z
                visit(k + 1)
                remaining[z] += size

    visit(0)
    if not results:
        # no cluster-preserving fill: fall back to the plain sorted assignment (splits a cluster)
        order = np.argsort(-heights, kind="stable")
        seq = np.concatenate([[z] * counts[z] for z in elements]).astype(np.int64)
        chosen[order] = seq
        results.append(Assignment(chosen.copy(), score()))
    results.sort(key=lambda a: a.cost)
    unique: list[Assignment] = []
    for a in results:
        if not any(np.array_equal(a.numbers, u.numbers) for u in unique):
            unique.append(a)
        if len(unique) >= n_best:
            break
    return unique

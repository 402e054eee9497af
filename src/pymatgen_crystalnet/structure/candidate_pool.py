"""One pool of structure candidates from every source, with duplicates merged.

A :class:`StructureCandidate` is an atomic model (pymatgen ``Structure``) with its space group,
where it came from (``source``: ``"network-decode"``, ``"true-density-decode"``, ``"search"``,
…), a free-form ``provenance`` dict (density sample, Z, symmetry tolerance, which alternative,
random seed, …) and its figures of merit. A candidate that could not be built keeps
``structure=None`` and says why in ``reason``.

:class:`CandidatePool` merges candidates that pymatgen's ``StructureMatcher`` (the MP-20
convention ``ltol=0.3, stol=0.5, angle_tol=10``) calls the same crystal: the better one (by the
pool's ranking key) is kept and the other's provenance is recorded in ``merged_from``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = [
    "CandidatePool",
    "StructureCandidate",
    "default_matcher",
    "min_distance_violation",
]

logger = logging.getLogger(__name__)

#: Fallback radius (Å) for elements pymatgen's covalent-radius table lacks.
_FALLBACK_RADIUS = 1.5
#: Two atoms may not come closer than this fraction of the sum of their covalent radii …
MIN_DISTANCE_FACTOR: float = 0.5
#: … nor closer than this absolute distance (Å), whatever the radii.
MIN_DISTANCE_ABS: float = 0.6


@dataclass
class StructureCandidate:
    """An atomic model (or the reason there is none), its origin and its figures of merit.

    Attributes
    ----------
    structure
        The model, or ``None`` when it could not be built.
    space_group
        Hermann–Mauguin symbol of its symmetry (``None`` when unknown).
    space_group_number
        International number (``None`` when unknown).
    source
        Where it came from: ``"network-decode"``, ``"true-density-decode"``, ``"search"``, …
    provenance
        What produced it (density sample, Z, symmetry tolerance, alternative, seed, …).
    figures_of_merit
        Agreement with the input (``"cosine"``, ``"rwp"``, …); larger cosine is better.
    reason
        Why there is no structure (``None`` for a valid candidate).
    merged_from
        Provenance of duplicates merged into this candidate by the pool.
    rwp, r_bragg, cosine, b_factor
        Stick figures of merit against the pattern and the isotropic B (Å²): after refinement
        when ``refinement`` is set, else of the unrefined model at the pipeline's B.
    refinement
        Summary of the refinement (:meth:`refinement_summary`), ``None`` when not refined.
    """

    structure: Structure | None
    space_group: str | None = None
    space_group_number: int | None = None
    source: str = "unknown"
    provenance: dict[str, Any] = field(default_factory=dict)
    figures_of_merit: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    merged_from: list[dict[str, Any]] = field(default_factory=list)
    rwp: float | None = None
    r_bragg: float | None = None
    cosine: float | None = None
    b_factor: float | None = None
    refinement: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the candidate holds a structure."""
        return self.structure is not None and self.reason is None

    @property
    def refined(self) -> bool:
        """True when the structure is the outcome of a refinement against the pattern."""
        return self.refinement is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary (the structure as pymatgen's ``Structure.as_dict()``)."""
        return {
            "structure": None if self.structure is None else self.structure.as_dict(),
            "formula": None if self.structure is None else self.structure.composition.reduced_formula,
            "space_group": self.space_group,
            "space_group_number": self.space_group_number,
            "source": self.source,
            "provenance": _jsonable(self.provenance),
            "figures_of_merit": {k: float(v) for k, v in self.figures_of_merit.items()},
            "rwp": self.rwp,
            "r_bragg": self.r_bragg,
            "cosine": self.cosine,
            "b_factor": self.b_factor,
            "refinement": _jsonable(self.refinement),
            "reason": self.reason,
            "merged_from": _jsonable(self.merged_from),
        }

    @classmethod
    def failure(cls, reason: str, source: str = "unknown", **provenance: Any) -> StructureCandidate:
        """A candidate without a structure, carrying why."""
        return cls(structure=None, source=source, provenance=dict(provenance), reason=reason)


def _jsonable(value: Any) -> Any:
    """Plain Python (dict/list/str/float/int/bool/None) of nested provenance values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _radius(symbol: str) -> float:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    return float(CovalentRadius.radius.get(symbol, _FALLBACK_RADIUS))


def min_distance_violation(
    structure: Structure, factor: float = MIN_DISTANCE_FACTOR, absolute: float = MIN_DISTANCE_ABS
) -> str | None:
    """Why a structure has atoms too close together, or ``None`` when it has none.

    Two atoms are too close when nearer than ``max(absolute, factor · (r_i + r_j))`` with
    covalent radii ``r`` (half the sum is far below any bond length in an ordered crystal, so
    only overlapping atoms are refused).
    """
    if len(structure) < 1:
        return "the model has no atoms"
    symbols = [site.specie.symbol for site in structure]
    radii = np.array([_radius(s) for s in symbols])
    reach = max(absolute, factor * 2 * radii.max())
    centres, points, _, dist = structure.get_neighbor_list(reach)
    if len(dist) == 0:
        return None
    limit = np.maximum(absolute, factor * (radii[centres] + radii[points]))
    bad = np.nonzero(dist < limit)[0]
    if bad.size == 0:
        return None
    k = bad[np.argmin(dist[bad] / limit[bad])]
    i, j = int(centres[k]), int(points[k])
    return f"atoms {symbols[i]}{i} and {symbols[j]}{j} are {dist[k]:.2f} Å apart (minimum {limit[k]:.2f} Å)"


def default_matcher():
    """Pymatgen ``StructureMatcher`` with the MP-20 tolerances (ltol 0.3, stol 0.5, 10°)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)


def _default_key(candidate: StructureCandidate) -> tuple[float, float]:
    """Best first: highest cosine, then highest space-group number (more symmetric)."""
    cos = candidate.figures_of_merit.get("cosine", -np.inf)
    return (-float(cos), -float(candidate.space_group_number or 0))


class CandidatePool:
    """Candidates from every source; duplicates (``StructureMatcher``) merged into the best.

    Parameters
    ----------
    key
        Ranking key, smaller is better (default: highest cosine first, then higher
        space-group number).
    matcher
        A pymatgen ``StructureMatcher`` (default: :func:`default_matcher`).
    """

    def __init__(
        self,
        key: Callable[[StructureCandidate], Any] | None = None,
        matcher: Any = None,
    ) -> None:
        self._key = key or _default_key
        self._matcher = matcher or default_matcher()
        self._items: list[StructureCandidate] = []
        self.failures: list[StructureCandidate] = []

    def add(self, candidate: StructureCandidate) -> bool:
        """Add one candidate; returns True if it was new (not merged into a duplicate)."""
        if not candidate.ok:
            self.failures.append(candidate)
            return False
        assert candidate.structure is not None
        formula = candidate.structure.composition.reduced_formula
        for i, other in enumerate(self._items):
            assert other.structure is not None
            if other.structure.composition.reduced_formula != formula:
                continue
            if not self._matcher.fit(other.structure, candidate.structure):
                continue
            keep, drop = (candidate, other) if self._key(candidate) < self._key(other) else (other, candidate)
            keep.merged_from.append({"source": drop.source, **drop.provenance})
            keep.merged_from.extend(drop.merged_from)
            self._items[i] = keep
            return False
        self._items.append(candidate)
        return True

    def extend(self, candidates: Iterable[StructureCandidate]) -> int:
        """Add many; returns how many were new."""
        return sum(self.add(c) for c in candidates)

    def ranked(self) -> list[StructureCandidate]:
        """The distinct candidates, best first."""
        return sorted(self._items, key=self._key)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[StructureCandidate]:
        return iter(self.ranked())

"""The outcome of :func:`~pymatgen_crystalnet.structure.pipeline.solve_structures`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate, _jsonable
from pymatgen_crystalnet.structure.spacegroups import SpaceGroupHypothesis

__all__ = ["StructureSolution"]


@dataclass
class StructureSolution:
    """Crystal structures solved from one pattern, best first, and how they were found.

    Attributes
    ----------
    candidates
        Distinct structures ranked by Rwp (best first); refined when the configuration says so.
    hypotheses
        The ranked space-group hypotheses (consistent ones first).
    failures
        Candidates that gave no structure, each with its ``reason``.
    reason
        Why no structure came out (``None`` when there is at least one).
    timings
        Seconds per stage (``decode``, ``hypotheses``, ``search``, ``pool``, ``refine``, ``total``).
    skipped
        What the time budget (or a missing input) cut short.
    notes
        Caveats met on the way (e.g. reflections that do not index on the cell).
    searched
        Space-group numbers the search was run in.
    profile_fit
        For a measured profile: the Pawley fit's figures (Rwp, peak parameters, refined cell,
        emission lines; :meth:`~.pawley.PawleyResult.summary`), else None.
    """

    candidates: list[StructureCandidate] = field(default_factory=list)
    hypotheses: list[SpaceGroupHypothesis] = field(default_factory=list)
    failures: list[StructureCandidate] = field(default_factory=list)
    reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    searched: list[int] = field(default_factory=list)
    profile_fit: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dictionary (structures as pymatgen ``Structure.as_dict()``)."""
        return {
            "candidates": [c.as_dict() for c in self.candidates],
            "hypotheses": [_hypothesis_dict(h) for h in self.hypotheses],
            "failures": [c.as_dict() for c in self.failures],
            "reason": self.reason,
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "searched": [int(n) for n in self.searched],
            "profile_fit": _jsonable(self.profile_fit),
        }


def _hypothesis_dict(h: SpaceGroupHypothesis) -> dict[str, Any]:
    return {
        "number": h.number,
        "symbol": h.symbol,
        "hall_number": h.hall_number,
        "setting": h.setting,
        "extinction_symbol": h.extinction_symbol,
        "crystal_system": h.crystal_system,
        "consistent": h.consistent,
        "evidence": _jsonable(h.evidence),
    }

"""A crystal structure solved from a pattern: :class:`SolvedStructure` (part of the solve result).

A refined crystal structure (pymatgen ``Structure``), its space group, where it came from
(``origin``: ``"network"`` when it was decoded from a network density, ``"search"`` for the
symmetry-constrained random search) and its figures of merit against the input pattern
(``rwp``, ``r_bragg``, ``cosine``). ``MSONable``: ``as_dict``/``from_dict`` round-trip.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from monty.json import MSONable, jsanitize
from numpy.typing import NDArray

from pymatgen_crystalnet.solver.result_codec import pack_array, unpack_array

if TYPE_CHECKING:
    from pymatgen.core import Structure

__all__ = ["CIF_SYMPREC", "SolvedStructure", "msonable_header", "structure_summary"]

logger = logging.getLogger(__name__)

#: Symmetry tolerance (Å) of the symmetrised CIFs (pymatgen ``CifWriter(symprec=...)``).
CIF_SYMPREC: float = 0.1


def msonable_header(obj: Any) -> dict[str, str]:
    """The ``@module``/``@class`` keys monty's decoder needs to rebuild ``obj``."""
    return {"@module": type(obj).__module__, "@class": type(obj).__name__}


@dataclass(eq=False)
class SolvedStructure(MSONable):
    """A crystal structure refined against the input pattern.

    Attributes
    ----------
    structure
        The refined (symmetrised) model.
    space_group, space_group_number
        Its space group (Hermann–Mauguin symbol, international number); None when unknown.
    origin
        ``"network"`` (decoded from a network density) or ``"search"`` (symmetry-constrained
        random search); another source name when the pipeline reports one.
    sample
        The latent sample of the density it was decoded from (None for a search model).
    figures_of_merit
        ``"rwp"``, ``"r_bragg"`` and ``"cosine"`` against the input (lower R, higher cosine
        is better), when computed. After a Rietveld refinement against a measured profile
        ``"rwp"`` and ``"r_bragg"`` are the profile's (also ``"profile_rwp"``, with
        ``"profile_rexp"``), and ``"stick_rwp"``, ``"stick_r_bragg"`` those of the stick fit
        to the Pawley-extracted intensities.
    rank
        0 for the best (lowest Rwp) structure of the solve.
    refined
        Whether the model was refined against the pattern (False with ``refine=False``).
    merged_samples
        Other network samples whose decoded models were the same crystal (merged into this one).
    provenance
        What produced it (Z, symmetry tolerance, seed, …; JSON-able).
    fit
        The refined fit: ``"two_theta"``, ``"observed"`` and ``"calculated"`` arrays of the
        matched reflections (empty when not refined).
    """

    structure: Structure
    space_group: str | None = None
    space_group_number: int | None = None
    origin: str = "search"
    sample: int | None = None
    figures_of_merit: dict[str, float] = field(default_factory=dict)
    rank: int = 0
    refined: bool = True
    merged_samples: list[int] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def rwp(self) -> float | None:
        """Weighted-profile R against the input (None when not computed)."""
        return self.figures_of_merit.get("rwp")

    @property
    def r_bragg(self) -> float | None:
        """Bragg R (stick equivalent for a stick pattern; None when not computed)."""
        return self.figures_of_merit.get("r_bragg")

    @property
    def cosine(self) -> float | None:
        """Cosine of the computed pattern against the input (None when not computed)."""
        return self.figures_of_merit.get("cosine")

    @property
    def samples(self) -> list[int]:
        """Every network sample that led to this structure (its own and the merged ones)."""
        own = [] if self.sample is None else [self.sample]
        return sorted(set(own) | set(self.merged_samples))

    def cif(self, symprec: float | None = CIF_SYMPREC) -> str:
        """The structure as CIF text, symmetrised with ``symprec`` (P1 when symmetry fails)."""
        from pymatgen.io.cif import CifWriter

        if symprec:
            try:
                return str(CifWriter(self.structure, symprec=symprec))
            except (ValueError, TypeError) as exc:  # spglib found no symmetry at that tolerance
                logger.warning("CIF written in P1: symmetry at symprec=%s failed (%s)", symprec, exc)
        return str(CifWriter(self.structure))

    def describe(self) -> str:
        """One line: formula, space group, origin and figures of merit."""
        foms = ", ".join(f"{k} {v:.4f}" for k, v in self.figures_of_merit.items() if v is not None)
        where = f"network sample {self.sample}" if self.sample is not None else self.origin
        others = [k for k in self.merged_samples if k != self.sample]
        if others:
            where += f"; also from sample{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}"
        sg = self.space_group or "?"
        return f"{self.structure.composition.reduced_formula} {sg} ({where}){', ' + foms if foms else ''}"

    def __repr__(self) -> str:
        return f"SolvedStructure(#{self.rank + 1} {self.describe()})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict (the structure as pymatgen's ``Structure.as_dict()``)."""
        out = msonable_header(self)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "structure":
                out[f.name] = value.as_dict()
            elif f.name == "fit":
                out[f.name] = {k: pack_array(v, "float64") for k, v in value.items()}
            else:
                out[f.name] = jsanitize(value, strict=True)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SolvedStructure:
        """Inverse of :meth:`as_dict`."""
        from pymatgen.core import Structure

        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        kwargs["structure"] = Structure.from_dict(d["structure"])
        kwargs["fit"] = {k: unpack_array(v) for k, v in (d.get("fit") or {}).items()}
        return cls(**kwargs)



def structure_summary(s: SolvedStructure) -> dict[str, Any]:
    """The JSON summary of a structure (``summary.json``): figures of merit and the pymatgen dict."""
    return {
        "rank": s.rank,
        "formula": s.structure.composition.reduced_formula,
        "space_group": s.space_group,
        "space_group_number": s.space_group_number,
        "origin": s.origin,
        "sample": s.sample,
        "merged_samples": s.merged_samples,
        "refined": s.refined,
        **{k: v for k, v in s.figures_of_merit.items()},
        "lattice_abc": list(s.structure.lattice.abc),
        "lattice_angles": list(s.structure.lattice.angles),
        "structure": s.structure.as_dict(),
    }

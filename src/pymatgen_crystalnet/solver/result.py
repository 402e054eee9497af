"""What a solve returns: ranked candidate densities, and the crystal structures refined from them.

- :class:`SolvedStructure`: a refined crystal structure (pymatgen ``Structure``), its space group,
  where it came from (``origin``: ``"network"`` when it was decoded from a network density,
  ``"search"`` for the symmetry-constrained random search) and its figures of merit against the
  input pattern (``rwp``, ``r_bragg``, ``cosine``).
- :class:`Candidate`: one network density (latent sample) on the solve's cell, its forward
  verification, and the best structure that density led to (``structure``; ``None`` with
  ``structure_reason`` when it led to none). ``Candidate.density`` is a pymatgen ``Chgcar``
  carrying that structure's atoms, which ``write_file`` writes and ``Chgcar.from_file`` reads back.
- :class:`SolveResult`: the candidates (best density agreement first), the structures of the
  whole solve (best Rwp first, search-only ones included) and the inputs.

Every class here is ``MSONable``: ``as_dict``/``from_dict`` round-trip to the same objects
(grids packed as zlib-compressed float32, base64), so monty's ``dumpfn``/``loadfn`` work.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from monty.json import MontyDecoder, MSONable, jsanitize
from numpy.typing import NDArray

from pymatgen_crystalnet.jsonsafe import finite_or_none
from pymatgen_crystalnet.physics.cells import grid_electrons
from pymatgen_crystalnet.solver.result_codec import (
    pack_array,
    unpack_array,
    verification_from_dict,
    verification_to_dict,
)
from pymatgen_crystalnet.solver.solved_structure import (
    CIF_SYMPREC,
    SolvedStructure,
    msonable_header,
    structure_summary,
)

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.common import VolumetricData

    from pymatgen_crystalnet.scoring.verification import Verification

__all__ = ["CIF_SYMPREC", "Candidate", "SolveResult", "SolvedStructure"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Candidate(MSONable):
    """One proposed density, its verification, and the structure it led to.

    Attributes
    ----------
    rank
        0 for the best density agreement.
    sample
        Which latent sample produced it.
    grid
        (n, n, n) CMED in e/Å³ at fractional points (i/n, j/n, k/n) of ``lattice``.
    lattice
        The cell the grid lives on.
    verification
        Its forward pattern and agreement with the input.
    solution
        The best refined structure this density led to (decoded from it, or a search model
        its decoded model was merged with); None when it led to none.
    structure_reason
        Why there is no structure (None when there is one, or when none was sought).
    cell
        Index of the cell it was verified on (``result.info["cells"]``; the solver proposes
        candidates on every close indexed cell).
    electrons
        The density's electron count: ``predicted`` (as the network drew it), ``source`` and
        ``expected`` (what the cell holds: fixed by a solved structure, a given Z, or the formula
        and the cell's volume; None without a formula), ``per_formula_unit`` and ``implied_z``
        (with a formula), ``scale`` (the factor applied) and ``held`` (now); see
        :mod:`pymatgen_crystalnet.solver.electrons`.
    """

    rank: int
    sample: int
    grid: NDArray[np.float32]
    lattice: Lattice
    verification: Verification
    solution: SolvedStructure | None = None
    structure_reason: str | None = None
    cell: int = 0
    electrons: dict[str, Any] | None = None

    @property
    def structure(self) -> Structure | None:
        """The refined pymatgen ``Structure`` this density led to, or None.

        Setting it (an atomic model from elsewhere) records it as the candidate's solution with
        origin ``"given"`` and no figures of merit; setting None removes the solution.
        """
        return None if self.solution is None else self.solution.structure

    @structure.setter
    def structure(self, value: Structure | None) -> None:
        if value is None:
            self.solution = None
            return
        self.solution = SolvedStructure(structure=value, origin="given", sample=None, refined=False)

    @property
    def space_group(self) -> str | None:
        """Space-group symbol of :attr:`structure` (None without one)."""
        return None if self.solution is None else self.solution.space_group

    @property
    def origin(self) -> str | None:
        """Where :attr:`structure` came from: ``"network"`` or ``"search"`` (None without one)."""
        return None if self.solution is None else self.solution.origin

    @property
    def figures_of_merit(self) -> dict[str, float]:
        """Rwp, R_Bragg and cosine of :attr:`structure` (empty without one)."""
        return {} if self.solution is None else dict(self.solution.figures_of_merit)

    @property
    def density(self) -> VolumetricData:
        """The density as a pymatgen ``Chgcar`` (data = ρ × V) carrying the candidate's atoms.

        The atoms are those of :attr:`structure` folded into the density's cell. pymatgen's
        ``Chgcar`` (and the POSCAR inside it) needs at least one site, so a candidate without
        atoms gets a site-less ``VolumetricData`` instead (no placeholder atom): it has the same
        ``data`` and writes with ``to_cube`` (read back with ``VolumetricData.from_cube``).
        """
        from pymatgen_crystalnet.physics.cells import grid_to_chgcar, grid_to_volumetric

        atoms = self.atoms()
        if atoms is None:
            return grid_to_volumetric(self.grid, self.lattice)
        return grid_to_chgcar(self.grid, atoms)

    def atoms(self) -> Structure | None:
        """The atoms of :attr:`structure` in the density's cell, or None."""
        from pymatgen_crystalnet.structure.transfer import on_lattice

        if self.structure is None:
            return None
        try:
            return on_lattice(self.structure, self.lattice)
        except ValueError as exc:
            logger.warning("Candidate %d: its structure does not fit its cell: %s", self.rank + 1, exc)
            return None

    @property
    def agreement(self) -> dict[str, float]:
        """Agreement of the candidate density's computed pattern with the input."""
        return {"cosine": self.verification.cosine, "rwp": self.verification.rwp}

    @property
    def pattern(self) -> DiffractionPattern:
        """The candidate density's computed stick pattern (Mo Kα)."""
        return self.verification.pattern

    def describe(self) -> str:
        """One line: rank, sample, density agreement and the structure (or why none)."""
        head = (
            f"#{self.rank + 1} sample {self.sample}: density cosine {self.verification.cosine:.4f}, "
            f"Rwp {self.verification.rwp:.3f}"
        )
        if self.solution is not None:
            return f"{head}; structure {self.solution.describe()}"
        return f"{head}; no structure ({self.structure_reason})" if self.structure_reason else head

    def __repr__(self) -> str:
        return f"Candidate({self.describe()})"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict; the grid packed as zlib-compressed float32 (base64)."""
        return {
            **msonable_header(self),
            "rank": int(self.rank),
            "sample": int(self.sample),
            "grid": pack_array(self.grid, "float32"),
            "lattice": self.lattice.as_dict(),
            "verification": verification_to_dict(self.verification),
            "solution": None if self.solution is None else self.solution.as_dict(),
            "structure_reason": self.structure_reason,
            "cell": int(self.cell),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """Inverse of :meth:`as_dict`."""
        from pymatgen.core import Lattice

        solution = d.get("solution")
        return cls(
            rank=int(d["rank"]),
            sample=int(d["sample"]),
            grid=unpack_array(d["grid"]).astype(np.float32, copy=False),
            lattice=Lattice.from_dict(d["lattice"]),
            verification=verification_from_dict(d["verification"]),
            solution=None if solution is None else SolvedStructure.from_dict(solution),
            structure_reason=d.get("structure_reason"),
            cell=int(d.get("cell", 0)),
        )


@dataclass(eq=False)
class SolveResult(Sequence, MSONable):
    """Candidates ranked best first, the structures of the solve, and the inputs.

    Indexing and iterating give the candidates (network densities, best agreement first);
    :attr:`structures` holds the refined crystal structures of the whole solve, best Rwp first
    (search models included); ``structure_info`` says how they were found (space-group
    hypotheses, timings, failures, or why there is none). ``solved`` is False when no
    candidate's pattern agrees with the input above the threshold; ``reason`` then says so
    ("no solution found: …").
    """

    candidates: list[Candidate]
    lattice: Lattice
    lattice_source: str
    composition_mode: str
    input_vector: NDArray[np.float32]
    covered: NDArray[np.bool_]
    info: dict[str, Any] = field(default_factory=dict)
    structures: list[SolvedStructure] = field(default_factory=list)
    structure_info: dict[str, Any] = field(default_factory=dict)
    solved: bool = True
    reason: str | None = None

    def __getitem__(self, i):  # type: ignore[override]
        return self.candidates[i]

    def __len__(self) -> int:
        return len(self.candidates)

    @property
    def best_structure(self) -> SolvedStructure | None:
        """The best refined structure of the solve (lowest Rwp), or None."""
        return self.structures[0] if self.structures else None

    def __repr__(self) -> str:
        abc = ", ".join(f"{v:.4f}" for v in self.lattice.abc)
        lines = [
            f"SolveResult({len(self.candidates)} candidates on a {self.lattice_source} lattice "
            f"(a, b, c = {abc} Å), {len(self.structures)} structures)"
        ]
        if not self.solved:
            lines.append(f"  {self.reason}")
        lines += [f"  {c.describe()}" for c in self.candidates]
        lines += [f"  structure #{s.rank + 1}: {s.describe()}" for s in self.structures]
        if not self.structures and self.structure_info.get("reason"):
            lines.append(f"  no structure: {self.structure_info['reason']}")
        return "\n".join(lines)

    __str__ = __repr__

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary (structures as pymatgen dicts, with their figures of merit)."""
        return finite_or_none(jsanitize(
            {
                "lattice": self.lattice.matrix.tolist(),
                "lattice_abc": list(self.lattice.abc),
                "lattice_angles": list(self.lattice.angles),
                "lattice_source": self.lattice_source,
                "solved": self.solved,
                "reason": self.reason,
                "composition_mode": self.composition_mode,
                **self.info,
                "candidates": [_candidate_summary(c, self.lattice.volume) for c in self.candidates],
                "structures": [structure_summary(s) for s in self.structures],
                "structure_info": self.structure_info,
            },
            strict=True,
        ))

    # ------------------------------------------------------------------ serialisation

    def as_dict(self) -> dict[str, Any]:
        """JSON-able dict that :meth:`from_dict` turns back into the same objects."""
        out = msonable_header(self)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("candidates", "structures"):
                out[f.name] = [item.as_dict() for item in value]
            elif f.name == "lattice":
                out[f.name] = value.as_dict()
            elif isinstance(value, np.ndarray):
                out[f.name] = pack_array(value)
            else:
                out[f.name] = jsanitize(value, strict=True)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SolveResult:
        """Inverse of :meth:`as_dict` (keys this version does not know are ignored)."""
        from pymatgen.core import Lattice

        decoder = MontyDecoder()
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            if f.name == "candidates":
                kwargs[f.name] = [Candidate.from_dict(c) for c in value]
            elif f.name == "structures":
                kwargs[f.name] = [SolvedStructure.from_dict(s) for s in value]
            elif f.name == "lattice":
                kwargs[f.name] = Lattice.from_dict(value)
            elif isinstance(value, dict) and "zlib_b64" in value:
                kwargs[f.name] = unpack_array(value)
            else:
                kwargs[f.name] = decoder.process_decoded(value)
        return cls(**kwargs)


def _candidate_summary(c: Candidate, volume: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rank": c.rank,
        "sample": c.sample,
        "cell": c.cell,
        **c.agreement,
        "density_max": float(c.grid.max()),
        "electrons": grid_electrons(c.grid, c.lattice.volume),
    }
    if c.electrons is not None:
        out["electron_count"] = c.electrons
    if c.solution is not None:
        out["structure_rank"] = c.solution.rank
        out["structure"] = {k: v for k, v in structure_summary(c.solution).items() if k != "structure"}
    if c.structure_reason:
        out["structure_reason"] = c.structure_reason
    return out

"""The cell a solve works on: a user's lattice or an indexed one, in the model's canonical setting.

The model was trained on densities in one setting of the cell (its metadata ``cell``: the
primitive standard setting by default, as :func:`~pymatgen_crystalnet.physics.cells.canonical_cell`
gives it). Whatever cell comes in — a user's lattice in a conventional setting (what a CIF or
``Structure.lattice`` gives), or a conventional cell found by indexing — is brought into that
setting here:

1. The centring of the incoming cell is read from the pattern: the most restrictive lattice
   centring (P, C, A, B, I, F; R for a hexagonal cell) under which every line indexed by the
   cell still has an allowed reflection (for an indexed cell the indexer already did this).
2. A dummy structure with one atom on every lattice point of that centred lattice is reduced
   to the canonical setting by spglib, which also names the lattice system.
3. The integer matrix ``T`` with ``incoming = T · canonical`` (rows are lattice vectors, up to
   a rotation) is recorded, so results can be expressed on the user's cell:
   fractional coordinates transform as ``f_canonical = f_incoming · T``
   (:func:`grid_on_cell`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.indexing.evaluate import CENTRING_VECTORS
from pymatgen_crystalnet.physics.cells import canonical_cell

if TYPE_CHECKING:
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.solver.inputs import PreparedPattern

__all__ = [
    "CENTRING_VECTORS",
    "LatticeInputError",
    "SolveCell",
    "canonical_setting",
    "given_cell",
    "grid_on_cell",
    "indexed_cell",
    "parse_lattice",
]

logger = logging.getLogger(__name__)

#: Shortest and longest cell edge (Å) accepted from a user.
MIN_EDGE, MAX_EDGE = 1.0, 200.0


class LatticeInputError(ValueError):
    """A lattice that cannot be used (left-handed, degenerate, malformed); the message says why."""


@dataclass
class SolveCell:
    """A cell to solve on and where it came from.

    Attributes
    ----------
    lattice
        The cell in the model's canonical setting: the density grid lives on it.
    source
        ``"given"`` (the user's lattice) or ``"indexed"``.
    crystal_system
        Lattice system of the cell (its metric symmetry): ``cubic``, ``tetragonal``,
        ``hexagonal``, ``trigonal`` (rhombohedral lattice), ``orthorhombic``, ``monoclinic``,
        ``triclinic``.
    centring
        Centring of ``incoming`` read from the pattern's reflections.
    incoming
        The cell as it came in: the user's lattice, or the indexed conventional cell.
    transformation
        Integer (3, 3) ``T`` with ``incoming = T · lattice`` (rows are lattice vectors, up to
        a rotation); ``|det T|`` lattice points of the canonical cell per incoming cell.
    merit
        Figures of merit against the pattern: ``m20``, ``f_n``, ``n_lines``,
        ``n_indexed``, ``zero_shift``, and for an indexed cell its ranking ``score``.
    notes
        Warnings a user should see.
    """

    lattice: Lattice
    source: str
    crystal_system: str
    centring: str
    incoming: Lattice
    transformation: NDArray[np.int64]
    merit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly record: which cell, from where, its figures of merit."""
        return {
            "source": self.source,
            "crystal_system": self.crystal_system,
            "centring": self.centring,
            "lattice_abc": [float(v) for v in self.lattice.abc],
            "lattice_angles": [float(v) for v in self.lattice.angles],
            "incoming_lattice": self.incoming.matrix.tolist(),
            "incoming_abc": [float(v) for v in self.incoming.abc],
            "incoming_angles": [float(v) for v in self.incoming.angles],
            "transformation": self.transformation.tolist(),
            **{k: v for k, v in self.merit.items()},
            "notes": list(self.notes),
        }


def parse_lattice(lattice: Any) -> Lattice:
    """A checked pymatgen ``Lattice`` from a ``Lattice``, a (3, 3) matrix, six parameters or a cubic ``a``.

    Raises
    ------
    LatticeInputError
        For a malformed, non-finite, degenerate or left-handed lattice, or edges outside
        ``MIN_EDGE``–``MAX_EDGE`` Å.
    """
    from pymatgen.core import Lattice

    if isinstance(lattice, Lattice):
        mat = np.asarray(lattice.matrix, dtype=float)
    else:
        try:
            arr = np.asarray(lattice, dtype=float)
        except (TypeError, ValueError):
            raise LatticeInputError(
                "lattice must be a pymatgen Lattice, a (3, 3) matrix, six parameters or a cubic a (Å)."
            ) from None
        if arr.ndim == 0:
            mat = np.eye(3) * float(arr)
        elif arr.shape == (6,):
            if not np.all(np.isfinite(arr)):
                raise LatticeInputError(f"Lattice parameters {arr.tolist()} are not all finite.")
            a, b, c, al, be, ga = arr
            if not (0 < al < 180 and 0 < be < 180 and 0 < ga < 180 and al + be + ga < 360
                    and al < be + ga and be < al + ga and ga < al + be):  # fmt: skip
                raise LatticeInputError(f"Lattice angles {al}, {be}, {ga}° do not form a cell.")
            mat = Lattice.from_parameters(a, b, c, al, be, ga).matrix
        elif arr.shape == (3, 3):
            mat = arr
        else:
            raise LatticeInputError(
                "lattice must be a pymatgen Lattice, a (3, 3) matrix, six parameters or a cubic a (Å); "
                f"got shape {arr.shape}."
            )
    if not np.all(np.isfinite(mat)):
        raise LatticeInputError("The lattice holds NaN or infinite values.")
    det = float(np.linalg.det(mat))
    lengths = np.linalg.norm(mat, axis=1)
    if abs(det) < 1e-6 * max(float(np.prod(lengths)), 1e-300):
        raise LatticeInputError("The lattice vectors are (nearly) coplanar: the cell has no volume.")
    if det < 0:
        raise LatticeInputError(
            "The lattice is left-handed (det < 0): a, b, c must form a right-handed set. Swap two "
            "vectors or negate one to describe the same lattice right-handedly."
        )
    if lengths.min() < MIN_EDGE or lengths.max() > MAX_EDGE:
        raise LatticeInputError(
            f"Lattice edges {np.round(lengths, 4).tolist()} Å lie outside {MIN_EDGE}–{MAX_EDGE} Å; "
            "lengths are in Å."
        )
    return Lattice(mat)


def canonical_setting(
    incoming: Lattice, centring: str, cell: str = "primitive"
) -> tuple[Lattice, NDArray[np.int64], str]:
    """The canonical cell of the lattice ``incoming`` with ``centring``.

    Returns
    -------
    lattice, transformation, crystal_system
        The cell in the canonical setting (``cell``: ``"primitive"`` or ``"conventional"``),
        the integer ``T`` with ``incoming = T · lattice`` (up to a rotation) and the lattice
        system spglib finds.
    """
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    points = [(0.0, 0.0, 0.0), *CENTRING_VECTORS[centring]]
    dummy = Structure(incoming, ["H"] * len(points), points)
    system = SpacegroupAnalyzer(dummy, symprec=1e-3 * min(incoming.abc)).get_crystal_system()
    try:
        canonical = canonical_cell(dummy, cell, symprec=1e-3 * min(incoming.abc), angle_tolerance=0.5).lattice
    except ValueError:
        canonical = dummy.get_primitive_structure().lattice.get_niggli_reduced_lattice()
    mapping = canonical.find_mapping(incoming, ltol=1e-3, atol=0.1)
    if mapping is None:  # spglib idealised the metric more than the tolerance: match loosely
        mapping = canonical.find_mapping(incoming, ltol=0.02, atol=1.0)
    if mapping is None:
        raise LatticeInputError(f"Could not relate the cell {incoming.abc} to its canonical setting.")
    transformation = np.rint(mapping[2]).astype(np.int64)
    return canonical, transformation, str(system)


def grid_on_cell(
    grid: ArrayLike, transformation: ArrayLike, shape: tuple[int, int, int]
) -> NDArray[np.float32]:
    """Resample a density on the canonical cell onto the incoming (e.g. the user's) cell.

    Parameters
    ----------
    grid
        (n1, n2, n3) density (e/Å³) at fractional points ``i/n`` of the canonical cell.
    transformation
        ``T`` of :class:`SolveCell` (``incoming = T · canonical``).
    shape
        Grid points wanted along the incoming cell's axes.

    Returns
    -------
    numpy.ndarray
        The density at fractional points of the incoming cell (periodic trilinear interpolation;
        the density per volume is unchanged, only the sampling differs).
    """
    from scipy.ndimage import map_coordinates

    g = np.asarray(grid, dtype=np.float64)
    t = np.asarray(transformation, dtype=np.float64)
    axes = [np.arange(n) / n for n in shape]
    frac = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    canon = np.mod(frac @ t, 1.0) * np.asarray(g.shape)
    out = map_coordinates(g, canon.T, order=1, mode="grid-wrap")
    return out.reshape(shape).astype(np.float32)


def given_cell(lattice: Any, prepared: PreparedPattern, cell: str = "primitive") -> SolveCell:
    """The user's lattice, its centring and merits read from ``prepared``, in the canonical setting."""
    from pymatgen_crystalnet.solver.cell_fit import fit_given_cell

    incoming = parse_lattice(lattice)
    fit = fit_given_cell(incoming, prepared)
    canonical, transformation, system = canonical_setting(incoming, fit["centring"], cell)
    notes = []
    if abs(round(float(np.linalg.det(transformation)))) > 1 or not np.allclose(transformation, np.eye(3)):
        notes.append(
            f"The given cell ({', '.join(f'{v:.4f}' for v in incoming.abc)} Å) is a "
            f"{fit['centring']}-centred "
            f"setting; solved on the model's {cell} cell ({', '.join(f'{v:.4f}' for v in canonical.abc)} Å), "
            f"transformation T = {transformation.tolist()} (given = T · solved)."
        )
    return SolveCell(
        lattice=canonical, source="given", crystal_system=system, centring=fit["centring"],
        incoming=incoming, transformation=transformation, merit=fit["merit"], notes=notes,
    )  # fmt: skip


def indexed_cell(solution: Any, cell: str = "primitive") -> SolveCell:
    """An :class:`~pymatgen_crystalnet.indexing.IndexingSolution` in the canonical setting."""
    canonical, transformation, _ = canonical_setting(solution.lattice, solution.centring, cell)
    merit = {
        "m20": float(solution.m20),
        "f_n": float(solution.f_n),
        "f_n_mean_dtt": float(solution.f_n_mean_dtt),
        "f_n_poss": int(solution.f_n_poss),
        "n_lines": int(solution.n_lines),
        "n_indexed": int(solution.n_indexed),
        "zero_shift": float(solution.zero_shift),
        "score": float(solution.score),
        "bravais": solution.bravais,
        "parameters": [float(v) for v in solution.parameters],
        "esds": [float(v) for v in solution.esds],
    }
    return SolveCell(
        lattice=canonical, source="indexed", crystal_system=str(solution.crystal_system),
        centring=solution.centring, incoming=solution.lattice, transformation=transformation,
        merit=merit, notes=list(getattr(solution, "notes", [])),
    )  # fmt: skip

"""Which cell(s) a solve runs on: the user's lattice, or the close best cells of indexing.

Rule for indexed cells: :func:`~pymatgen_crystalnet.indexing.index_pattern` ranks the cells
that index the lowest-angle ``MAX_INDEX_LINES`` lines; every cell whose ranking merit is at
least ``CLOSE_MERIT`` (80 %) of the top cell's, at most ``MAX_CELLS`` (3), is a candidate
cell. Each is put in the model's canonical setting and must pass the checks of
:mod:`~pymatgen_crystalnet.solver.cell_checks` (figures of merit, lattice system known to the
model, volume per atom); candidates are proposed on every cell that passes, and the refused
ones are listed with their reasons. When none passes, the solve is refused with the reasons.

Which cell leads (:func:`order_candidates`): the indexing order, which already weighs the
figures of merit, the lines a cell predicts but are not seen, and symmetry. A network that
reads the pattern placed on the cell's reflections reproduces the observed lines on any cell
that indexes them all (on SrTiO3's Cu Kα sticks the cubic I cell a√2 — a geometric ambiguity
of the primitive cubic cell, one more possible line — drew candidates whose patterns agree to
cosine 0.961 against 0.948 on the true cell), so pattern agreement alone must not overrule
indexing. A lower-ranked cell leads only when its best candidate agrees better by more than
:data:`CELL_MARGIN` (0.05 in cosine), i.e. when the top cell's densities plainly fail (a model
that cannot draw a density on a wrong cell leaves it at cosine ≈ 0.2).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.scoring.verification import rank_by_agreement
from pymatgen_crystalnet.solver.cell_checks import (
    CellRefused,
    check_coverage,
    check_merit,
    check_volume,
    covered_systems,
)
from pymatgen_crystalnet.solver.lattice import SolveCell, given_cell, indexed_cell

if TYPE_CHECKING:
    from pymatgen.core import Composition

    from pymatgen_crystalnet.scoring.verification import Verification
    from pymatgen_crystalnet.solver.inputs import PreparedPattern

__all__ = ["CELL_MARGIN", "CLOSE_MERIT", "MAX_CELLS", "MAX_INDEX_LINES", "choose_cells", "order_candidates"]

logger = logging.getLogger(__name__)

CLOSE_MERIT: float = 0.8
MAX_CELLS: int = 3
MAX_INDEX_LINES: int = 30
#: Pattern cosine by which a lower-ranked indexed cell's best candidate must beat the leading
#: cell's to lead instead (module docstring).
CELL_MARGIN: float = 0.05


def _checked(cell: SolveCell, composition: Composition | None, systems: tuple[str, ...] | None) -> SolveCell:
    check_merit(cell)
    check_coverage(cell, systems)
    cell.merit.update(check_volume(cell, composition))
    return cell


def choose_cells(
    prepared: PreparedPattern,
    lattice: Any,
    composition: Composition | None,
    metadata: Mapping[str, Any],
    cell: str = "primitive",
    *,
    index_seconds: float | None = None,
) -> tuple[list[SolveCell], list[dict[str, Any]]]:
    """The cells to solve on, and the refused ones (``{"cell": summary, "reason": …}``).

    Raises
    ------
    CellRefused
        When the given cell, or every close indexed cell, fails a check; or the pattern does
        not index.
    LatticeInputError
        For a malformed or left-handed lattice.
    """
    systems = covered_systems(metadata)
    if lattice is not None:
        return [_checked(given_cell(lattice, prepared, cell), composition, systems)], []
    if prepared.kind == "vector":
        raise CellRefused(
            "A 1024-bin vector holds 0.18°-wide bins, too coarse to index; pass lattice=... "
            "(or give the peaks or profile instead of the vector)."
        )
    from pymatgen_crystalnet.indexing import index_pattern

    lines = prepared.two_theta[: MAX_INDEX_LINES]
    try:
        solutions = index_pattern(
            lines,
            prepared.wavelength,
            tolerance=max(0.04, 3 * prepared.position_sigma),
            max_seconds=index_seconds,
            composition=composition if composition is not None and len(composition) else None,
        )
    except ValueError as exc:
        raise CellRefused(f"The pattern cannot be indexed: {exc} Pass lattice=... instead.") from None
    if not solutions:
        raise CellRefused(
            f"No cell indexes the {lines.size} lowest-angle lines of the pattern (cubic to triclinic "
            "searched). Pass lattice=... if the cell is known."
        )
    top = solutions[0].score
    chosen: list[SolveCell] = []
    refused: list[dict[str, Any]] = []
    for sol in solutions[:MAX_CELLS]:
        if sol.score < CLOSE_MERIT * top:
            break
        candidate = indexed_cell(sol, cell)
        try:
            chosen.append(_checked(candidate, composition, systems))
        except CellRefused as exc:
            refused.append({"cell": candidate.summary(), "reason": str(exc)})
    if not chosen:
        reasons = " | ".join(r["reason"] for r in refused)
        raise CellRefused(f"No indexed cell can be used: {reasons}")
    for c in chosen:
        logger.info("Cell for solving: %s %s, M20 = %.1f", c.crystal_system, c.incoming.abc, c.merit["m20"])
    return chosen, refused


def order_candidates(
    cells: list[int], verifications: Sequence[Verification], margin: float = CELL_MARGIN
) -> list[int]:
    """Order candidates: those of the leading cell first, each cell's by agreement.

    Parameters
    ----------
    cells
        Each candidate's cell, as its position in the indexing order (0: the top cell).
    verifications
        Each candidate's agreement with the pattern, ranked by
        :func:`~pymatgen_crystalnet.scoring.verification.rank_by_agreement` (cosine, then Rwp).
    margin
        Cosine by which another cell's best candidate must beat the leading cell's to lead.

    Returns
    -------
    list of int
        Candidate indices, best first: the leading cell's by agreement, then the rest by
        agreement.
    """
    by_agreement = rank_by_agreement(list(verifications))
    best: dict[int, float] = {}
    for j in by_agreement:
        best.setdefault(cells[j], verifications[j].cosine)
    lead = min(best)
    for cell, cosine in sorted(best.items(), key=lambda item: -item[1]):
        if cell != lead and cosine > best[lead] + margin:
            lead = cell
            break
    return [j for j in by_agreement if cells[j] == lead] + [j for j in by_agreement if cells[j] != lead]

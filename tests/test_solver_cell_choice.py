"""Cell choice without a given lattice: the pattern is indexed, close cells become candidates,
a cell outside the model's crystal systems is refused by name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator

from indexing_sticks import baddeleyite, triclinic
from lit_crystals import calcite, nacl
from pymatgen_crystalnet.solver.cell_checks import CellRefused
from pymatgen_crystalnet.solver.cell_choice import choose_cells
from pymatgen_crystalnet.solver.inputs import prepare_pattern

MODEL = {"crystal_systems": ["cubic", "trigonal"]}


def _prepared(structure):
    pattern = XRDCalculator("CuKa1").get_pattern(structure, two_theta_range=(5, 100))
    return prepare_pattern(pattern, "CuKa1")


@pytest.mark.parametrize(
    ("structure", "system", "abc"), [(nacl(), "cubic", 5.6402), (calcite(), "trigonal", 4.9896)]
)
def test_indexed_cell_of_a_covered_system_is_used_with_its_merits(structure, system, abc) -> None:
    cells, refused = choose_cells(_prepared(structure), None, None, MODEL)
    assert cells[0].source == "indexed" and cells[0].crystal_system == system
    assert cells[0].incoming.abc[0] == pytest.approx(abc, rel=1e-3)
    assert cells[0].merit["m20"] > 20 and cells[0].merit["n_indexed"] == cells[0].merit["n_lines"]
    assert all("reason" in r for r in refused)


@pytest.mark.parametrize(("structure", "system"), [(baddeleyite(), "monoclinic"), (triclinic(), "triclinic")])
def test_cell_outside_the_model_is_refused_by_name(structure, system) -> None:
    with pytest.raises(CellRefused, match=f"is {system} .*not trained on"):
        choose_cells(_prepared(structure), None, None, MODEL, index_seconds=60)


def test_order_candidates_keeps_the_indexing_lead_unless_another_cell_plainly_agrees_better():
    from pymatgen_crystalnet.solver.cell_choice import CELL_MARGIN, order_candidates

    def keys(cosines):  # the verifications, as far as the order reads them
        return [SimpleNamespace(cosine=c, rwp=1.0 - c) for c in cosines]

    # the SrTiO3 case: the second indexed cell agrees a little better (0.961 vs 0.948): the top cell leads
    cells = [0, 0, 1, 1]
    assert order_candidates(cells, keys([0.945, 0.948, 0.959, 0.961])) == [1, 0, 3, 2]
    # a top cell whose densities plainly fail (a model that cannot draw on a wrong cell): the other leads
    assert order_candidates(cells, keys([0.23, 0.19, 0.96, 0.95])) == [2, 3, 0, 1]
    # exactly at the margin the indexing order stands; one cell: agreement order alone
    assert order_candidates([0, 1], keys([0.90, 0.90 + CELL_MARGIN]))[0] == 0
    assert order_candidates([0, 0, 0], keys([0.5, 0.9, 0.7])) == [1, 2, 0]
    # a third cell that beats the leading one by more than the margin leads; the rest by agreement
    assert order_candidates([0, 1, 2], keys([0.5, 0.52, 0.8])) == [2, 1, 0]

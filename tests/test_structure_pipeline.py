"""solve_structures: densities decoded and the symmetry search pooled, refined, ranked; bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.structure.candidate_pool import default_matcher
from pymatgen_crystalnet.structure.config import StructureSolveConfig, space_group_number
from pymatgen_crystalnet.structure.pipeline import solve_structures
from pymatgen_crystalnet.structure.transfer import on_lattice

MATCHER = default_matcher()
CRYSTALS = {
    "NaCl": ("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "CsCl": ("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
}
FAST = {"n_search_trials": 10, "n_refine": 3, "time_budget_s": 120.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _truth(name: str) -> Structure:
    sg, lattice, species, coords = CRYSTALS[name]
    return canonical_cell(Structure.from_spacegroup(sg, lattice, species, coords))


def _solve(truth: Structure, densities=(), **settings):
    pattern = xrd_pattern(truth, two_theta_range=(2, 60))
    config = StructureSolveConfig(**{**FAST, **settings})
    return solve_structures(
        truth.lattice, truth.composition.reduced_formula, pattern.x, pattern.y, "MoKa",
        densities=densities, config=config,
    )


@pytest.mark.parametrize("name", list(CRYSTALS))
@pytest.mark.parametrize("with_density", [False, True])
def test_top_candidate_matches_the_truth(name, with_density):
    truth = _truth(name)
    densities = [iam_density_grid(truth, 24)] if with_density else []
    solution = _solve(truth, densities, use_network=with_density)
    assert solution.reason is None, solution.reason
    best = solution.candidates[0]
    assert MATCHER.fit(best.structure, truth)
    assert best.refined and best.rwp < 0.01 and best.cosine > 0.999
    assert best.structure.lattice == truth.lattice
    assert best.space_group_number == {"NaCl": 225, "CsCl": 221}[name]
    assert best.source in ({"network-decode", "search"} if with_density else {"search"})
    assert [c.rwp for c in solution.candidates] == sorted(c.rwp for c in solution.candidates)
    assert solution.timings["total"] > 0 and solution.hypotheses[0].consistent
    json.dumps(solution.as_dict())  # JSON-able


def test_network_only_and_no_refinement():
    truth = _truth("CsCl")
    solution = _solve(truth, [iam_density_grid(truth, 24)], use_search=False, refine=False)
    assert solution.candidates and not solution.searched
    assert all(c.source == "network-decode" and not c.refined for c in solution.candidates)
    assert MATCHER.fit(solution.candidates[0].structure, truth)
    assert solution.candidates[0].rwp < 0.05  # the unrefined model's stick Rwp at B = 1 Å²


def test_density_on_the_primitive_cell_refined_on_the_conventional_cell():
    sg, lattice, species, coords = CRYSTALS["NaCl"]
    conventional = Structure.from_spacegroup(sg, lattice, species, coords)
    prim = _truth("NaCl")
    pattern = xrd_pattern(conventional, two_theta_range=(2, 60))
    solution = solve_structures(
        conventional.lattice, "NaCl", pattern.x, pattern.y, "MoKa",
        densities=[iam_density_grid(prim, 24)], density_lattice=prim.lattice,
        config=StructureSolveConfig(use_search=False, **FAST),
    )
    best = solution.candidates[0]
    assert best.structure.lattice == conventional.lattice and len(best.structure) == 8
    assert MATCHER.fit(best.structure, conventional)


def test_on_lattice_supercell_and_fold():
    prim = _truth("NaCl")
    conv = Lattice.cubic(5.64)
    big = on_lattice(prim, conv)
    assert len(big) == 8 and MATCHER.fit(big, prim)
    back = on_lattice(big, prim.lattice)
    assert len(back) == 2 and MATCHER.fit(back, prim)
    with pytest.raises(ValueError, match="integer matrix"):
        on_lattice(prim, Lattice.cubic(4.0))


def test_given_space_group_is_the_one_searched():
    truth = _truth("CsCl")
    solution = _solve(truth, space_group="Pm-3m")
    assert solution.searched == [221] and MATCHER.fit(solution.candidates[0].structure, truth)


def _bad(**kwargs):
    truth = _truth("CsCl")
    pattern = xrd_pattern(truth, two_theta_range=(2, 60))
    args = {
        "lattice": truth.lattice, "composition": "CsCl", "two_theta": pattern.x,
        "intensities": pattern.y, "wavelength": "MoKa", "config": StructureSolveConfig(**FAST),
    }
    args.update(kwargs)
    names = ("lattice", "composition", "two_theta", "intensities", "wavelength")
    lattice, comp, tt, y, lam = (args.pop(k) for k in names)
    return solve_structures(lattice, comp, tt, y, lam, **args)


def test_bad_inputs_give_reasons_not_crashes():
    assert "no stick" in _bad(two_theta=[], intensities=[]).reason
    assert "no positive intensity" in _bad(intensities=np.zeros(7), two_theta=np.linspace(10, 40, 7)).reason
    assert "overfills" in _bad(composition="Cs20Cl20", config=StructureSolveConfig(z=20, **FAST)).reason
    assert "overfills" in _bad(lattice=Lattice.cubic(2.0)).reason
    flat = np.zeros((16, 16, 16))
    sol = _bad(densities=[flat], config=StructureSolveConfig(use_search=False, **FAST))
    assert not sol.candidates and "no peak" in sol.reason
    # a reflection at the conventional 100 of an F-centred cell: absent in every group of the cell
    prim = _truth("NaCl")
    odd = _bad(lattice=prim.lattice, composition="NaCl", two_theta=[7.224, 12.53], intensities=[100, 50])
    assert odd.skipped == ["search (no space group consistent with the reflections)"]
    assert not odd.candidates and "no cubic space group is consistent" in odd.reason


def test_rejected_refinements_become_failures(monkeypatch):
    import pymatgen_crystalnet.structure.refine as refine_module

    def refuse(structure, *args, **kwargs):
        class Rejected:
            accepted = False
            message = "Every start leaves atoms too close: sites (0, 1) at 0.300 Å (minimum 1.000 Å)."

        return Rejected()

    monkeypatch.setattr(refine_module, "refine", refuse)
    sol = _solve(_truth("CsCl"))
    assert not sol.candidates and "too close" in sol.reason
    assert any("refinement rejected" in (f.reason or "") for f in sol.failures)


def test_config_checks():
    assert space_group_number("Fm-3m") == 225 and space_group_number(12) == 12
    for bad in ({"z": 0}, {"space_group": "Xx"}, {"space_group": 231}, {"n_refine": -1},
                {"time_budget_s": 0}, {"use_network": False, "use_search": False}):
        with pytest.raises(ValueError):
            StructureSolveConfig(**bad)
    config = StructureSolveConfig(z=2, space_group="Pm-3m")
    assert StructureSolveConfig.from_dict(config.as_dict()) == config


def test_time_budget_skips_and_says_so():
    truth = _truth("NaCl")
    sol = _solve(truth, time_budget_s=1e-6)
    assert sol.skipped and "time budget" in " ".join(sol.skipped)


def test_plausible_z_from_the_expected_volume():
    from pymatgen_crystalnet.structure.formula_units import expected_volume, plausible_z

    assert plausible_z("CsCl", Lattice.cubic(4.12).volume).values[0] == 1
    assert 4 in plausible_z("NaCl", Lattice.cubic(5.64).volume).values
    assert len(plausible_z("Pu2Zn17", 400.0).values) <= 3
    from pymatgen.core import Composition

    assert 40 < expected_volume(Composition("CsCl")) < 200
    far = plausible_z("CsCl", 12.0)  # only Z=1 fits 5–80 Å³/atom, at 0.1 × the expected volume
    assert far.values and "expected volume" in far.reason


def test_refinement_slots_are_shared_between_sources():
    from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate
    from pymatgen_crystalnet.structure.pipeline import interleave_sources

    def cand(source, rwp):
        return StructureCandidate(structure=None, source=source, rwp=rwp)

    ranked = [cand("network-decode", 0.1), cand("network-decode", 0.2), cand("network-decode", 0.3),
              cand("search", 0.5), cand("search", 0.6)]
    order = interleave_sources(ranked)
    assert [c.rwp for c in order] == [0.1, 0.5, 0.2, 0.6, 0.3]


def test_a_pyxtal_draw_is_interrupted_at_the_deadline():
    import time

    from pymatgen_crystalnet.structure.search import _time_limit, _TrialTimeout

    start = time.perf_counter()
    with pytest.raises(_TrialTimeout), _time_limit(0.05):
        while True:  # a draw that never ends
            sum(range(1000))
    assert time.perf_counter() - start < 1.0
    with _time_limit(None), _time_limit(5.0):
        pass  # no limit, and a limit not reached: nothing raised

"""Seconds per pattern of the space-group hypotheses and the pyxtal search (no network).

For six crystals (NaCl, CsCl, Si, SrTiO3, corundum, calcite) on their primitive cells: the
stick pattern (Mo Kα, 2θ = 0–180°, B = 1 Å²) → ranked space-group hypotheses → the pyxtal search
in the top three consistent groups with the true Z, 40 trials each, patterns from pymatgen's
``XRDCalculator`` (``structure.search.trial_sticks``). Prints the time, the distinct trials
scored and the rank of the first candidate that ``StructureMatcher`` matches to the truth.

    PYTHONPATH=src python benchmarks/bench_structure_search.py
"""

from __future__ import annotations

import time
import warnings

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.structure.search import stick_target, symmetry_search
from pymatgen_crystalnet.structure.spacegroups import reflections_from_sticks, space_group_hypotheses

CRYSTALS = {
    "NaCl": ("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "CsCl": ("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "Si": ("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]),
    "SrTiO3": ("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]),
    "corundum": ("R-3c", Lattice.hexagonal(4.759, 12.99), ["Al", "O"], [[0, 0, 0.3522], [0.3064, 0, 0.25]]),
    "calcite": (
        "R-3c",
        Lattice.hexagonal(4.99, 17.06),
        ["Ca", "C", "O"],
        [[0, 0, 0], [0, 0, 0.25], [0.2578, 0, 0.25]],
    ),
}


def main() -> None:
    warnings.filterwarnings("ignore")
    matcher = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)
    print(f"{'crystal':9s} {'hyp s':>6s} {'search s':>8s} {'trials':>6s} {'s/trial':>7s} match  top-3 groups")
    for name, (sg, lattice, species, coords) in CRYSTALS.items():
        truth = Structure.from_spacegroup(sg, lattice, species, coords)
        prim = canonical_cell(truth)
        pattern = xrd_pattern(prim, conventional=False)
        t0 = time.perf_counter()
        hyp = space_group_hypotheses(prim.lattice, reflections_from_sticks(pattern.x, pattern.y, "MoKa"))
        t_hyp = time.perf_counter() - t0
        top = hyp.consistent[:3]
        z = len(prim) // int(prim.composition.reduced_composition.num_atoms)
        target = stick_target(pattern.x, pattern.y, "MoKa", (0, 180))
        res = symmetry_search(prim.lattice, prim.composition.reduced_formula, target, top, z=z, n_trials=40)
        ranks = [i for i, c in enumerate(res.candidates) if matcher.fit(c.structure, truth)]
        per = res.seconds / max(res.n_trials, 1)
        print(
            f"{name:9s} {t_hyp:6.2f} {res.seconds:8.1f} {res.n_trials:6d} {per:7.2f} "
            f"{ranks[0] if ranks else '-':>5}  {[h.symbol for h in top]}"
        )


if __name__ == "__main__":
    main()

"""Check the physics against itself: the pattern of the IAM density grid vs pymatgen's pattern.

For real structures of the bundled corpus (equal numbers per crystal system), the 1024-vector of
the pattern computed from the 50³ IAM grid on the primitive cell (FFT forward model) is compared
with pymatgen's ``XRDCalculator`` pattern given the same Debye–Waller factor, by cosine
similarity over the 2θ range the grid resolves (all of 0–180° when no lattice vector exceeds
about 7 Å), and, as a control, with pymatgen's undamped (B = 0) pattern.

Usage::

    python benchmarks/forward_agreement.py [--per-system 20] [--grid 50] [--corpus PATH]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from _corpus import DEFAULT_CORPUS, iter_corpus
from pymatgen_crystalnet.featurize.xrd_vector import bin_index, pattern_to_vector, vector_from_density
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.forward import resolved_two_theta_max
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.physics.powder import xrd_pattern

SYSTEMS = ("cubic", "trigonal", "hexagonal", "tetragonal", "orthorhombic", "monoclinic", "triclinic")


def masked_cosine(a: np.ndarray, b: np.ndarray, two_theta_max: float) -> float:
    keep = np.arange(a.size) <= bin_index(two_theta_max)
    a, b = a * keep, b * keep
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def summary(values: list[float]) -> str:
    v = np.asarray(values)
    return (
        f"n={v.size:4d}  min {v.min():.4f}  p5 {np.percentile(v, 5):.4f}  median {np.median(v):.5f}"
        f"  mean {v.mean():.4f}  ≥0.99: {np.mean(v >= 0.99) * 100:5.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--per-system", type=int, default=20)
    parser.add_argument("--grid", type=int, default=50)
    parser.add_argument("--b-factor", type=float, default=1.0)
    args = parser.parse_args()

    matched: dict[str, list[float]] = defaultdict(list)
    undamped: dict[str, list[float]] = defaultdict(list)
    full_range = 0
    for rec, structure in iter_corpus(args.corpus, nsites=lambda n: n <= 20):
        system = rec["crystal_system"]
        if len(matched[system]) >= args.per_system:
            if all(len(matched[s]) >= args.per_system for s in SYSTEMS):
                break
            continue
        prim = canonical_cell(structure)
        grid = iam_density_grid(prim, args.grid, b_factor=args.b_factor)
        hi = resolved_two_theta_max(prim.lattice, grid.shape)
        full_range += hi >= 180
        vec = vector_from_density(grid, prim.lattice)
        ref = pattern_to_vector(xrd_pattern(prim, b_factor=args.b_factor))
        ref0 = pattern_to_vector(xrd_pattern(prim, b_factor=0.0))
        matched[system].append(masked_cosine(vec, ref, hi))
        undamped[system].append(masked_cosine(vec, ref0, hi))

    total = sum(len(v) for v in matched.values())
    print(
        f"Cosine(IAM-grid pattern, pymatgen pattern), grid {args.grid}^3 on the primitive cell, "
        f"B = {args.b_factor} Å², over the resolved 2θ range ({full_range}/{total} resolve all of 0–180°)"
    )
    print("\npymatgen given the same B:")
    for system in SYSTEMS:
        print(f"  {system:<13}{summary(matched[system])}")
    print(f"  {'all':<13}{summary([x for v in matched.values() for x in v])}")
    print("\npymatgen with B = 0 (mismatched damping, the control):")
    for system in SYSTEMS:
        print(f"  {system:<13}{summary(undamped[system])}")
    print(f"  {'all':<13}{summary([x for v in undamped.values() for x in v])}")


if __name__ == "__main__":
    main()

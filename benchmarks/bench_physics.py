"""Physics-core timings, as ratios measured in one run on this machine.

- IAM density on the 50³ grid of a 20-atom cell: fast path (real-space stencils + one FFT)
  versus the direct real-space sum over every image within reach.
- Powder pattern of a structure (pymatgen ``XRDCalculator``, Mo Kα, 0–180°) versus the pattern
  of its 50³ density grid (FFT forward model).

Usage::

    python benchmarks/bench_physics.py [--corpus PATH] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=str, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/FFT threads (default 1 core)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np

    from _corpus import DEFAULT_CORPUS, iter_corpus
    from pymatgen_crystalnet.physics.cells import canonical_cell
    from pymatgen_crystalnet.physics.form_factors import coefficient_table
    from pymatgen_crystalnet.physics.forward import pattern_from_density
    from pymatgen_crystalnet.physics.iam import iam_density_direct, iam_density_grid
    from pymatgen_crystalnet.physics.powder import xrd_pattern

    coefficient_table()  # load xraydb once, outside the timings
    corpus = args.corpus or DEFAULT_CORPUS
    picked = []
    for rec, structure in iter_corpus(corpus):
        prim = canonical_cell(structure)
        if len(prim) == 20 and rec["crystal_system"] not in {s for s, _, _ in picked}:
            picked.append((rec["crystal_system"], rec["material_id"], prim))
        if len(picked) == 3:
            break

    n = 50
    axis = np.arange(n) / n
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    print(f"IAM density grid {n}^3, 20-atom primitive cells, {args.threads} thread(s)")
    print(f"{'system':<13}{'id':<12}{'fast (s)':>10}{'direct (s)':>12}{'speed-up':>10}{'max rel err':>13}")
    for system, mid, prim in picked:
        t_fast, grid = timed(lambda p=prim: iam_density_grid(p, n), args.repeats)
        t_direct, direct = timed(lambda p=prim: iam_density_direct(p, points).reshape(n, n, n), 1)
        err = np.abs(grid - direct).max() / direct.max()
        print(f"{system:<13}{mid:<12}{t_fast:>10.4f}{t_direct:>12.3f}{t_direct / t_fast:>9.0f}x{err:>13.1e}")

    print("\nPowder pattern, Mo Kα, 2θ 0–180°")
    print(f"{'system':<13}{'id':<12}{'structure (s)':>14}{'density (s)':>13}{'ratio':>8}")
    for system, mid, prim in picked:
        grid = iam_density_grid(prim, n)
        t_struct, _ = timed(lambda p=prim: xrd_pattern(p), args.repeats)
        t_dens, _ = timed(lambda g=grid, p=prim: pattern_from_density(g, p.lattice), args.repeats)
        print(f"{system:<13}{mid:<12}{t_struct:>14.4f}{t_dens:>13.4f}{t_struct / t_dens:>7.1f}x")


if __name__ == "__main__":
    main()

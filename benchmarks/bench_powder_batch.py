"""Stick patterns of many trial crystals: pymatgen's ``XRDCalculator`` loop vs ``batch_sticks``.

Trial crystals are random displacements (σ = 0.05 in fractional units) of a cubic crystal
(NaCl, conventional cell, 8 atoms) and a trigonal one (corundum, hexagonal cell, 30 atoms),
Mo Kα, 2θ = 0–180°, B = 0.5 Å². pymatgen is timed on ``--reference-trials`` crystals (default
40) and its per-pattern time multiplied out for larger T (labelled "extrap."); ``batch_sticks``
is timed on every T. The two are also checked to agree on the timed reference trials.

Usage::

    python benchmarks/bench_powder_batch.py [--trials 40 1000] [--reference-trials 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, nargs="+", default=[40, 1000])
    parser.add_argument("--reference-trials", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1 core)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    from pymatgen.analysis.diffraction.xrd import XRDCalculator
    from pymatgen.core import Lattice, Structure

    from pymatgen_crystalnet.physics.powder_batch import batch_sticks

    crystals = {
        "cubic NaCl (8 atoms)": Structure.from_spacegroup(
            "Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
        ),
        "trigonal Al2O3 (30 atoms)": Structure.from_spacegroup(
            "R-3c", Lattice.hexagonal(4.7589, 12.991), ["Al", "O"], [[0, 0, 0.35216], [0.30624, 0, 0.25]]
        ),
    }
    b, rng_tt = 0.5, (0, 180 - 1e-6)
    rng = np.random.default_rng(0)
    print(f"{'crystal':28s} {'T':>6s} {'pymatgen s':>12s} {'batch s':>9s} {'ratio':>8s}")
    for name, s in crystals.items():
        n_ref = args.reference_trials
        calc = XRDCalculator("MoKa", debye_waller_factors={e.symbol: b for e in s.composition.elements})
        ref_coords = (s.frac_coords[None] + rng.normal(0, 0.05, (n_ref, len(s), 3))) % 1
        t0 = time.perf_counter()
        ref = [
            calc.get_pattern(Structure(s.lattice, s.species, c), two_theta_range=rng_tt) for c in ref_coords
        ]
        per_pattern = (time.perf_counter() - t0) / n_ref
        tt, inten = batch_sticks(s.lattice, s.species, ref_coords, "MoKa", (0, 180), b)
        worst = max(np.abs(inten[t][inten[t] > 0] - p.y).max() for t, p in enumerate(ref))
        for n in args.trials:
            coords = (s.frac_coords[None] + rng.normal(0, 0.05, (n, len(s), 3))) % 1
            t0 = time.perf_counter()
            batch_sticks(s.lattice, s.species, coords, "MoKa", (0, 180), b)
            t_batch = time.perf_counter() - t0
            t_ref = per_pattern * n
            tag = "" if n <= n_ref else " (extrap.)"
            print(f"{name:28s} {n:6d} {t_ref:12.2f} {t_batch:9.3f} {t_ref / t_batch:8.1f}{tag}")
        print(f"  {len(tt)} merged peaks; max |ΔI| against pymatgen on {n_ref} trials: {worst:.1e} (of 100)")


if __name__ == "__main__":
    main()

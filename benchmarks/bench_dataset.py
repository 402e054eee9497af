"""Dataset pipeline throughput and export size.

- Build throughput (structures/s) of the crystal builder (canonical cell, symmetry, XRD
  vector, composition vector, IAM arrays) with 1 and 2 worker processes, each on a fresh
  embedded store, on the first N cubic + trigonal structures of the corpus.
- Exported size per 1,000 crystals (float16 XRD vectors, no grids), from the last build and,
  if given, from an existing full export.

Usage::

    python benchmarks/bench_dataset.py [--corpus PATH] [--n 120] [--workers 1 2]
                                       [--export exports/cubic_trigonal.npz]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.data.export import export_dataset
from pymatgen_crystalnet.data.pipeline import build_dataset
from pymatgen_crystalnet.data.reader import load_export

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mp_structures.jsonl.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--n", type=int, default=120, help="structures per build")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--crystal-system", nargs="+", default=["cubic", "trigonal"])
    parser.add_argument("--export", type=Path, default=None, help="an existing full export")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    config = BuildConfig(crystal_systems=args.crystal_system)
    print(f"corpus: {args.corpus}; first {args.n} {'+'.join(args.crystal_system)} structures")
    print(f"{'workers':>7} {'built':>6} {'failed':>6} {'build s':>8} {'struct/s':>9} {'total s':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        last = None
        for workers in args.workers:
            store = Path(tmp) / f"w{workers}"
            t0 = time.perf_counter()
            report = build_dataset(args.corpus, store, config=config, workers=workers,
                                   limit=args.n, progress=False)
            total = time.perf_counter() - t0
            c = report.crystals
            print(f"{workers:>7} {c.processed:>6} {c.failed:>6} {c.seconds:>8.1f} "
                  f"{c.rate:>9.2f} {total:>8.1f}")
            last = store
        out = export_dataset(last, Path(tmp) / "bench.npz")
        print(f"export of this build: {out.n_crystals} crystals, {out.bytes / 1024:.1f} KiB "
              f"-> {out.bytes / out.n_crystals * 1000 / 2**20:.2f} MiB per 1,000 crystals")
    if args.export is not None:
        ds = load_export(args.export)
        size = args.export.stat().st_size
        print(f"full export {args.export}: {len(ds)} crystals, {size / 2**20:.2f} MiB -> "
              f"{size / len(ds) * 1000 / 2**20:.2f} MiB per 1,000 crystals")


if __name__ == "__main__":
    main()

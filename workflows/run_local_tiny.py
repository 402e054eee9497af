"""Run the tiny pipeline locally: build → train → evaluate → solve and verify one pattern.

Usage::

    python workflows/run_local_tiny.py CORPUS [OUT] [--epochs N] [--limit N]

CORPUS is a JSONL(.gz) structure corpus (e.g. ../shared/data/mp_structures.jsonl.gz). OUT
(default runs/tiny) receives jobs/ (one folder per job), jobstore/ (an embedded montydb
JobStore: outputs + data store) and report.json. Offline; about 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import logging

from pymatgen_crystalnet.workflows.flows import PipelineMaker
from pymatgen_crystalnet.workflows.run import run_workflow_locally

logger = logging.getLogger("run_local_tiny")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("out", nargs="?", default="runs/tiny")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=120)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("pymatgen_crystalnet.data").setLevel(logging.WARNING)

    flow = PipelineMaker.tiny(epochs=args.epochs, limit=args.limit).make(args.corpus)
    report = run_workflow_locally(flow, args.out)
    logger.info("\n%s", report.table())
    logger.info("outputs in %s/jobstore, report in %s/report.json", args.out, args.out)
    return 0 if not report.failed else 1


if __name__ == "__main__":
    raise SystemExit(main())

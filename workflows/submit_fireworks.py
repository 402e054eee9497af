"""Submit the pipeline to a FireWorks LaunchPad; GPU jobs go to a ``gpu`` worker.

Usage::

    python workflows/submit_fireworks.py CORPUS --launchpad workflows/configs/my_launchpad.yaml \
        --store mongodb://db-host:27017/crystalnet_outputs [--config workflows/configs/tiny_pipeline.yaml]

then, on the nodes (one worker each)::

    rlaunch -l workflows/configs/my_launchpad.yaml -w workflows/configs/gpu_worker.yaml rapidfire
    rlaunch -l workflows/configs/my_launchpad.yaml -w workflows/configs/cpu_worker.yaml rapidfire

The training and evaluation jobs carry ``spec._category = "gpu"`` (change it with
``--train-category``); the worker files route them. The JobStore must be reachable from every
worker: a MongoDB database (outputs in ``outputs``, large fields in GridFS ``outputs_blobs``)
or a directory on a shared file system. The dataset export and the run folders are read by
later jobs through the paths recorded in the documents: run the jobs on a shared file system.
"""

from __future__ import annotations

import argparse
import logging

from pymatgen_crystalnet.workflows.fireworks import submit_flow
from pymatgen_crystalnet.workflows.flows import PipelineMaker
from pymatgen_crystalnet.workflows.job_decorator import set_category

logger = logging.getLogger("submit_fireworks")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--launchpad", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--config", help="serialised PipelineMaker (YAML/JSON); default: the tiny one")
    parser.add_argument("--train-category", default="gpu")
    parser.add_argument("--run-dir", default=None, help="training run folder (shared file system)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from fireworks import LaunchPad
    from monty.serialization import loadfn

    maker = loadfn(args.config) if args.config else PipelineMaker.tiny()
    flow = maker.make(args.corpus, run_dir=args.run_dir)
    for name in ("train", "evaluate"):
        set_category(flow, args.train_category or None, name_filter=name)
    ids = submit_flow(flow, LaunchPad.from_file(args.launchpad), args.store)
    logger.info("submitted %d Fireworks (fw_ids %d-%d)", len(ids), min(ids.values()), max(ids.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The paper's cubic + trigonal reproduction as one flow (build → train → evaluate → solve).

Usage::

    python workflows/paper_cubic_trigonal.py CORPUS --launchpad my_launchpad.yaml \
        --store mongodb://db-host:27017/crystalnet_outputs --run-dir /shared/runs/paper
    python workflows/paper_cubic_trigonal.py CORPUS --local runs/paper     # on this machine

Settings of the paper: all cubic and trigonal crystals of the corpus (de-duplicated
by reduced formula and space group, validation and test stable only), the ``paper`` model and
training schedule (1500 epochs, batch 128, SGDR 100/200/400/800, best validation SSIM), and
the full evaluation protocol on the test split (k = 5 samples on the 50³ grid, 24 rotations,
translation-aware scores, composition ablations with 3 samples, flat and other-crystal
baselines, the control). Training runs on one GPU, or on all GPUs of its node with
``--gpus N`` (torchrun); training and evaluation carry the FireWorks category ``gpu``.
Give ``--run-dir`` on a shared file system so that a rerun of the training job
(``lpad rerun_fws``) resumes from its last checkpoint. Days of GPU time: not for a laptop.
"""

from __future__ import annotations

import argparse
import logging

from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.workflows import BuildDatasetMaker, EvaluateMaker, SolveMaker, TrainMaker
from pymatgen_crystalnet.workflows.flows import PipelineMaker, SolveVerifyMaker, TrainEvaluateMaker

logger = logging.getLogger("paper_cubic_trigonal")


def paper_pipeline(gpus: int = 1, workers: int = 8) -> PipelineMaker:
    """The paper's setting as a PipelineMaker."""
    systems = BuildConfig(crystal_systems=["cubic", "trigonal"])
    build = BuildDatasetMaker(build_config=systems, workers=workers)
    train = TrainMaker.from_preset(
        "paper", launcher="torchrun" if gpus > 1 else "single", nproc_per_node=gpus, device="auto"
    )
    # EvaluationConfig's defaults are the paper's protocol: k = 5 samples on the 50³ grid, 3 per ablation
    evaluate = EvaluateMaker(config=EvaluationConfig(split="test"))
    return PipelineMaker(
        name="crystalnet paper cubic+trigonal",
        train_evaluate=TrainEvaluateMaker(build_maker=build, train_maker=train, evaluate_maker=evaluate),
        solve_verify=SolveVerifyMaker(solve_maker=SolveMaker(n_candidates=5, grid=50)),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--launchpad", help="my_launchpad.yaml (FireWorks)")
    parser.add_argument("--store", help="JobStore the workers reach (mongodb://… or a shared directory)")
    parser.add_argument("--run-dir", default=None, help="training run folder on a shared file system")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs of the training node (torchrun when > 1)")
    parser.add_argument("--workers", type=int, default=8, help="processes of the dataset build")
    parser.add_argument("--local", metavar="OUT", help="run here with run_locally into OUT instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    flow = paper_pipeline(args.gpus, args.workers).make(args.corpus, run_dir=args.run_dir)
    if args.local:
        from pymatgen_crystalnet.workflows.run import run_workflow_locally

        report = run_workflow_locally(flow, args.local)
        logger.info("\n%s", report.table())
        return 0 if not report.failed else 1
    if not (args.launchpad and args.store):
        parser.error("give --launchpad and --store (or --local OUT)")
    from fireworks import LaunchPad

    from pymatgen_crystalnet.workflows.fireworks import submit_flow

    ids = submit_flow(flow, LaunchPad.from_file(args.launchpad), args.store)
    logger.info("submitted %d Fireworks; start rlaunch on a GPU node with workflows/configs/gpu_worker.yaml",
                len(ids))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

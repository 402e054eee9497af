"""Flows: build → train → evaluate, and solve → verify each candidate → rank.

::

    from pymatgen_crystalnet.workflows.flows import PipelineMaker
    from pymatgen_crystalnet.workflows.run import run_workflow_locally

    flow = PipelineMaker.tiny().make("mp_structures.jsonl.gz")
    report = run_workflow_locally(flow, "runs/tiny")     # embedded on-disk JobStore
    print(report.table())

:class:`TrainEvaluateMaker` chains :class:`~.dataset_jobs.BuildDatasetMaker`,
:class:`~.training_jobs.TrainMaker` and :class:`~.evaluation_jobs.EvaluateMaker`; :class:`SolveVerifyMaker`
runs :class:`~.solving_jobs.SolveMaker` and fans out one :class:`~.solving_jobs.VerifyMaker` job per
candidate (when the flow is built, or at run time with ``Response(replace=…)``), followed by
a ranking job;
:class:`PipelineMaker` joins both, solving the pattern of one test crystal of the new dataset
with the new model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from jobflow import Flow, Maker

from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.workflows.dataset_jobs import BuildDatasetMaker, pick_pattern
from pymatgen_crystalnet.workflows.evaluation_jobs import EvaluateMaker
from pymatgen_crystalnet.workflows.schemas import DatasetDocument
from pymatgen_crystalnet.workflows.solving_jobs import (
    SolveMaker,
    VerifyMaker,
    rank_candidates,
    verify_candidates,
)
from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

__all__ = ["PipelineMaker", "SolveVerifyMaker", "TrainEvaluateMaker", "tiny_evaluation"]

logger = logging.getLogger(__name__)


def tiny_structure_config() -> Any:
    """A small structure step (one space-group hypothesis, 5 search trials, one refinement, 30 s)."""
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

    return StructureSolveConfig(n_hypotheses=1, n_search_trials=5, n_refine=1, keep=2, time_budget_s=30.0)


def tiny_evaluation() -> EvaluationConfig:
    """The light evaluation of :meth:`PipelineMaker.tiny`: the test split, 2 samples (1 per
    ablation) on the 16³ grid, at most 8 crystals, 4 at a time; every method of the protocol.
    """
    return EvaluationConfig(samples=2, ablation_samples=1, grid=16, limit=8, batch_size=4)


@dataclass
class TrainEvaluateMaker(Maker):
    """Build a dataset, train a model on it, and evaluate the model on its test split.

    Parameters
    ----------
    name
        Flow name.
    build_maker
        Builds the dataset; None when ``make`` is given an existing export (or dataset
        document) instead of a structure source.
    train_maker, evaluate_maker
        Training and evaluation; ``evaluate_maker`` None skips evaluation.
    """

    name: str = "train and evaluate"
    build_maker: BuildDatasetMaker | None = field(default_factory=BuildDatasetMaker)
    train_maker: TrainMaker = field(default_factory=TrainMaker)
    evaluate_maker: EvaluateMaker | None = field(default_factory=EvaluateMaker)

    def make(
        self,
        source: str | DatasetDocument,
        store: str | None = None,
        export: str | None = None,
        run_dir: str | None = None,
    ) -> Flow:
        """The flow for ``source``.

        Parameters
        ----------
        source
            Structure source (corpus, CIF folder, ``"mp"``) when ``build_maker`` is set;
            otherwise an export path or a :class:`~.schemas.DatasetDocument`.
        store, export
            Dataset store and export locations (default: in the build job's folder).
        run_dir
            Training run folder (default: in the training job's folder).

        Returns
        -------
        Flow
            Output ``{"dataset": …, "training": …, "evaluation": …}``.
        """
        jobs: list[Any] = []
        if self.build_maker is not None:
            build = self.build_maker.make(str(source), store=store, export=export)
            jobs.append(build)
            dataset: Any = build.output
        else:
            dataset = source
        train = self.train_maker.make(dataset, run_dir=run_dir)
        jobs.append(train)
        output: dict[str, Any] = {"dataset": dataset, "training": train.output}
        if self.evaluate_maker is not None:
            evaluate = self.evaluate_maker.make(train.output, dataset)
            jobs.append(evaluate)
            output["evaluation"] = evaluate.output
        return Flow(jobs, output=output, name=self.name)


@dataclass
class SolveVerifyMaker(Maker):
    """Solve a pattern, verify every candidate by its forward pattern, rank them.

    Parameters
    ----------
    name
        Flow name.
    solve_maker, verify_maker
        The solve job and the per-candidate verification jobs.
    fan_out
        ``"static"``: the ``n_candidates`` verification jobs are made with the flow and read
        the candidates through references to the solve job's output (works on every
        manager; nothing large in a job description). ``"dynamic"``: one job
        (:func:`~.solving_jobs.verify_candidates`) replaces itself at run time by a verification job
        per candidate the solver returned (``Response(replace=…)``), carrying the candidates'
        values.
    """

    name: str = "solve and verify"
    solve_maker: SolveMaker = field(default_factory=SolveMaker)
    verify_maker: VerifyMaker = field(default_factory=VerifyMaker)
    fan_out: Literal["static", "dynamic"] = "static"

    def __post_init__(self) -> None:
        if self.fan_out not in ("static", "dynamic"):
            raise ValueError(f"fan_out must be 'static' or 'dynamic', got {self.fan_out!r}.")

    def make(
        self,
        model: Any,
        pattern: Any,
        composition: str | None = None,
        lattice: Any = None,
    ) -> Flow:
        """The flow for one pattern (arguments as :meth:`~.solving_jobs.SolveMaker.make`).

        Returns
        -------
        Flow
            Output: the :class:`~.schemas.SolutionDocument` of the ranking job.
        """
        solve = self.solve_maker.make(model, pattern, composition=composition, lattice=lattice)
        if self.fan_out == "dynamic":
            fan_out = verify_candidates(solve.output, verify_maker=self.verify_maker)
            fan_out.name = "verify candidates"
            return Flow([solve, fan_out], output=fan_out.output, name=self.name)
        jobs = []
        for rank in range(self.solve_maker.n_candidates):
            verify = self.verify_maker.make(
                solve.output.candidates[rank], solve.output.input_vector, solve.output.covered
            )
            verify.name = f"{self.verify_maker.name} candidate {rank}"
            jobs.append(verify)
        ranking = rank_candidates(solve.output, [j.output for j in jobs])
        ranking.name = "rank candidates"
        return Flow([solve, *jobs, ranking], output=ranking.output, name=self.name)


@dataclass
class PipelineMaker(Maker):
    """Build → train → evaluate, then solve and verify the pattern of one test crystal.

    Parameters
    ----------
    name
        Flow name.
    train_evaluate
        The dataset, training and evaluation part.
    solve_verify
        The solving part.
    pattern_split, pattern_index
        Which crystal of the export is solved (its pattern, formula and cell).
    """

    name: str = "crystalnet pipeline"
    train_evaluate: TrainEvaluateMaker = field(default_factory=TrainEvaluateMaker)
    solve_verify: SolveVerifyMaker = field(default_factory=SolveVerifyMaker)
    pattern_split: str = "test"
    pattern_index: int = 0

    def make(
        self,
        source: str | DatasetDocument,
        store: str | None = None,
        export: str | None = None,
        run_dir: str | None = None,
    ) -> Flow:
        """The flow for ``source`` (arguments as :meth:`TrainEvaluateMaker.make`).

        Returns
        -------
        Flow
            Output ``{"dataset", "training", "evaluation", "pattern", "solution"}``.
        """
        te = self.train_evaluate.make(source, store=store, export=export, run_dir=run_dir)
        pick = pick_pattern(te.output["dataset"], split=self.pattern_split, index=self.pattern_index)
        pick.name = "pick pattern"
        sv = self.solve_verify.make(te.output["training"], pick.output)
        output = {**te.output, "pattern": pick.output, "solution": sv.output}
        return Flow([te, pick, sv], output=output, name=self.name)

    @classmethod
    def tiny(
        cls,
        *,
        epochs: int = 3,
        limit: int | None = 120,
        crystal_systems: tuple[str, ...] = ("cubic", "trigonal"),
        workers: int = 1,
        threads: int | None = 2,
        evaluate: bool = True,
        evaluation: EvaluationConfig | None = None,
        n_candidates: int = 3,
        grid: int = 24,
        seed: int = 0,
    ) -> PipelineMaker:
        """A pipeline that runs offline in a few minutes on 2 CPU cores.

        The ``small`` model for a few epochs on at most ``limit`` structures, validation and
        solving on coarse grids.

        Parameters
        ----------
        epochs
            Training epochs.
        limit
            Structures ingested from the source (None: all).
        crystal_systems
            Systems kept.
        workers
            Build processes.
        threads
            CPU threads for training.
        evaluate
            Include the evaluation job.
        evaluation
            The evaluation's settings; default :func:`tiny_evaluation` (2 samples, 16³ grid, at
            most 8 test crystals).
        n_candidates, grid, seed
            Solver settings.
        """
        build = BuildDatasetMaker(
            build_config=BuildConfig(crystal_systems=list(crystal_systems)),
            split_config=SplitConfig(),
            workers=workers,
            limit=limit,
        )
        train = TrainMaker.from_preset(
            "small",
            epochs=epochs,
            training={"batch_size": 4, "val_every": 1, "val_grid": 16, "val_max_crystals": 8,
                      "n_strata": 6, "seed": seed},
            threads=threads,
        )  # fmt: skip
        evaluator = EvaluateMaker(config=evaluation or tiny_evaluation()) if evaluate else None
        return cls(
            name="crystalnet tiny pipeline",
            train_evaluate=TrainEvaluateMaker(build_maker=build, train_maker=train, evaluate_maker=evaluator),
            solve_verify=SolveVerifyMaker(
                solve_maker=SolveMaker(
                    n_candidates=n_candidates, grid=grid, seed=seed, structure_config=tiny_structure_config()
                )
            ),
        )

"""jobflow workflows: build a dataset → train → evaluate; solve → verify → rank.

Modules (import them explicitly; importing this package loads neither jobflow nor torch):

- :mod:`.schemas`: the pydantic output documents, with provenance (defined in
  :mod:`.provenance`, :mod:`.density_grid`, :mod:`.training_documents`,
  :mod:`.solving_documents`, :mod:`.workflow_report`).
- :mod:`.job_decorator`: the job decorator :func:`~.job_decorator.crystalnet_job` and
  :func:`~.job_decorator.set_category` (FireWorks categories).
- :mod:`.dataset_jobs`: ``BuildDatasetMaker`` and ``pick_pattern``.
- :mod:`.training_jobs`: ``TrainMaker``.
- :mod:`.evaluation_jobs`: ``EvaluateMaker``.
- :mod:`.solving_jobs`: ``SolveMaker``, ``VerifyMaker``, ``rank_candidates``, ``verify_candidates``.
- :mod:`.job_inputs`: reading the dataset export and the weights, checked against their SHA-256.
- :mod:`.flows`: ``TrainEvaluateMaker``, ``SolveVerifyMaker``, ``PipelineMaker``.
- :mod:`.run`: the on-disk JobStore and :func:`~.run.run_workflow_locally`.
- :mod:`.fireworks`: submitting to a FireWorks LaunchPad and reporting from it.

See ``docs/workflows.md``.
"""

from __future__ import annotations

from pymatgen_crystalnet._lazy import lazy_exports

__all__ = [
    "BuildDatasetMaker",
    "EvaluateMaker",
    "PipelineMaker",
    "SolveMaker",
    "SolveVerifyMaker",
    "TrainEvaluateMaker",
    "TrainMaker",
    "VerifyMaker",
    "crystalnet_job",
    "job_store",
    "pick_pattern",
    "rank_candidates",
    "run_workflow_locally",
    "set_category",
    "verify_candidates",
]

_WHERE = {
    "BuildDatasetMaker": "dataset_jobs",
    "pick_pattern": "dataset_jobs",
    "TrainMaker": "training_jobs",
    "EvaluateMaker": "evaluation_jobs",
    "SolveMaker": "solving_jobs",
    "VerifyMaker": "solving_jobs",
    "rank_candidates": "solving_jobs",
    "verify_candidates": "solving_jobs",
    "crystalnet_job": "job_decorator",
    "set_category": "job_decorator",
    "PipelineMaker": "flows",
    "SolveVerifyMaker": "flows",
    "TrainEvaluateMaker": "flows",
    "job_store": "run",
    "run_workflow_locally": "run",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

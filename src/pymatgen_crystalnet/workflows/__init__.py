"""jobflow workflows: build a dataset → train → evaluate; solve → verify → rank.

Modules (import them explicitly; importing this package loads neither jobflow nor torch):

- :mod:`.schemas`: the pydantic output documents, with provenance.
- :mod:`.jobs`: the job decorator :func:`~.jobs.crystalnet_job` and the Makers
  ``BuildDatasetMaker``, ``TrainMaker``, ``EvaluateMaker``, ``SolveMaker``, ``VerifyMaker``.
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
    "run_workflow_locally",
    "set_category",
]

_WHERE = {
    "BuildDatasetMaker": "jobs",
    "EvaluateMaker": "jobs",
    "SolveMaker": "jobs",
    "TrainMaker": "jobs",
    "VerifyMaker": "jobs",
    "crystalnet_job": "jobs",
    "set_category": "jobs",
    "PipelineMaker": "flows",
    "SolveVerifyMaker": "flows",
    "TrainEvaluateMaker": "flows",
    "job_store": "run",
    "run_workflow_locally": "run",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)

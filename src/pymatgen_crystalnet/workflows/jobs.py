"""Former home of the jobs and Makers, kept so that stored flows and outputs still load.

The jobs now live in :mod:`.job_decorator` (:func:`crystalnet_job`, :func:`set_category`),
:mod:`.dataset_jobs`, :mod:`.training_jobs`, :mod:`.evaluation_jobs` and :mod:`.solving_jobs`;
import them from there or from :mod:`pymatgen_crystalnet.workflows`. jobflow and FireWorks
record Makers and job functions by module path (``"@module"``), so flows serialised before the
split (on a LaunchPad, in a JobStore, in a YAML config) name this module; it re-exports the
same objects, so they decode to the current classes.
"""

from __future__ import annotations

from pymatgen_crystalnet.workflows.dataset_jobs import BuildDatasetMaker, pick_pattern
from pymatgen_crystalnet.workflows.evaluation_jobs import EvaluateMaker
from pymatgen_crystalnet.workflows.job_decorator import DATA_STORE, GPU_CATEGORY, crystalnet_job, set_category
from pymatgen_crystalnet.workflows.solving_jobs import (
    SolveMaker,
    VerifyMaker,
    rank_candidates,
    verify_candidates,
)
from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

__all__ = [
    "DATA_STORE",
    "GPU_CATEGORY",
    "BuildDatasetMaker",
    "EvaluateMaker",
    "SolveMaker",
    "TrainMaker",
    "VerifyMaker",
    "crystalnet_job",
    "pick_pattern",
    "rank_candidates",
    "set_category",
    "verify_candidates",
]

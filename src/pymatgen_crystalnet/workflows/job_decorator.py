"""The job decorator of this package, FireWorks categories, and job working paths.

Every job of :mod:`pymatgen_crystalnet.workflows` is made by :func:`crystalnet_job`, which fixes
the job's output schema (a pydantic document of :mod:`.schemas`) and sends the documents' large
fields (:data:`~.schemas.LARGE_FIELDS`: density grids, histories, weights, id lists, forward
patterns) to the JobStore's ``data`` store, as atomate2's forcefield jobs do.

Resources: the training and evaluation jobs carry the FireWorks category :data:`GPU_CATEGORY`
(``job.config.manager_config["_category"]``), so on a LaunchPad they go to a worker whose
``category`` is ``gpu`` (or to a worker without a category); other jobs carry none. Change it
for a whole flow with :func:`set_category` -- the flow itself does not change. Local runs
ignore categories.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, JobConfig, job

from pymatgen_crystalnet.workflows.schemas import LARGE_FIELDS

__all__ = ["DATA_STORE", "GPU_CATEGORY", "crystalnet_job", "set_category"]

#: Name of the JobStore's additional store that receives the large fields.
DATA_STORE = "data"
#: FireWorks category of the jobs that want a GPU.
GPU_CATEGORY = "gpu"


def crystalnet_job(output_schema: type | None, *, category: str | None = None) -> Any:
    """The job decorator of this package.

    Parameters
    ----------
    output_schema
        The pydantic document the job returns (jobflow checks references against it);
        None only for a job that replaces itself by a flow (its stored output is then a
        reference to that flow's output, which no schema describes).
    category
        FireWorks category of the job (``manager_config["_category"]``), e.g. ``"gpu"``.

    Returns
    -------
    callable
        ``jobflow.job`` configured to store :data:`~.schemas.LARGE_FIELDS` in the
        :data:`DATA_STORE` store.
    """
    kwargs: dict[str, Any] = {DATA_STORE: list(LARGE_FIELDS)}
    if output_schema is not None:
        kwargs["output_schema"] = output_schema
    if category:
        kwargs["config"] = JobConfig(manager_config={"_category": category})
    return job(**kwargs)


def set_category(flow: Flow | Job, category: str | None, name_filter: str | None = None) -> Flow | Job:
    """Set (or, with None, remove) the FireWorks category of jobs of a flow, in place.

    Parameters
    ----------
    flow
        A flow or a job.
    category
        The category (``"gpu"``, ``"big-gpu"``, …) or None for no category.
    name_filter
        Only jobs whose name contains this string (all jobs when None).
    """
    manager_config = {} if category is None else {"_category": category}
    flow.update_config({"manager_config": manager_config}, name_filter=name_filter)
    return flow


def _work_path(path: str | os.PathLike | None, default: str) -> Path:
    """An absolute path: ``path``, or ``default`` in the job's working directory."""
    return (Path(path) if path is not None else Path.cwd() / default).expanduser().resolve()

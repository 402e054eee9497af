"""Running the flows on FireWorks: submit to a LaunchPad, report from it.

::

    from fireworks import LaunchPad
    from pymatgen_crystalnet.workflows.fireworks import submit_flow, report_from_launchpad
    from pymatgen_crystalnet.workflows.flows import PipelineMaker

    lpad = LaunchPad.from_file("my_launchpad.yaml")
    flow = PipelineMaker.tiny().make("/shared/corpus.jsonl.gz")
    fw_ids = submit_flow(flow, lpad, store="mongodb://db-host:27017/crystalnet_outputs")
    # on the nodes:   rlaunch -l my_launchpad.yaml -w gpu_worker.yaml rapidfire
    report = report_from_launchpad(lpad, fw_ids)

Every job becomes one Firework (``jobflow.managers.fireworks.flow_to_workflow``) that writes
its output to the JobStore given here, which the workers must reach: a MongoDB database on a
cluster, or an on-disk store on a file system all workers share. Jobs that want a GPU carry
the category ``gpu`` (``spec._category``): a worker whose ``category`` is ``gpu`` takes them, a
worker with ``category: __none__`` takes only the jobs without a category, and a worker without
a category takes everything. FireWorks is an optional dependency (``pip install
"pymatgen-crystalnet[fireworks]"``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from jobflow import Flow, Job, JobStore

from pymatgen_crystalnet.workflows.run import checked_job_store, describe_store, error_line
from pymatgen_crystalnet.workflows.workflow_report import JobRecord, WorkflowReport

if TYPE_CHECKING:
    from fireworks import LaunchPad, Workflow

__all__ = ["flow_to_fireworks", "report_from_launchpad", "submit_flow", "worker_config"]

logger = logging.getLogger(__name__)


def _require_fireworks() -> None:
    try:
        import fireworks  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            'FireWorks is not installed; install it with pip install "pymatgen-crystalnet[fireworks]".'
        ) from exc


def flow_to_fireworks(flow: Flow | Job, store: JobStore | str | os.PathLike) -> Workflow:
    """The FireWorks ``Workflow`` of a flow, writing its outputs to ``store``.

    Parameters
    ----------
    flow
        A flow or a job.
    store
        A JobStore with a ``data`` additional store, or a location for :func:`~.run.job_store`
        (directory, ``json://DIR`` or ``mongodb://…/DATABASE``) that every worker can reach.

    Raises
    ------
    ValueError
        If ``store`` is a JobStore without a ``data`` store (:func:`~.run.checked_job_store`).
    """
    _require_fireworks()
    from jobflow.managers.fireworks import flow_to_workflow

    return flow_to_workflow(flow, store=checked_job_store(store))


def submit_flow(
    flow: Flow | Job, launchpad: LaunchPad, store: JobStore | str | os.PathLike
) -> dict[int, int]:
    """Add ``flow`` to ``launchpad``; returns FireWorks' id map (``{temporary id: fw_id}``)."""
    wf = flow_to_fireworks(flow, store)
    id_map = launchpad.add_wf(wf)
    logger.info("submitted %d Fireworks (%s)", len(wf.fws), wf.name)
    return dict(id_map)


def worker_config(name: str, category: str | list[str] | None = None, **env: Any) -> dict[str, Any]:
    """The content of an ``my_fworker.yaml`` (``FWorker.to_dict()``).

    Parameters
    ----------
    name
        Worker name (recorded in each launch).
    category
        ``"gpu"`` to take the GPU jobs, ``"__none__"`` to take only jobs without a category,
        a list for several, or None to take everything.
    **env
        The worker's ``env`` mapping.
    """
    _require_fireworks()
    from fireworks import FWorker

    return FWorker(name=name, category=category or "", env=env).to_dict()


def report_from_launchpad(launchpad: LaunchPad, fw_ids: int | list[int] | dict[int, int]) -> WorkflowReport:
    """The state of every job of the workflow that holds ``fw_ids``.

    Parameters
    ----------
    launchpad
        The LaunchPad.
    fw_ids
        Any Firework id of the workflow (an int, a list, or :func:`submit_flow`'s map).

    Returns
    -------
    WorkflowReport
        One record per Firework (replacement jobs included): completed, failed (FIZZLED, with
        the error and traceback stored by FireWorks), or the Firework's state otherwise; with
        the worker that ran it and its category.
    """
    if isinstance(fw_ids, dict):
        fw_ids = list(fw_ids.values())
    if isinstance(fw_ids, int):
        fw_ids = [fw_ids]
    wf = launchpad.get_wf_by_fw_id(fw_ids[0])
    store_desc = ""
    records: list[JobRecord] = []
    for fw in sorted(wf.fws, key=lambda f: f.fw_id):
        task = fw.tasks[0] if fw.tasks else {}
        job = task.get("job") if hasattr(task, "get") else None
        uuid = getattr(job, "uuid", None) if job is not None else None
        index = getattr(job, "index", None) if job is not None else None
        name = getattr(job, "name", None) or fw.name
        if not store_desc and hasattr(task, "get") and isinstance(task.get("store"), JobStore):
            store_desc = describe_store(task["store"])
        state = fw.state.lower()
        error = tb = worker = None
        if fw.launches:
            launch = fw.launches[-1]
            worker = launch.fworker.name if launch.fworker else None
            stored = (launch.action.stored_data if launch.action else None) or {}
            exc = stored.get("_exception") if isinstance(stored, dict) else None
            if exc:
                tb = str(exc.get("_stacktrace") or exc.get("_details") or "")
                error = error_line(tb)
        records.append(
            JobRecord(
                name=name,
                uuid=uuid,
                index=index,
                state="completed" if state == "completed" else "failed" if state == "fizzled" else state,
                error=error,
                traceback=tb,
                fw_id=fw.fw_id,
                worker=worker,
                category=fw.spec.get("_category"),
            )
        )
    return WorkflowReport(manager="fireworks", store=store_desc, jobs=records)

"""Running flows locally on an on-disk JobStore, and reporting what every job did.

:func:`job_store` makes the JobStore: a docs store for the job outputs and a ``data`` store
for their large fields, both in the same location:

a directory (default)
    An embedded montydb (SQLite) database on disk, through maggma's ``MontyStore`` (the
    dataset pipeline's :class:`~pymatgen_crystalnet.data.stores.EmbeddedStore`). No server;
    several processes (FireWorks workers on one machine or a shared file system) can write to
    it, SQLite serialising the writes.
``json://DIR``
    Two JSON files (``outputs.json``, ``outputs_blobs.json``), easy to read by eye; for one
    process at a time.
``mongodb://…/DATABASE``
    A MongoDB server: ``MongoStore`` for the outputs, ``GridFSStore`` for the large fields
    (no 16 MB document limit). What a cluster uses.

:func:`run_workflow_locally` runs a flow with jobflow's ``run_locally`` (each job in its own
folder) and returns a :class:`~.workflow_report.WorkflowReport`: every job, completed, failed (with
its error and traceback) or not run, also written to ``report.json``. While it runs, every job's
start and end (name, state, wall time) becomes a :class:`~.run_progress.JobEvent`, handed to an
optional ``progress`` callback (``crystalnet workflow run-local`` prints them) or else logged at INFO.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, JobStore

from pymatgen_crystalnet.workflows.job_decorator import DATA_STORE
from pymatgen_crystalnet.workflows.run_progress import JobEvent, JobProgressLog, error_line, listening
from pymatgen_crystalnet.workflows.schemas import LARGE_FIELDS
from pymatgen_crystalnet.workflows.workflow_report import JobRecord, WorkflowReport

__all__ = [
    "JobEvent",
    "checked_job_store",
    "describe_store",
    "error_line",
    "job_store",
    "report_from_store",
    "run_workflow_locally",
]

logger = logging.getLogger(__name__)

#: Collection of the job outputs, and of their large fields.
OUTPUTS = "outputs"
BLOBS = "outputs_blobs"


def job_store(location: str | os.PathLike) -> JobStore:
    """A JobStore (outputs + ``data`` store) at ``location``.

    Parameters
    ----------
    location
        A directory (embedded montydb store, created on first use), ``json://DIR``, or a
        ``mongodb://`` / ``mongodb+srv://`` URI naming the database.

    Returns
    -------
    jobflow.JobStore
        Not yet connected.
    """
    from pymatgen_crystalnet.data.stores import get_store, is_mongo_uri

    loc = str(location)
    if is_mongo_uri(loc):
        from maggma.stores import GridFSStore, MongoStore
        from pymongo import uri_parser

        database = uri_parser.parse_uri(loc)["database"]
        if not database:
            raise ValueError("The MongoDB URI names no database; add it, as in mongodb://host:27017/crystalnet.")
        docs = MongoStore(database, OUTPUTS, uri=loc, key="uuid")
        blobs = GridFSStore(database, BLOBS, uri=loc, key="blob_uuid", compression=True)
    else:
        if not loc.startswith("json://"):
            loc = str(Path(loc).expanduser().resolve())
        docs = get_store(loc, OUTPUTS, key="uuid")
        blobs = get_store(loc, BLOBS, key="blob_uuid")
    return JobStore(docs, additional_stores={DATA_STORE: blobs})


def checked_job_store(store: JobStore | str | os.PathLike) -> JobStore:
    """``store`` as a JobStore with the ``data`` store that the jobs of this package write to.

    Parameters
    ----------
    store
        A JobStore, or a location for :func:`job_store`.

    Returns
    -------
    jobflow.JobStore

    Raises
    ------
    ValueError
        If ``store`` is a JobStore without a ``"data"`` additional store (``JobStore(MemoryStore())``,
        say): every job of this package would run and then fail to store its output.
    """
    if not isinstance(store, JobStore):
        return job_store(store)
    if DATA_STORE not in (store.additional_stores or {}):
        raise ValueError(
            f"The JobStore has no {DATA_STORE!r} additional store, where the jobs of this package put "
            f"their large fields ({', '.join(LARGE_FIELDS)}), so no job could store its output. Use "
            "pymatgen_crystalnet.workflows.run.job_store(location), or give one: "
            f"JobStore(docs, additional_stores={{{DATA_STORE!r}: MemoryStore()}})."
        )
    return store


def describe_store(store: JobStore) -> str:
    """A short description of a JobStore (class and location, no credentials)."""
    docs = store.docs_store
    where = getattr(docs, "database_path", None) or getattr(docs, "paths", None)
    if where is None:
        where = f"{getattr(docs, 'database', '')}/{getattr(docs, 'collection_name', '')}"
    if isinstance(where, (list, tuple)):
        where = where[0]
    return f"{type(docs).__name__}:{where}"


def _flow_jobs(flow: Flow | Job) -> list[Job]:
    if isinstance(flow, Job):
        return [flow]
    return [j for j, _ in flow.iterflow()]


def report_from_store(
    flow: Flow | Job,
    store: JobStore,
    failures: list[tuple[str, str]] | None = None,
    *,
    root_dir: str | None = None,
    wall_time_s: float | None = None,
) -> WorkflowReport:
    """What happened to the jobs of ``flow``, from the outputs in ``store``.

    Parameters
    ----------
    flow
        The flow that was run (its jobs, before any replacement).
    store
        The JobStore it ran on.
    failures
        ``(job name, traceback)`` of the jobs that raised, as collected during the run.
    root_dir, wall_time_s
        Recorded in the report.

    Returns
    -------
    WorkflowReport
        One record per stored output (replacement jobs included), per failure, and per job
        of ``flow`` that neither completed nor failed (``"not run"``).
    """
    store.connect()
    jobs = _flow_jobs(flow)
    uuids = {j.uuid for j in jobs}
    flow_uuid = flow.uuid if isinstance(flow, Flow) else None  # a lone job is run inside a new flow
    records: list[JobRecord] = []
    seen: set[str] = set()
    criteria: dict[str, Any] = {"hosts": flow_uuid} if flow_uuid else {"uuid": {"$in": sorted(uuids)}}
    for doc in store.query(criteria, properties=["uuid", "index", "name", "output.@class"]):
        output = doc.get("output") or {}
        records.append(
            JobRecord(
                name=doc.get("name") or "",
                uuid=doc["uuid"],
                index=doc.get("index"),
                state="completed",
                output_class=output.get("@class") if isinstance(output, dict) else None,
            )
        )
        seen.add(doc["uuid"])
    failed_names: dict[str, list[str]] = {}
    for name, tb in failures or []:
        failed_names.setdefault(name, []).append(tb)
    by_name: dict[str, list[Job]] = {}
    for j in jobs:
        by_name.setdefault(j.name, []).append(j)
    for name, tbs in failed_names.items():
        candidates = [j for j in by_name.get(name, []) if j.uuid not in seen]
        for k, tb in enumerate(tbs):
            job = candidates[k] if k < len(candidates) else None
            records.append(
                JobRecord(
                    name=name,
                    uuid=job.uuid if job else None,
                    index=job.index if job else None,
                    state="failed",
                    error=error_line(tb),
                    traceback=tb,
                    category=(job.config.manager_config or {}).get("_category") if job else None,
                )
            )
            if job:
                seen.add(job.uuid)
    for j in jobs:
        if j.uuid not in seen:
            records.append(JobRecord(name=j.name, uuid=j.uuid, index=j.index, state="not run"))
    return WorkflowReport(
        manager="local",
        store=describe_store(store),
        root_dir=root_dir,
        wall_time_s=wall_time_s,
        jobs=records,
    )


def run_workflow_locally(
    flow: Flow | Job,
    root_dir: str | os.PathLike,
    *,
    store: JobStore | str | os.PathLike | None = None,
    log: bool = True,
    progress: Callable[[JobEvent], Any] | None = None,
) -> WorkflowReport:
    """Run ``flow`` with jobflow's ``run_locally``, each job in its own folder.

    Parameters
    ----------
    flow
        The flow (or job).
    root_dir
        Folder of the run: job folders go to ``root_dir/jobs/``, the default JobStore to
        ``root_dir/jobstore/``, the report to ``root_dir/report.json``.
    store
        A JobStore with a ``data`` additional store, or a location for :func:`job_store`
        (default ``root_dir/jobstore``).
    log
        Let jobflow set up its own log output (a stream handler on the ``"jobflow"`` logger).
    progress
        Called with a :class:`~.run_progress.JobEvent` when a job starts, completes or fails
        (``str(event)`` is a one-line summary: elapsed time, state, job name, wall time). The
        events are logged by :mod:`~.run_progress` (INFO without a callback, DEBUG with one).

    Returns
    -------
    WorkflowReport
        Failed jobs are reported with their error; they do not stop the flow's other
        branches (jobs that need a failed job's output are reported as ``"not run"``).

    Raises
    ------
    ValueError
        Before anything runs, if ``store`` is a JobStore without a ``data`` store
        (:func:`checked_job_store`).
    """
    from jobflow import run_locally

    root = Path(root_dir).expanduser().resolve()
    store = checked_job_store(root / "jobstore" if store is None else store)
    (root / "jobs").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # jobflow's own noise: monty's deprecated ``cd``, and unconnected jobs of a fan-out
        warnings.filterwarnings("ignore", message="cd is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message="Some jobs are not connected")
        handler = JobProgressLog(n_jobs=len(_flow_jobs(flow)), callback=progress)
        with listening(handler, quiet=not log):
            run_locally(flow, log=log, store=store, create_folders=True, root_dir=root / "jobs")
    report = report_from_store(
        flow, store, handler.failures, root_dir=str(root), wall_time_s=time.perf_counter() - t0
    )
    (root / "report.json").write_text(report.model_dump_json(indent=2))
    for rec in report.failed:
        logger.error("job %r failed: %s", rec.name, rec.error)
    return report

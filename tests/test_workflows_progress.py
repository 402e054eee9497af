"""A local run reports every job as it starts and finishes (name, state, wall time)."""

from __future__ import annotations

import itertools
import logging
import time

import pytest
from click.testing import CliRunner

pytest.importorskip("jobflow")

from jobflow import Flow, JobStore, job
from maggma.stores import MemoryStore

from pymatgen_crystalnet.workflows.run import JobEvent, run_workflow_locally
from pymatgen_crystalnet.workflows.run_progress import JobProgressLog, error_line


@job
def add(a: float, b: float, pause: float = 0.0) -> float:
    time.sleep(pause)
    return a + b


@job
def boom(x: float) -> float:
    raise ValueError("boom went the job")


def _flow() -> Flow:
    first = add(1, 2, pause=0.3)
    second = add(first.output, 3)
    broken = boom(second.output)  # connected: the jobs run in this order
    after = add(broken.output, 1)  # needs the failed job's output: never runs
    return Flow([first, second, broken, after], name="progress test")


def _store() -> JobStore:
    return JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_progress_events_as_jobs_start_and_finish(tmp_path):
    events: list[JobEvent] = []
    root = logging.getLogger()
    collect, old_level = _Collect(), root.level
    root.addHandler(collect)
    root.setLevel(logging.WARNING)
    try:
        report = run_workflow_locally(_flow(), tmp_path, store=_store(), log=False, progress=events.append)
    finally:
        root.removeHandler(collect)
        root.setLevel(old_level)

    seen = [(e.name, e.state) for e in events]
    assert seen == [
        ("add", "started"), ("add", "completed"),
        ("add", "started"), ("add", "completed"),
        ("boom", "started"), ("boom", "failed"),
    ]  # fmt: skip
    first_done = events[1]
    assert first_done.wall_time_s is not None and first_done.wall_time_s >= 0.3  # add() slept 0.3 s
    assert events[0].uuid == first_done.uuid and events[0].wall_time_s is None
    assert [e.n_finished for e in events if e.state != "started"] == [1, 2, 3]
    assert all(e.n_jobs == 4 for e in events)
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(events))
    failed = events[-1]
    assert failed.error == "ValueError: boom went the job" and failed.wall_time_s is not None
    line = str(failed)
    assert "failed" in line and "boom" in line and "3 of 4 jobs done" in line and "boom went the job" in line
    assert str(events[0]).rstrip().endswith("started   add")

    # the report still knows what happened to every job
    not_completed = {r.name: r.state for r in report.jobs if r.state != "completed"}
    assert not_completed == {"boom": "failed", "add": "not run"}
    assert report.failed[0].error == "ValueError: boom went the job"
    # nothing of jobflow's INFO chatter reached the root logger's handlers (only our ERROR summary)
    assert not [r for r in collect.records if r.name.startswith("jobflow")]
    # the loggers were given back as they were
    assert logging.getLogger("jobflow.core.job").level == logging.NOTSET
    assert logging.getLogger("jobflow.core.job").propagate


def test_progress_is_logged_without_a_callback(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="pymatgen_crystalnet.workflows.run_progress"):
        run_workflow_locally(add(2, 2), tmp_path, store=_store(), log=False)
    messages = [r.getMessage() for r in caplog.records if r.name.endswith("run_progress")]
    assert len(messages) == 2 and "started   add" in messages[0] and "completed add in" in messages[1]


def test_handler_ignores_other_records_and_parses_indices():
    handler = JobProgressLog(n_jobs=1)
    uuid = "0c5c5b7e-5f0a-4a8f-9a3b-2c6f3d1e9b10"
    for step in ("Starting", "unrelated", "Finished"):
        message = step if step == "unrelated" else f"{step} job - train (big) ({uuid}, 2)"
        handler.emit(logging.LogRecord("jobflow.core.job", logging.INFO, __file__, 1, message, None, None))
    assert [(e.name, e.index, e.state) for e in handler.events] == [
        ("train (big)", 2, "started"), ("train (big)", 2, "completed"),
    ]  # fmt: skip
    assert error_line("Traceback (most recent call last):\n  File x\nKeyError: 'a'\n") == "KeyError: 'a'"


def test_cli_run_local_prints_progress(tmp_path, monkeypatch):
    import pymatgen_crystalnet.cli.workflow as cli_workflow

    class _Maker:
        def make(self, source):
            return _flow()

    monkeypatch.setattr(cli_workflow, "_maker", lambda *args, **kwargs: _Maker())
    source = tmp_path / "corpus.jsonl"
    source.write_text("")
    result = CliRunner().invoke(
        cli_workflow.workflow, ["run-local", "--source", str(source), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1, result.output  # a job failed
    lines = result.output.splitlines()
    progress = [ln for ln in lines if ln.startswith("[")]
    assert len(progress) == 6
    assert "started   add" in progress[0]
    assert "completed add in" in progress[1] and "1 of 4 jobs done" in progress[1]
    assert "failed    boom" in progress[-1] and "ValueError: boom went the job" in progress[-1]
    assert lines.index(progress[-1]) < next(i for i, ln in enumerate(lines) if "jobs completed;" in ln)

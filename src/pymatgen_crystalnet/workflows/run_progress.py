"""Progress of a local jobflow run: which job started, finished or failed, and how long it took.

jobflow's ``run_locally`` reports through logging: ``Job.run`` logs ``"Starting job - NAME
(UUID[, INDEX])"`` and ``"Finished job - NAME (UUID[, INDEX])"`` on the ``jobflow.core.job``
logger, and the local manager logs ``"NAME failed with exception:"`` and the traceback on
``jobflow.managers.local``. :class:`JobProgressLog` listens to both loggers and turns the records
into :class:`JobEvent` objects: it times each job, collects the failures (for the run's report),
logs every event on this module's logger (INFO, or DEBUG when a callback shows it already) and
hands it to an optional callback.
:func:`listening` attaches it for the duration of a run without printing jobflow's own INFO
records where the user did not ask for them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["JobEvent", "JobProgressLog", "error_line", "listening"]

logger = logging.getLogger(__name__)

#: the loggers jobflow reports job starts, ends and failures on
JOB_LOGGER = "jobflow.core.job"
MANAGER_LOGGER = "jobflow.managers.local"

_STEP = re.compile(
    r"^(?P<what>Starting|Finished) job - (?P<name>.*) \((?P<uuid>[0-9a-fA-F-]{36})(?:, (?P<index>\d+))?\)$"
)
_FAILED = re.compile(r"^(?P<name>.*) failed with exception:\n(?P<tb>.*)$", re.S)
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Failure)\b.*")

State = Literal["started", "completed", "failed"]


def error_line(traceback: str) -> str:
    """The exception line of a traceback (``"ValueError: …"``), or its last line."""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    found = [line.strip() for line in lines if _EXCEPTION_LINE.match(line)]
    if found:
        return found[-1]
    return lines[-1].strip() if lines else traceback


@dataclass(frozen=True)
class JobEvent:
    """One job starting, completing or failing during a local run.

    Attributes
    ----------
    name, uuid, index
        The job (``index`` > 1 for a job that replaced an earlier one).
    state
        ``"started"``, ``"completed"`` or ``"failed"``.
    wall_time_s
        Seconds the job ran (``None`` for ``"started"``).
    elapsed_s
        Seconds since the run started.
    n_finished, n_jobs
        Jobs finished (completed or failed) so far, and jobs in the flow when it started
        (dynamic flows add jobs as they run).
    error
        The exception line of a failure.
    """

    name: str
    uuid: str | None
    index: int
    state: State
    wall_time_s: float | None
    elapsed_s: float
    n_finished: int
    n_jobs: int
    error: str | None = None

    def __str__(self) -> str:
        head = f"[{self.elapsed_s:7.1f} s] {self.state:<9} {self.name}"
        if self.state == "started":
            return head
        tail = f" in {self.wall_time_s:.1f} s ({self.n_finished} of {self.n_jobs} jobs done)"
        return head + tail + (f": {self.error}" if self.error else "")


class JobProgressLog(logging.Handler):
    """A logging handler that turns jobflow's job records into :class:`JobEvent` objects.

    Parameters
    ----------
    n_jobs
        Jobs in the flow (for "k of n").
    callback
        Called with every event. Events are logged here at INFO without a callback, at DEBUG
        with one (the callback shows them already).

    Attributes
    ----------
    events
        Every event, in order.
    failures
        ``(job name, traceback)`` of every failed job.
    """

    def __init__(self, n_jobs: int = 0, callback: Callable[[JobEvent], Any] | None = None) -> None:
        super().__init__(level=logging.INFO)
        self.n_jobs = n_jobs
        self.callback = callback
        self.events: list[JobEvent] = []
        self.failures: list[tuple[str, str]] = []
        self._t0 = time.perf_counter()
        self._running: list[tuple[str, str | None, int, float]] = []  # name, uuid, index, start

    def _emit_event(self, name: str, uuid: str | None, index: int, state: State, started: float | None,
                    error: str | None = None) -> None:  # fmt: skip
        now = time.perf_counter()
        finished = sum(e.state != "started" for e in self.events) + (state != "started")
        event = JobEvent(
            name=name,
            uuid=uuid,
            index=index,
            state=state,
            wall_time_s=None if started is None else now - started,
            elapsed_s=now - self._t0,
            n_finished=finished,
            n_jobs=max(self.n_jobs, finished),
            error=error,
        )
        self.events.append(event)
        logger.log(logging.INFO if self.callback is None else logging.DEBUG, "%s", event)
        if self.callback is not None:
            self.callback(event)

    def _pop(self, name: str, uuid: str | None = None) -> tuple[str, str | None, int, float] | None:
        """The running job with this uuid, or else the latest started one with this name."""
        for k in range(len(self._running) - 1, -1, -1):
            run = self._running[k]
            if (uuid is not None and run[1] == uuid) or (uuid is None and run[0] == name):
                return self._running.pop(k)
        return None

    def emit(self, record: logging.LogRecord) -> None:
        """Handle one record of jobflow's loggers (others are ignored)."""
        try:
            message = record.getMessage()
            if match := _STEP.match(message):
                name, uuid, index = match["name"], match["uuid"], int(match["index"] or 1)
                if match["what"] == "Starting":
                    self._running.append((name, uuid, index, time.perf_counter()))
                    self._emit_event(name, uuid, index, "started", None)
                else:
                    run = self._pop(name, uuid)
                    self._emit_event(name, uuid, index, "completed", run[3] if run else None)
            elif match := _FAILED.match(message):
                name, tb = match["name"], match["tb"].strip()
                self.failures.append((name, tb))
                run = self._pop(name)
                uuid, index, started = (run[1], run[2], run[3]) if run else (None, 1, None)
                self._emit_event(name, uuid, index, "failed", started, error_line(tb))
        except Exception:  # a progress report must never break the run
            self.handleError(record)


@contextmanager
def listening(handler: JobProgressLog, *, quiet: bool = True) -> Iterator[JobProgressLog]:
    """Attach ``handler`` to jobflow's job and manager loggers for the duration of a run.

    The loggers are set to INFO so that the records are made. With ``quiet`` (jobflow's own
    log output not asked for), records that would not have been shown before (effective level
    above INFO) are also kept from propagating to other handlers, so only the progress the
    caller asked for is printed.
    """
    saved = []
    for name in (JOB_LOGGER, MANAGER_LOGGER):
        log = logging.getLogger(name)
        saved.append((log, log.level, log.propagate))
        if log.getEffectiveLevel() > logging.INFO:
            log.setLevel(logging.INFO)
            log.propagate = not quiet
        log.addHandler(handler)
    try:
        yield handler
    finally:
        for log, level, propagate in saved:
            log.removeHandler(handler)
            log.setLevel(level)
            log.propagate = propagate

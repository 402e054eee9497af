""":class:`WorkflowReport`: what happened to every job of a flow, from a local run or a LaunchPad."""

from __future__ import annotations

from typing import Literal

from pymatgen_crystalnet.workflows.provenance import Document

__all__ = ["JobRecord", "WorkflowReport"]


class JobRecord(Document):
    """State of one job of a flow after a run.

    ``state`` is ``"completed"``, ``"failed"`` (with ``error``, the exception's last line,
    and ``traceback``), ``"not run"`` (a parent failed or the run stopped) or, on FireWorks,
    the Firework state in lower case (``"waiting"``, ``"running"``, …).
    """

    name: str
    uuid: str | None = None
    index: int | None = None
    state: str
    error: str | None = None
    traceback: str | None = None
    fw_id: int | None = None
    worker: str | None = None
    category: str | None = None
    output_class: str | None = None


class WorkflowReport(Document):
    """What happened to every job of a flow, from a local run or a LaunchPad.

    Attributes
    ----------
    manager
        ``"local"`` or ``"fireworks"``.
    store
        Description of the JobStore the outputs went to.
    jobs
        One record per job (replacement jobs included).
    """

    manager: Literal["local", "fireworks"]
    store: str
    root_dir: str | None = None
    wall_time_s: float | None = None
    jobs: list[JobRecord]

    @property
    def completed(self) -> bool:
        """Whether every job completed."""
        return all(j.state == "completed" for j in self.jobs)

    @property
    def failed(self) -> list[JobRecord]:
        """The jobs that failed."""
        return [j for j in self.jobs if j.state == "failed"]

    def by_name(self, name: str) -> list[JobRecord]:
        """Records whose job name is ``name``."""
        return [j for j in self.jobs if j.name == name]

    def table(self) -> str:
        """A plain-text table (name, state, error)."""
        width = max([len(j.name) for j in self.jobs] + [4])
        lines = [f"{'job':<{width}}  {'state':<10}  error"]
        for j in self.jobs:
            lines.append(f"{j.name:<{width}}  {j.state:<10}  {j.error or ''}")
        return "\n".join(lines)

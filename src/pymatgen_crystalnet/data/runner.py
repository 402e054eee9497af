"""Run a maggma builder serially or on a pool of worker processes, with a progress bar.

Only the main process touches the stores: workers receive items and return processed
documents, which the main process writes every ``builder.chunk_size`` results. A build killed
at any moment therefore loses at most the results not yet written, and the next run (the
builders are incremental) picks up from there.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from maggma.core import Builder

from pymatgen_crystalnet.data.stores import iter_in_batches

__all__ = ["RunReport", "run_builder"]

logger = logging.getLogger(__name__)

_WORKER_BUILDER: Builder | None = None


@dataclass
class RunReport:
    """What one builder run did."""

    builder: str
    processed: int
    failed: int
    seconds: float
    workers: int

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.processed / self.seconds if self.seconds > 0 else float("nan")


def _init_worker(builder: Builder) -> None:
    global _WORKER_BUILDER
    _WORKER_BUILDER = builder
    logging.getLogger("pymatgen").setLevel(logging.ERROR)


def _process(item: Any) -> Any:
    assert _WORKER_BUILDER is not None
    return _WORKER_BUILDER.process_item(item)


def _primed(items: Iterable[Any]) -> Iterator[Any]:
    """Start the generator so that ``builder.total`` is known before the bar starts."""
    it = iter(items)
    try:
        first = next(it)
    except StopIteration:
        return iter(())
    return itertools.chain([first], it)


def run_builder(
    builder: Builder,
    *,
    workers: int = 1,
    progress: bool = True,
    description: str | None = None,
) -> RunReport:
    """Connect, process every item, write in chunks and finalise one builder.

    Parameters
    ----------
    builder
        Any maggma builder; ``process_item`` must not touch the stores.
    workers
        Worker processes (1: in this process).
    progress
        Show a tqdm bar.
    description
        Label of the bar (default: the builder's class name).

    Returns
    -------
    RunReport
    """
    from tqdm.auto import tqdm

    name = description or type(builder).__name__
    workers = max(1, int(workers))
    start = perf_counter()
    builder.connect()
    items = _primed(builder.get_items())
    total = getattr(builder, "total", None)
    processed = failed = 0
    pool = None
    try:
        if workers == 1:
            results: Iterable[Any] = map(builder.process_item, items)
        else:
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            pool = mp.get_context(method).Pool(workers, initializer=_init_worker,
                                               initargs=(builder,))
            results = pool.imap_unordered(_process, items, chunksize=1)
        bar = tqdm(results, total=total, desc=name, unit="item", disable=not progress,
                   dynamic_ncols=True)
        for chunk in iter_in_batches(bar, max(1, int(builder.chunk_size))):
            done = [r for r in chunk if r is not None]
            builder.update_targets(done)
            processed += len(done)
            failed += sum(1 for r in done if isinstance(r, dict) and r.get("state") == "failed")
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        if pool is not None:
            pool.terminate()
    builder.finalize()
    report = RunReport(name, processed, failed, perf_counter() - start, workers)
    logger.info("%s: %d processed (%d failed) in %.1f s", name, processed, failed, report.seconds)
    return report

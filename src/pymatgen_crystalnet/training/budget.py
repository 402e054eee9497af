"""The wall-time budget of one invocation of a training run (``TrainingConfig.max_minutes``).

An epoch is started only when the mean duration of this invocation's epochs says that it (and
the validations due meanwhile) ends within the budget; the first epoch of an invocation always
runs. The trainer then validates and checkpoints the last epoch run, so ``--resume`` continues
exactly, and study variants given the same budget get the same wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["WallBudget"]


class WallBudget:
    """Durations of an invocation's epochs and the decision to stop.

    Parameters
    ----------
    minutes
        The budget (0 or less: none).
    val_every
        Validation period in epochs (a validation is due after 0-based epoch e when
        ``(e + 1) % val_every == 0``).
    clock
        Seconds of a monotonic clock (replaceable in tests).
    """

    def __init__(self, minutes: float, val_every: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = 60.0 * minutes
        self.val_every = val_every
        self.clock = clock
        self.start = clock()
        self.train_times: list[float] = []
        self.val_times: list[float] = []

    def must_stop_after(self, epoch: int) -> bool:
        """Whether to stop after the steps of 0-based ``epoch`` (call after recording them).

        True when its validation (when due), the next epoch's steps and that epoch's
        validation (when due) would end past the budget.
        """
        if self.seconds <= 0 or not self.train_times:
            return False
        per_val = sum(self.val_times) / len(self.val_times) if self.val_times else 0.0
        due = sum(1 for e in (epoch, epoch + 1) if (e + 1) % self.val_every == 0)
        need = sum(self.train_times) / len(self.train_times) + due * per_val
        return self.clock() - self.start + need > self.seconds

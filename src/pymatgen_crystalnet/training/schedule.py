"""Learning-rate schedule: cosine annealing with warm restarts (SGDR), as a pure function.

The rate is a function of the (fractional) epoch alone, so a resumed run needs no scheduler
state to continue exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["cosine_restarts_lr", "scale_cycles"]


def scale_cycles(cycles: Sequence[int], epochs: int) -> tuple[int, ...]:
    """Scale restart cycle lengths proportionally so that they sum to ``epochs``.

    The paper's (100, 200, 400, 800) with 60 epochs gives (4, 8, 16, 32). When there are
    more cycles than epochs the leading (short) cycles are dropped; every cycle keeps at
    least one epoch; rounding follows the largest-remainder rule.

    Examples
    --------
    >>> scale_cycles((100, 200, 400, 800), 60)
    (4, 8, 16, 32)
    >>> scale_cycles((100, 200, 400, 800), 2)
    (1, 1)
    """
    if epochs < 1:
        raise ValueError(f"epochs must be positive, got {epochs}.")
    cycles = [int(c) for c in cycles]
    if sum(cycles) == epochs:
        return tuple(cycles)
    cycles = cycles[-epochs:]
    total = sum(cycles)
    raw = [c * epochs / total for c in cycles]
    out = [max(1, math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    i = 0
    while sum(out) < epochs:
        out[order[i % len(order)]] += 1
        i += 1
    while sum(out) > epochs:
        j = max(range(len(out)), key=lambda k: out[k])
        out[j] -= 1
    return tuple(out)


def cosine_restarts_lr(epoch: float, cycles: Sequence[int], lr_max: float, lr_min: float) -> float:
    """Learning rate at a fractional epoch under cosine annealing with warm restarts.

    Within a cycle of length L that started at epoch s the rate is
    lr_min + ½ (lr_max − lr_min)(1 + cos(π (epoch − s) / L)); it restarts at lr_max at the
    start of every cycle and stays at lr_min after the last.
    """
    start = 0.0
    for length in cycles:
        if epoch < start + length:
            phase = (epoch - start) / length
            return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * phase))
        start += length
    return lr_min

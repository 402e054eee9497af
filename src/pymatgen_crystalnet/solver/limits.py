"""Memory and time of a solve, estimated before anything is allocated.

A solve holds every candidate grid (``n³`` float32 each, for each cell it is verified on the
same grid), the ``n³`` fractional points (3 float32 each), one regressor chunk of
``batch_points`` rows at the model's widest layer, and one FFT of a grid during verification
(complex128, with its padded copy). The regressor evaluates about ``POINTS_PER_SECOND``
points per second per CPU thread for the bundled model (measured: 3.3–3.6·10⁴ on one thread
of a shared Xeon, ``n`` = 32 and 50); a GPU is counted 50× faster, which is conservative.
A solve whose estimate exceeds ``MEMORY_FRACTION`` of the memory available on its device is
refused with the estimate in the message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pymatgen_crystalnet.devices import available_memory

if TYPE_CHECKING:
    import torch

__all__ = ["MEMORY_FRACTION", "ResourceError", "SolveCost", "available_memory", "check_cost", "estimate_cost"]

logger = logging.getLogger(__name__)

POINTS_PER_SECOND: float = 3.0e4
GPU_SPEEDUP: float = 50.0
MEMORY_FRACTION: float = 0.5
BATCH_POINTS: int = 2**17


class ResourceError(ValueError):
    """A solve that would not fit in memory; the message gives the estimate."""


@dataclass(frozen=True)
class SolveCost:
    """Estimated peak memory (bytes) and time (seconds) of a solve."""

    memory: float
    seconds: float

    def describe(self) -> str:
        """``"about 1.2 GB and 3 min"``."""
        gb = self.memory / 1e9
        mins = self.seconds / 60
        if mins >= 1:
            return f"about {gb:.3g} GB and {mins:.3g} min"
        return f"about {gb:.3g} GB and {self.seconds:.2g} s"


def estimate_cost(
    n_candidates: int, grid: int, n_cells: int = 1, *, widest_layer: int = 256, device_type: str = "cpu",
    threads: int | None = None,
) -> SolveCost:
    """Estimate peak memory and time of ``n_candidates`` grids of ``grid³`` on ``n_cells`` cells."""
    points = float(grid) ** 3
    grids = n_candidates * points * 4.0
    coords = points * 3 * 4.0
    chunk = BATCH_POINTS * widest_layer * 4.0 * 4  # a few activations of the widest layer
    fft = points * 16.0 * 2
    memory = grids + coords + chunk + fft
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    rate = POINTS_PER_SECOND * max(1, threads) * (GPU_SPEEDUP if device_type == "cuda" else 1.0)
    verify = n_candidates * n_cells * (0.05 + points * 2e-6)
    return SolveCost(memory=memory, seconds=n_candidates * points / rate + verify)


def check_cost(cost: SolveCost, device: torch.device | None, what: str) -> None:
    """Refuse ``cost`` when it needs more than ``MEMORY_FRACTION`` of the free memory.

    Raises
    ------
    ResourceError
        Naming the request, the estimate and what is available.
    """
    free = available_memory(device)
    if free is not None and cost.memory > MEMORY_FRACTION * free:
        raise ResourceError(
            f"{what} needs {cost.describe()}, more than {MEMORY_FRACTION:.0%} of the {free / 1e9:.3g} GB "
            "available; use fewer candidates (-n) or a coarser grid (--grid)."
        )
    logger.info("%s: estimated %s.", what, cost.describe())

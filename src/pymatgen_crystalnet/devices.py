"""One device convention for the solver, the evaluation, training and every Maker.

``"auto"`` (or ``None``) means CUDA when it is available, else the CPU; any other value is a
torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). A device that is asked for
but absent is refused with a :class:`ValueError` that says so, never a traceback from deep in
torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: the value meaning "the best device present"
AUTO = "auto"


def resolve_device(device: str | torch.device | None = AUTO, local_rank: int = 0) -> torch.device:
    """Turn a device request into a ``torch.device`` that exists on this machine.

    Parameters
    ----------
    device
        ``"auto"``/``None`` (CUDA if available, else CPU), or a torch device string/object.
    local_rank
        Under ``torchrun``, the process's local rank: picks ``cuda:<local_rank>`` when the
        request names CUDA without an index.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the string is not a device torch knows, or names CUDA/MPS on a machine without it.
    """
    import torch

    if device is None or str(device).strip().lower() == AUTO:
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"Device {str(device)!r} was asked for, but CUDA is not available here; use 'auto' or 'cpu'."
            )
        count = torch.cuda.device_count()
        if dev.index is None:
            dev = torch.device("cuda", local_rank % count)
        elif dev.index >= count:
            raise ValueError(
                f"Device {str(device)!r} was asked for, but this machine has {count} CUDA device(s)."
            )
    elif dev.type == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            raise ValueError(f"Device {str(device)!r} was asked for, but MPS is not available here.")
    return dev


def available_memory(device: torch.device | None = None) -> float | None:
    """Free memory (bytes) of the device: CUDA's free memory, else the host's available memory.

    None when the platform does not tell (no ``/proc/meminfo`` and no ``sysconf``).
    """
    if device is not None and device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return float(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None

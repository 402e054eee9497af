"""Memory limit for density grids: estimate before allocating, refuse with a clear message.

An n₁×n₂×n₃ IAM density grid (:func:`.iam_grid.iam_grid_from_arrays`) and its forward-model
pattern need far more than the 8 bytes per point of the finished grid: the reciprocal-space
part is folded onto a complex grid and transformed (16 + 16 bytes per point), the real-space
stencils hold indices, values and distances for every point near an atom, and the pattern's
structure factors are another complex grid. Measured with ``tracemalloc`` on NaCl and bcc Fe
at n = 60 and 120, the peak was 96–160 bytes per grid point; :data:`BYTES_PER_POINT` takes
the upper figure. At the default limit of 2 GiB that allows n ≈ 237 (the default grid is
50³, about 20 MB), while ``n = 1000`` (1.6 × 10¹¹ bytes) is refused up front instead of
failing after minutes or exhausting the machine.

The limit is :data:`DEFAULT_MAX_GRID_BYTES` unless the environment variable
``CRYSTALNET_MAX_GRID_BYTES`` sets another (bytes, optionally with a suffix: ``8e9``,
``512MiB``, ``16GiB``, ``16GB``), or the caller passes ``max_bytes``.
"""

from __future__ import annotations

import math
import os
import re

__all__ = [
    "BYTES_PER_POINT",
    "DEFAULT_MAX_GRID_BYTES",
    "ENV_MAX_GRID_BYTES",
    "GridSizeError",
    "check_grid_size",
    "grid_memory_estimate",
    "max_grid_bytes",
]

#: Estimated peak bytes per grid point of an IAM grid and its forward pattern (see above).
BYTES_PER_POINT: int = 160
#: Default limit on that estimate: 2 GiB.
DEFAULT_MAX_GRID_BYTES: int = 2 * 1024**3
#: Environment variable that overrides :data:`DEFAULT_MAX_GRID_BYTES`.
ENV_MAX_GRID_BYTES: str = "CRYSTALNET_MAX_GRID_BYTES"

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3,
          "t": 1024**4, "tib": 1024**4}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")


class GridSizeError(ValueError):
    """A grid whose estimated memory exceeds the limit (or whose size is not a grid size)."""


def _parse_size(text: str) -> int:
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(
            f"{ENV_MAX_GRID_BYTES}={text!r} is not a size; give bytes such as 4e9, 512MiB or 16GiB."
        )
    value = float(m.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{ENV_MAX_GRID_BYTES}={text!r} must be a positive size.")
    return int(value)


def max_grid_bytes() -> int:
    """The limit in bytes: ``$CRYSTALNET_MAX_GRID_BYTES`` if set, else :data:`DEFAULT_MAX_GRID_BYTES`.

    Raises
    ------
    ValueError
        If the environment variable is set to something that is not a positive size.
    """
    text = os.environ.get(ENV_MAX_GRID_BYTES, "").strip()
    return _parse_size(text) if text else DEFAULT_MAX_GRID_BYTES


def _dims(n: object) -> tuple[int, int, int]:
    sized = hasattr(n, "__len__") and not isinstance(n, (str, bytes))
    values = tuple(n) if sized else (n, n, n)  # type: ignore[arg-type]
    try:
        dims = tuple(int(v) for v in values)  # type: ignore[call-overload]
        exact = all(float(v) == d for v, d in zip(values, dims))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        dims, exact = (), False
    if len(dims) != 3 or not exact or min(dims) < 1:
        raise GridSizeError(f"Grid size must be a positive integer or three of them, got {n!r}.")
    return dims  # type: ignore[return-value]


def grid_memory_estimate(n: int | tuple[int, int, int], *, grids: int = 1) -> int:
    """Estimated peak bytes to compute ``grids`` IAM grids of size ``n`` and their patterns.

    Parameters
    ----------
    n
        Points per axis, or ``(n₁, n₂, n₃)``.
    grids
        How many such grids are held at once (e.g. candidates of one solve).
    """
    d = _dims(n)
    return d[0] * d[1] * d[2] * BYTES_PER_POINT * max(int(grids), 1)


def check_grid_size(
    n: int | tuple[int, int, int], *, grids: int = 1, max_bytes: int | None = None
) -> int:
    """Refuse a grid whose estimated memory exceeds the limit, before anything is allocated.

    Parameters
    ----------
    n
        Points per axis, or ``(n₁, n₂, n₃)``.
    grids
        How many grids of that size are held at once.
    max_bytes
        The limit; default :func:`max_grid_bytes` (``$CRYSTALNET_MAX_GRID_BYTES`` or 2 GiB).

    Returns
    -------
    int
        The estimate in bytes (within the limit).

    Raises
    ------
    GridSizeError
        (a ``ValueError``) If ``n`` is not a positive grid size, or the estimate exceeds the
        limit; the message names both, the largest n that fits, and how to raise the limit.
    """
    estimate = grid_memory_estimate(n, grids=grids)
    limit = max_grid_bytes() if max_bytes is None else int(max_bytes)
    if estimate > limit:
        largest = int((limit / (BYTES_PER_POINT * max(int(grids), 1))) ** (1 / 3))
        count = f"{grids} grids of " if grids > 1 else "A grid of "
        raise GridSizeError(
            f"{count}{'×'.join(map(str, _dims(n)))} points would need about {_gib(estimate)} of memory "
            f"(estimate: {BYTES_PER_POINT} bytes per point), over the limit of {_gib(limit)}. Use n ≤ "
            f"{largest}, or raise the limit with {ENV_MAX_GRID_BYTES} (e.g. {ENV_MAX_GRID_BYTES}=16GiB)."
        )
    return estimate


def _gib(nbytes: float) -> str:
    return f"{nbytes / 1024**3:.3g} GiB" if nbytes >= 1024**3 / 10 else f"{nbytes / 1024**2:.3g} MiB"

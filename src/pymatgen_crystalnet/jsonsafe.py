"""Make nested results safe for strict JSON: non-finite floats become ``None``.

A PSNR of an exact match is infinite and a score of an empty selection is NaN; strict JSON (and
MongoDB documents) have neither. This is the one place that rule is written.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite_or_none"]


def finite_or_none(obj: Any) -> Any:
    """The same nesting of dicts, lists and tuples with every non-finite float replaced by None.

    Dict keys become strings (as JSON writes them); tuples become lists; other values pass
    through unchanged.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj

"""Shared helper of the benchmark scripts: read structures from a JSONL(.gz) corpus."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

from pymatgen.core import Structure

#: The bundled offline corpus beside the repository (see ../shared/data/README.md).
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "mp_structures.jsonl.gz"


def iter_corpus(path: Path, **filters) -> Iterator[tuple[dict, Structure]]:
    """Yield ``(record, structure)`` for records whose fields equal ``filters`` (callables test)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            ok = all(f(rec[k]) if callable(f) else rec[k] == f for k, f in filters.items())
            if not ok:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield rec, Structure.from_str(rec["cif"], fmt="cif")

"""De-duplication and train/val/test split of built crystals (pure functions).

Duplicates
    Crystals with the same reduced formula *and* space group (as computed by the build) form
    one group, of which one is kept. The kept one is the first by, in order:

    1. carrying a ``seed_split`` (an id of the paper's published lists; test before val
       before train, so the paper's test ids survive);
    2. known to be stable (``e_above_hull`` ≤ tolerance), then lowest ``e_above_hull``
       (unknown last);
    3. fewest sites in the canonical cell;
    4. material id, numerically (``mp-2`` before ``mp-10``), then as text.

Splits
    A kept crystal with a ``seed_split`` (``cubic:train``, ``cubic:extraTrain``,
    ``trigonal:val``, ``…:test``) takes that split, except that a ``val``/``test`` seed whose
    ``e_above_hull`` is known and above the tolerance (the Materials Project's data moved since
    the paper) is left out of the dataset rather than moved, so that it is never trained on.
    Any other crystal takes a split from a hash of its group key (reduced formula, space group
    and a salt): a uniform number u ∈ [0, 1); stable crystals with u < test_fraction go to
    test, then those with u < test_fraction + val_fraction to val, all others to train.
    Unstable crystals and crystals of unknown stability always train. As only one crystal per
    group is kept, a (formula, space group) never spans two splits.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pymatgen_crystalnet.data.config import SplitConfig
from pymatgen_crystalnet.data.schema import DatasetEntry, Split

__all__ = [
    "SEED_SPLITS",
    "assign_splits",
    "group_key",
    "group_uniform",
    "is_stable",
    "natural_id_key",
    "seed_split_of",
]

#: Split names of the paper's lists as they appear in ``seed_split`` after the colon.
SEED_SPLITS: dict[str, Split] = {"train": "train", "extratrain": "train", "val": "val", "test": "test"}
_SEED_PRIORITY: dict[str, int] = {"test": 0, "val": 1, "train": 2}


def group_key(formula: str, spacegroup_number: int) -> str:
    """The duplicate key ``"<reduced formula>|<space group number>"``."""
    return f"{formula}|{int(spacegroup_number)}"


def group_uniform(key: str, salt: str) -> float:
    """A deterministic number in [0, 1) from a group key (SHA-256, platform independent)."""
    digest = hashlib.sha256(f"{salt}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def seed_split_of(seed: str | None) -> Split | None:
    """``"cubic:extraTrain"`` → ``"train"``; None or an unknown label → None."""
    if not seed:
        return None
    return SEED_SPLITS.get(str(seed).rsplit(":", 1)[-1].strip().lower())


def is_stable(e_above_hull: float | None, tolerance: float) -> bool | None:
    """True/False where ``e_above_hull`` is known, else None."""
    if e_above_hull is None:
        return None
    return float(e_above_hull) <= tolerance


def natural_id_key(material_id: str) -> tuple[Any, ...]:
    """Sort key of ids that compares digit runs as numbers (``mp-2`` < ``mp-10``)."""
    parts = re.split(r"(\d+)", material_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _representative_order(doc: dict[str, Any], tolerance: float) -> tuple[Any, ...]:
    seed = seed_split_of(doc.get("seed_split"))
    stable = is_stable(doc.get("e_above_hull"), tolerance)
    ehull = doc.get("e_above_hull")
    return (
        _SEED_PRIORITY.get(seed, 3) if seed else 3,
        0 if stable else 1,
        float(ehull) if ehull is not None else float("inf"),
        int(doc.get("nsites") or 0),
        natural_id_key(str(doc["material_id"])),
        str(doc["material_id"]),
    )


def assign_splits(
    crystals: Iterable[dict[str, Any]], config: SplitConfig | None = None
) -> list[DatasetEntry]:
    """De-duplicate built crystals and assign their splits.

    Parameters
    ----------
    crystals
        Successful crystal documents, each with ``material_id``, ``formula``,
        ``spacegroup_number``, ``crystal_system`` and optionally ``e_above_hull``,
        ``seed_split`` and ``nsites``.
    config
        The split rules (defaults of :class:`SplitConfig`).

    Returns
    -------
    list of DatasetEntry
        One entry per input crystal, sorted by material id.
    """
    config = config or SplitConfig()
    tol = config.stable_tolerance
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in crystals:
        groups[group_key(doc["formula"], doc["spacegroup_number"])].append(doc)
    entries: list[DatasetEntry] = []
    for key, members in groups.items():
        members.sort(key=lambda d: _representative_order(d, tol))
        keeper = members[0]
        stable = is_stable(keeper.get("e_above_hull"), tol)
        split, rule, reason = _split_of(keeper, key, stable, config)
        for doc in members:
            common = {
                "material_id": doc["material_id"],
                "formula": doc["formula"],
                "spacegroup_number": int(doc["spacegroup_number"]),
                "crystal_system": doc["crystal_system"],
                "group_key": key,
                "stable": is_stable(doc.get("e_above_hull"), tol),
            }
            if doc is keeper:
                entries.append(DatasetEntry(**common, kept=split is not None, split=split,
                                            split_rule=rule, reason=reason))
            else:
                entries.append(DatasetEntry(**common, kept=False, duplicate_of=keeper["material_id"],
                                            reason=f"duplicate of {keeper['material_id']}"))
    entries.sort(key=lambda e: natural_id_key(e.material_id))
    return entries


def _split_of(
    doc: dict[str, Any], key: str, stable: bool | None, config: SplitConfig
) -> tuple[Split | None, str | None, str | None]:
    seed = seed_split_of(doc.get("seed_split")) if config.honour_seed_split else None
    if seed is not None:
        if seed in ("val", "test") and stable is False:
            return None, None, (
                f"seed split {doc.get('seed_split')} but e_above_hull = "
                f"{doc.get('e_above_hull'):.4g} eV/atom now: left out (never trained on)"
            )
        return seed, "seed", None
    u = group_uniform(key, config.salt)
    if stable:
        if u < config.test_fraction:
            return "test", "hash", None
        if u < config.test_fraction + config.val_fraction:
            return "val", "hash", None
    return "train", "hash", None

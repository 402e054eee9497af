"""The whole build in one call: source → ``structures`` → ``crystals`` → ``dataset``.

>>> from pymatgen_crystalnet.data import BuildConfig, build_dataset
>>> report = build_dataset(                                    # doctest: +SKIP
...     "path/to/mp_structures.jsonl.gz", "stores/cubic_trigonal",
...     config=BuildConfig(crystal_systems=["cubic", "trigonal"]), workers=2)

Every step is incremental: running it again processes only what is new or changed, and a run
killed at any point finishes on the next run without duplicates.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pymatgen_crystalnet.data.builders import CrystalBuilder, DatasetBuilder
from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.data.runner import RunReport, run_builder
from pymatgen_crystalnet.data.sources import IngestReport, ingest, iter_source
from pymatgen_crystalnet.data.stores import get_store, require_existing

__all__ = ["BuildReport", "build_dataset", "dataset_counts", "open_stores"]

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What :func:`build_dataset` did, and what the store holds afterwards."""

    ingest: IngestReport
    crystals: RunReport
    dataset: RunReport
    counts: dict[str, Any] = field(default_factory=dict)


def open_stores(location: str | os.PathLike, names: tuple[str, ...] = ("structures", "crystals",
                "dataset", "dft_grids", "grids")) -> dict[str, Any]:
    """Connected stores of a dataset location, by collection name."""
    stores = {name: get_store(location, name) for name in names}
    for store in stores.values():
        store.connect()
    return stores


def build_dataset(
    source: str | os.PathLike | Any,
    store: str | os.PathLike,
    *,
    config: BuildConfig | None = None,
    split_config: SplitConfig | None = None,
    workers: int = 1,
    limit: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    mp_options: dict[str, Any] | None = None,
    chunk_size: int = 50,
) -> BuildReport:
    """Ingest a source and build the dataset in ``store``.

    Parameters
    ----------
    source
        A JSONL(.gz) corpus, a folder of CIFs, a CIF file, ``"mp"`` for the Materials Project
        (options in ``mp_options``: ``client``, ``api_key``, ``stable_only``,
        ``max_e_above_hull``, ``max_sites``, ``material_ids``, ``charge_densities``), or an
        iterable of :class:`~.schema.StructureRecord`.
    store
        Store location (see :func:`~.stores.get_store`).
    config, split_config
        Build and split settings; ``config.crystal_systems`` selects the systems.
    workers
        Processes for the crystal build.
    limit
        Ingest at most this many (selected) structures.
    retry_failed
        Rebuild structures that failed before.
    progress
        Show progress bars.
    mp_options
        Options of the Materials Project source (see ``source``).
    chunk_size
        Crystals written per store update (what a kill can lose at most).
    """
    config = config or BuildConfig()
    split_config = split_config or SplitConfig()
    stores = open_stores(store)
    try:
        if isinstance(source, (str, os.PathLike)) and str(source) == "mp":
            from pymatgen_crystalnet.data.mp import fetch_mp

            grids_out = stores["dft_grids"]
            opts = dict(mp_options or {})

            def _records() -> Any:
                for record, grid in fetch_mp(crystal_systems=config.crystal_systems, limit=limit,
                                             grid_n=config.grid_n, **opts):
                    if grid is not None:
                        grids_out.update([grid.model_dump()], key="material_id")
                    yield record

            records: Any = _records()
        elif isinstance(source, (str, os.PathLike)):
            records = iter_source(source, crystal_systems=config.crystal_systems, limit=limit,
                                  symprec=config.symprec)
        else:
            records = source
        ingested = ingest(records, stores["structures"], progress=progress)
    finally:
        for s in stores.values():
            s.close()

    stores = open_stores(store)
    crystal_builder = CrystalBuilder(
        stores["structures"], stores["crystals"], config=config,
        dft_grids=stores["dft_grids"], grids=stores["grids"], retry_failed=retry_failed,
        chunk_size=chunk_size,
    )
    crystals = run_builder(crystal_builder, workers=workers, progress=progress,
                           description="crystals")
    stores = open_stores(store, ("crystals", "dataset"))
    dataset = run_builder(DatasetBuilder(stores["crystals"], stores["dataset"], split_config),
                          progress=False, description="dataset")
    counts = dataset_counts(store, crystal_systems=config.crystal_systems)
    return BuildReport(ingested, crystals, dataset, counts)


def dataset_counts(
    store: str | os.PathLike, *, crystal_systems: list[str] | None = None
) -> dict[str, Any]:
    """Counts of a store: structures, built/failed crystals, and kept crystals by system and split.

    Returns
    -------
    dict
        ``{"structures": int, "successful": int, "failed": int, "duplicates": int,
        "excluded": int, "splits": {system: {split: n}}}``.
    """
    require_existing(store)
    stores = open_stores(store, ("structures", "crystals", "dataset"))
    try:
        states = Counter(d.get("state") for d in stores["crystals"].query(properties=["state"]))
        splits: dict[str, Counter] = {}
        duplicates = excluded = 0
        for d in stores["dataset"].query(
            properties=["crystal_system", "split", "kept", "duplicate_of"]
        ):
            if crystal_systems and d["crystal_system"] not in crystal_systems:
                continue
            if d.get("duplicate_of"):
                duplicates += 1
            elif not d.get("kept"):
                excluded += 1
            else:
                splits.setdefault(d["crystal_system"], Counter())[d["split"]] += 1
        return {
            "structures": stores["structures"].count(),
            "successful": states.get("successful", 0),
            "failed": states.get("failed", 0),
            "duplicates": duplicates,
            "excluded": excluded,
            "splits": {k: dict(v) for k, v in sorted(splits.items())},
        }
    finally:
        for s in stores.values():
            s.close()

"""Dataset pipeline: structure sources → maggma builders → stores → compact training export.

Modules
-------
sources
    JSONL(.gz) corpora, CIF folders, lists of structures; :func:`ingest` into a store.
mp
    The Materials Project through mp-api (structures, optional DFT charge densities).
dft
    CHGCAR densities regridded with mp-pyrho onto the canonical cell.
stores
    :func:`get_store`: embedded montydb store (default), JSON files, or MongoDB (+ GridFS).
builders
    ``CrystalBuilder`` (a maggma ``MapBuilder``) and ``DatasetBuilder`` (dedup and splits).
splits
    The de-duplication and split rules, as pure functions.
runner, pipeline
    Running builders with worker processes; :func:`build_dataset` for the whole build.
export, reader
    The versioned ``.npz`` export, and reading it with numpy alone.
torch_dataset
    ``CrystalDensityDataset`` (imports torch; import it explicitly).

Names are imported lazily, so ``import pymatgen_crystalnet.data`` loads neither maggma nor
pymatgen, and the reader works where only numpy (and torch) are installed.
"""

from __future__ import annotations

from pymatgen_crystalnet._lazy import lazy_exports

__all__ = [
    "BuildConfig",
    "CrystalBuilder",
    "DatasetBuilder",
    "ExportedDataset",
    "SplitConfig",
    "build_dataset",
    "dataset_counts",
    "export_dataset",
    "get_store",
    "ingest",
    "iter_source",
    "load_export",
]

_LAZY: dict[str, str] = {
    "BuildConfig": "config",
    "SplitConfig": "config",
    "CrystalBuilder": "builders",
    "DatasetBuilder": "builders",
    "ExportedDataset": "reader",
    "load_export": "reader",
    "build_dataset": "pipeline",
    "dataset_counts": "pipeline",
    "export_dataset": "export",
    "get_store": "stores",
    "ingest": "sources",
    "iter_source": "sources",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

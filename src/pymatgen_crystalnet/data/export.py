"""Export the kept crystals of a store to the compact training format (:mod:`.reader`).

The archive is written to a temporary file and renamed into place, so a failed or
interrupted export leaves no partial file behind.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pymatgen_crystalnet.atomic import atomic_path
from pymatgen_crystalnet.data.config import normalise_crystal_systems
from pymatgen_crystalnet.data.reader import FORMAT_VERSION
from pymatgen_crystalnet.data.schema import GridDoc
from pymatgen_crystalnet.data.splits import natural_id_key
from pymatgen_crystalnet.data.stores import get_store, require_existing

__all__ = ["ExportSummary", "export_dataset"]

logger = logging.getLogger(__name__)

_N_BINS = 1024
_N_ELEMENTS = 118
_SPLITS = ("train", "val", "test")


@dataclass
class ExportSummary:
    """What :func:`export_dataset` wrote."""

    path: Path
    n_crystals: int
    n_grids: int
    bytes: int
    counts: dict[str, dict[str, int]]


def _settings(docs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("cell", "b_factor", "symprec", "wavelength", "config_fingerprint")
    values = {k: {d.get(k) for d in docs} for k in keys}
    mixed = {k: sorted(map(str, v)) for k, v in values.items() if len(v) > 1}
    if mixed:
        raise ValueError(
            f"The selected crystals were built with different settings ({mixed}); rebuild the "
            "store with one setting before exporting."
        )
    return {k: next(iter(v)) if v else None for k, v in values.items()}


def export_dataset(
    store: str | os.PathLike,
    path: str | os.PathLike,
    *,
    splits: list[str] | tuple[str, ...] | None = None,
    crystal_systems: list[str] | None = None,
    include_grids: bool = True,
    xrd_dtype: str = "float16",
) -> ExportSummary:
    """Write the kept crystals of a store to one ``.npz`` export.

    Parameters
    ----------
    store
        Store location (see :func:`~.stores.get_store`).
    path
        Output file (``.npz`` is appended if missing).
    splits
        Splits to include (default: all three).
    crystal_systems
        Systems to include (default: all).
    include_grids
        Include the DFT density grids where crystals have them.
    xrd_dtype
        ``float16`` (default; the vectors are peak heights in [0, 1]) or ``float32``.

    Returns
    -------
    ExportSummary

    Raises
    ------
    FileNotFoundError
        If the store does not exist.
    ValueError
        If nothing matches, a split name is unknown, or the crystals were built with
        different settings.
    """
    from pymatgen_crystalnet._version import __version__
    from pymatgen_crystalnet.physics.form_factors import coefficient_table

    splits = list(splits) if splits else list(_SPLITS)
    unknown = [s for s in splits if s not in _SPLITS]
    if unknown:
        raise ValueError(f"Unknown split(s) {unknown}; choose from {', '.join(_SPLITS)}.")
    systems = normalise_crystal_systems(crystal_systems)
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")

    require_existing(store)
    dataset = get_store(store, "dataset")
    crystals = get_store(store, "crystals")
    dataset.connect()
    crystals.connect()
    try:
        chosen = {
            d["material_id"]: d["split"]
            for d in dataset.query(criteria={"kept": True},
                                   properties=["material_id", "split", "crystal_system"])
            if d.get("split") in splits and (systems is None or d["crystal_system"] in systems)
        }
        docs = [d for d in crystals.query(criteria={"state": "successful"})
                if d["material_id"] in chosen]
    finally:
        dataset.close()
        crystals.close()
    if not docs:
        raise ValueError(f"Nothing to export from {store}: no kept crystal in {splits}"
                         + (f" of the systems {systems}" if systems else "") + ".")
    docs.sort(key=lambda d: natural_id_key(d["material_id"]))
    settings = _settings(docs)
    grids = _load_grids(store, [d for d in docs if d.get("density_source") == "dft"]) \
        if include_grids else {}

    n = len(docs)
    arrays: dict[str, Any] = {
        "material_id": np.array([d["material_id"] for d in docs], dtype=np.str_),
        "formula": np.array([d["formula"] for d in docs], dtype=np.str_),
        "split": np.array([chosen[d["material_id"]] for d in docs], dtype=np.str_),
        "crystal_system": np.array([d["crystal_system"] for d in docs], dtype=np.str_),
        "spacegroup_number": np.array([d["spacegroup_number"] for d in docs], dtype=np.int16),
        "e_above_hull": np.array([np.nan if d.get("e_above_hull") is None else d["e_above_hull"]
                                  for d in docs], dtype=np.float32),
        # "dft" only where the grid is in the export; otherwise the IAM truth applies
        "density_source": np.array(["dft" if d["material_id"] in grids else "iam"
                                    for d in docs], dtype=np.str_),
    }
    xrd = np.zeros((n, _N_BINS), dtype=np.float32)
    comp = np.zeros((n, _N_ELEMENTS), dtype=np.float32)
    for i, d in enumerate(docs):
        xrd[i, d["xrd_bins"]] = d["xrd_values"]
        comp[i, np.asarray(d["composition_z"], dtype=np.int64) - 1] = d["composition_fractions"]
    arrays["xrd"] = xrd.astype(xrd_dtype)
    arrays["composition"] = comp
    arrays["lattice"] = np.array([d["lattice"] for d in docs], dtype=np.float64)
    counts = np.array([len(d["atomic_numbers"]) for d in docs], dtype=np.int64)
    arrays["atom_offsets"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    arrays["frac_coords"] = np.concatenate([np.asarray(d["frac_coords"], dtype=np.float64)
                                            for d in docs]).reshape(-1, 3)
    arrays["atomic_numbers"] = np.concatenate([d["atomic_numbers"] for d in docs]).astype(np.int16)
    arrays["occupancies"] = np.concatenate([d["occupancies"] for d in docs]).astype(np.float32)
    arrays["form_factors"] = np.array(coefficient_table(), dtype=np.float64)
    grid_index = np.full(n, -1, dtype=np.int32)
    grid_list = []
    for i, d in enumerate(docs):
        if d["material_id"] in grids:
            grid_index[i] = len(grid_list)
            grid_list.append(grids[d["material_id"]])
    arrays["grid_index"] = grid_index
    if grid_list:
        arrays["grids"] = np.stack(grid_list).astype(np.float32)

    by_system: dict[str, Counter] = {}
    for system, split in zip(arrays["crystal_system"].tolist(), arrays["split"].tolist()):
        by_system.setdefault(system, Counter())[split] += 1
    count_dict = {k: dict(sorted(v.items())) for k, v in sorted(by_system.items())}
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
        "n_crystals": n,
        "n_atoms": int(arrays["atom_offsets"][-1]),
        "cell": settings["cell"],
        "b_factor": settings["b_factor"],
        "symprec": settings["symprec"],
        "wavelength": settings["wavelength"],
        "config_fingerprint": settings["config_fingerprint"],
        "grid_n": int(arrays["grids"].shape[1]) if grid_list else None,
        "xrd_dtype": str(np.dtype(xrd_dtype)),
        "composition": "atomic fractions, index = Z - 1",
        "form_factors": "Waasmaier-Kirfel (1995) via xraydb; row Z = a1..a5, b1..b5, c",
        "counts": count_dict,
        "density_sources": dict(Counter(arrays["density_source"].tolist())),
        "splits": splits,
        "crystal_systems": systems,
        "source_store": str(store) if "@" not in str(store) else "mongodb",
    }
    arrays["manifest"] = np.array(json.dumps(manifest))
    _atomic_savez(path, arrays)
    size = path.stat().st_size
    logger.info("exported %d crystals (%d grids) to %s (%.2f MiB)", n, len(grid_list), path,
                size / 2**20)
    return ExportSummary(path, n, len(grid_list), size, count_dict)


def _load_grids(store: str | os.PathLike, docs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    if not docs:
        return {}
    wanted = {d["material_id"] for d in docs}
    grid_store = get_store(store, "grids")
    grid_store.connect()
    try:
        out = {}
        for g in grid_store.query():
            if g.get("material_id") in wanted:
                out[g["material_id"]] = GridDoc(**g).array()
    finally:
        grid_store.close()
    sizes = {g.shape for g in out.values()}
    if len(sizes) > 1:
        raise ValueError(f"The stored grids have different sizes {sorted(sizes)}; rebuild with one n.")
    missing = wanted - set(out)
    if missing:
        logger.warning("%d DFT crystals have no stored grid; they fall back to IAM", len(missing))
    return out


def _atomic_savez(path: Path, arrays: dict[str, Any]) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)

"""maggma builders: ``structures`` → ``crystals`` → ``dataset``.

:class:`CrystalBuilder` (a ``MapBuilder``)
    One document per input structure: canonical cell and symmetry, the 1024-bin XRD vector,
    the composition vector, the arrays that evaluate the IAM density anywhere, and, where the
    source had a DFT density, that density on the canonical cell (``grids`` collection).
    A structure that cannot be built gets ``state="failed"`` and the error text; the build
    goes on. Incremental: a structure is (re)built only if it is new, changed since its last
    build, built with other settings (:meth:`BuildConfig.fingerprint`), or failed and
    ``retry_failed`` is set.
:class:`DatasetBuilder`
    De-duplication and splits over all successful crystals (:mod:`.splits`); it rewrites only
    the entries that changed and drops the entries of crystals that are gone.

Both are plain maggma builders (``get_items`` / ``process_item`` / ``update_targets``), so
maggma's own runners work as well as :func:`pymatgen_crystalnet.data.runner.run_builder`.
"""

from __future__ import annotations

import logging
import traceback
import warnings
from collections.abc import Iterator
from datetime import datetime
from time import perf_counter
from typing import Any

import numpy as np
from maggma.builders import MapBuilder
from maggma.core import Builder, Store
from maggma.utils import Timeout

from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.data.schema import (
    CrystalDoc,
    DatasetEntry,
    GridDoc,
    StructureRecord,
    encode_array,
    utcnow,
)
from pymatgen_crystalnet.data.splits import assign_splits
from pymatgen_crystalnet.data.stores import supports_indexes

__all__ = ["CrystalBuilder", "DatasetBuilder", "build_crystal"]

logger = logging.getLogger(__name__)

#: Provenance fields copied from the input record to the built document.
_PROVENANCE = ("e_above_hull", "formation_energy_per_atom", "seed_split", "source")
#: Fields the dataset step reads from each crystal.
_SUMMARY_FIELDS = ("material_id", "formula", "spacegroup_number", "crystal_system",
                   "e_above_hull", "seed_split", "nsites")


def build_crystal(
    record: StructureRecord | dict[str, Any],
    config: BuildConfig,
    dft_grid: GridDoc | dict[str, Any] | None = None,
) -> tuple[CrystalDoc, GridDoc | None]:
    """Turn one input structure into a crystal document (and a canonical DFT grid).

    Parameters
    ----------
    record
        The input (a ``structures`` document).
    config
        Build settings.
    dft_grid
        The source's DFT density on the record's own cell (``dft_grids`` document), if any.

    Returns
    -------
    tuple
        ``(CrystalDoc, GridDoc or None)``.

    Raises
    ------
    ValueError
        For a structure that cannot be used (no sites, an element without an X-ray form
        factor, failed symmetry analysis, no reflection, …); the builder records the message.
    """
    from pymatgen_crystalnet.featurize.composition import composition_vector
    from pymatgen_crystalnet.featurize.xrd_vector import xrd_vector
    from pymatgen_crystalnet.physics.cells import canonical_cell, symmetry_info
    from pymatgen_crystalnet.physics.form_factors import MAX_Z
    from pymatgen_crystalnet.physics.iam import structure_arrays
    from pymatgen_crystalnet.physics.units import MO_KA

    rec = record if isinstance(record, StructureRecord) else StructureRecord(**record)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = rec.to_structure()
    except Exception as exc:
        raise ValueError(f"cannot read the structure: {exc}") from None
    if len(structure) == 0:
        raise ValueError("the structure has no sites")
    zs_in = {getattr(sp, "Z", 0) for sp in structure.composition.elements}
    if not all(1 <= z <= MAX_Z for z in zs_in):
        raise ValueError(
            f"{structure.composition.reduced_formula}: an element has no X-ray form factor "
            f"(Z must be 1..{MAX_Z})"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        canonical = canonical_cell(structure, config.cell, config.symprec)
        sym = symmetry_info(structure, symprec=config.symprec)
        xrd = xrd_vector(canonical, b_factor=config.b_factor)
    lattice, frac, zs, occ = structure_arrays(canonical)
    frac = np.mod(frac, 1.0)
    frac[frac >= 1.0] = 0.0
    comp = composition_vector(canonical.composition, "full")
    bins = np.flatnonzero(xrd)
    nonzero = np.flatnonzero(comp)
    grid_doc = None
    if dft_grid is not None:
        grid_doc = _canonical_grid(structure, canonical, dft_grid, rec.material_id, config)
    doc = CrystalDoc(
        material_id=rec.material_id,
        config_fingerprint=config.fingerprint(),
        formula=canonical.composition.reduced_formula,
        spacegroup_number=int(sym["spacegroup_number"]),
        spacegroup_symbol=str(sym["spacegroup_symbol"]),
        crystal_system=str(sym["crystal_system"]).lower(),
        cell=config.cell,
        symprec=config.symprec,
        b_factor=config.b_factor,
        wavelength=MO_KA,
        nsites=len(canonical),
        volume=float(canonical.volume),
        lattice=lattice.tolist(),
        frac_coords=frac.tolist(),
        atomic_numbers=[int(z) for z in zs],
        occupancies=[float(o) for o in occ],
        xrd_bins=bins.tolist(),
        xrd_values=[round(float(v), 6) for v in xrd[bins]],
        composition_z=(nonzero + 1).tolist(),
        composition_fractions=[float(v) for v in comp[nonzero]],
        density_source="dft" if grid_doc is not None else "iam",
        grid_n=grid_doc.n if grid_doc is not None else None,
        **{k: getattr(rec, k) for k in _PROVENANCE},
    )
    return doc, grid_doc


def _canonical_grid(
    structure: Any, canonical: Any, dft_grid: GridDoc | dict[str, Any], material_id: str,
    config: BuildConfig,
) -> GridDoc:
    from pymatgen_crystalnet.data.dft import chgcar_on_canonical_cell
    from pymatgen_crystalnet.physics.cells import grid_to_volumetric

    raw = dft_grid if isinstance(dft_grid, GridDoc) else GridDoc(**dft_grid)
    if not np.allclose(raw.lattice, structure.lattice.matrix, atol=1e-4):
        raise ValueError("the stored DFT grid belongs to another cell than the structure")
    volumetric = grid_to_volumetric(raw.array(), structure)
    result = chgcar_on_canonical_cell(volumetric, config.grid_n, canonical=canonical,
                                      symprec=config.symprec)
    return GridDoc(
        material_id=material_id,
        n=config.grid_n,
        cell=config.cell,
        lattice=np.asarray(canonical.lattice.matrix).tolist(),
        source="dft",
        electrons=result.electrons,
        grid=encode_array(result.grid),
    )


class CrystalBuilder(MapBuilder):
    """Build ``crystals`` (and canonical DFT ``grids``) from ``structures``.

    Parameters
    ----------
    structures
        Source store of :class:`~.schema.StructureRecord` documents.
    crystals
        Target store of :class:`~.schema.CrystalDoc` documents.
    config
        Build settings (a :class:`BuildConfig` or its dict).
    dft_grids
        Store of downloaded DFT grids (source side), if the source had any.
    grids
        Store for the DFT grids on the canonical cell; needed with ``dft_grids``.
    retry_failed
        Rebuild documents that failed before.
    timeout
        Seconds allowed per structure (0: no limit).
    chunk_size
        Documents written per store update.
    """

    def __init__(
        self,
        structures: Store,
        crystals: Store,
        config: BuildConfig | dict | None = None,
        dft_grids: Store | None = None,
        grids: Store | None = None,
        retry_failed: bool = False,
        timeout: int = 0,
        chunk_size: int = 50,
        **kwargs: Any,
    ) -> None:
        if isinstance(config, dict):
            config = BuildConfig.from_dict(config)
        self.config: BuildConfig = config or BuildConfig()
        self.structures = structures
        self.crystals = crystals
        self.dft_grids = dft_grids
        self.grids = grids
        if (dft_grids is None) != (grids is None):
            raise ValueError("Give both dft_grids and grids, or neither.")
        super().__init__(
            source=structures, target=crystals, retry_failed=retry_failed, timeout=timeout,
            chunk_size=chunk_size, store_process_time=True, **kwargs,
        )
        if dft_grids is not None and grids is not None:
            self.sources.append(dft_grids)
            self.targets.append(grids)

    # -- incremental selection ------------------------------------------------------------

    def ensure_indexes(self) -> None:
        """Create the indexes the build relies on, where the store supports them."""
        for store, fields in ((self.source, [self.source.key, self.source.last_updated_field]),
                              (self.target, [self.target.key, self.target.last_updated_field,
                                             "state"])):
            if supports_indexes(store):
                for field in fields:
                    store.ensure_index(field)

    def _source_query(self) -> dict[str, Any]:
        systems = self.config.crystal_systems
        if not systems:
            return dict(self.query or {})
        wanted = {"$or": [{"crystal_system": {"$in": systems}}, {"crystal_system": None}]}
        return {"$and": [self.query, wanted]} if self.query else wanted

    def keys_to_build(self) -> list[str]:
        """Keys of the source documents that need (re)building."""
        src, tgt = self.source, self.target
        lu = src.last_updated_field
        fingerprint = self.config.fingerprint()
        built = {
            d[tgt.key]: d
            for d in tgt.query(properties=[tgt.key, tgt.last_updated_field, "state",
                                           "config_fingerprint"])
        }
        todo = []
        for d in src.query(criteria=self._source_query(), properties=[src.key, lu]):
            done = built.get(d[src.key])
            if done is None:
                todo.append(d[src.key])
                continue
            src_lu = src._lu_func[0](d.get(lu, datetime.max))
            tgt_lu = tgt._lu_func[0](done.get(tgt.last_updated_field, datetime.min))
            if (src_lu > tgt_lu or done.get("config_fingerprint") != fingerprint
                    or (self.retry_failed and done.get("state") == "failed")):
                todo.append(d[src.key])
        return todo

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Source documents to build, in one pass over the source (no ``$in`` queries)."""
        self.ensure_indexes()
        todo = set(self.keys_to_build())
        self.total = len(todo)
        self.logger.info("%d of the selected structures need building", self.total)
        if not todo:
            return
        grids: dict[str, dict[str, Any]] = {}
        if self.dft_grids is not None:
            grids = {d["material_id"]: d for d in self.dft_grids.query()
                     if d.get("material_id") in todo}
        for item in self.source.query(criteria=self._source_query()):
            key = item[self.source.key]
            if key in todo:
                item.pop("_id", None)
                if item.get("has_dft_density") and key in grids:
                    grid = dict(grids[key])
                    grid.pop("_id", None)
                    item["_dft_grid"] = grid
                yield item

    # -- processing -------------------------------------------------------------------------

    def unary_function(self, item: dict[str, Any]) -> dict[str, Any]:
        """Build one document (used by :meth:`process_item`)."""
        dft = item.pop("_dft_grid", None)
        if item.get("has_dft_density") and dft is None:
            raise ValueError("the source has a DFT density but its grid is missing from the store")
        doc, grid = build_crystal(item, self.config, dft)
        out = doc.model_dump()
        if grid is not None:
            out["_grid"] = grid.model_dump()
        return out

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Build one document; failures become ``state="failed"`` with the error text."""
        key = item[self.source.key]
        start = perf_counter()
        try:
            with Timeout(seconds=self.timeout):
                out = self.unary_function(dict(item))
        except Exception as exc:
            message = str(exc) or type(exc).__name__
            self.logger.warning("%s failed: %s", key, message)
            self.logger.debug("%s", traceback.format_exc())
            out = CrystalDoc(
                material_id=key, state="failed", error=message,
                config_fingerprint=self.config.fingerprint(),
                formula=item.get("formula"),
                **{k: item.get(k) for k in _PROVENANCE},
            ).model_dump(exclude_none=True)
        lu = self.source.last_updated_field
        out[self.target.key] = key
        out[self.target.last_updated_field] = self.source._lu_func[0](item.get(lu, utcnow()))
        out["_process_time"] = perf_counter() - start
        return out

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Write grids first, then the crystal documents (a kill in between only repeats work)."""
        grids = [item.pop("_grid") for item in items if "_grid" in item]
        if grids and self.grids is not None:
            self.grids.update(grids, key="material_id")
        stamp = utcnow()
        for item in items:
            item["_bt"] = stamp
            item.pop("_id", None)
        if items:
            self.target.update(items)


class DatasetBuilder(Builder):
    """De-duplicate the successful crystals and assign splits (``crystals`` → ``dataset``).

    Parameters
    ----------
    crystals
        Store of built crystals.
    dataset
        Target store of :class:`~.schema.DatasetEntry` documents.
    config
        Split rules (a :class:`SplitConfig` or its dict).
    """

    def __init__(
        self,
        crystals: Store,
        dataset: Store,
        config: SplitConfig | dict | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(config, dict):
            config = SplitConfig.from_dict(config)
        self.config: SplitConfig = config or SplitConfig()
        self.crystals = crystals
        self.dataset = dataset
        super().__init__(sources=[crystals], targets=[dataset], **kwargs)
        self.total = 1

    def get_items(self) -> Iterator[list[dict[str, Any]]]:
        """One item: the summaries of all successful crystals."""
        yield list(self.crystals.query(criteria={"state": "successful"},
                                       properties=list(_SUMMARY_FIELDS)))

    def process_item(self, item: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Assign duplicates and splits to all crystals at once."""
        return [e.model_dump() for e in assign_splits(item, self.config)]

    def update_targets(self, items: list[list[dict[str, Any]]]) -> None:
        """Write changed entries; remove entries of crystals that are no longer there."""
        entries = [e for batch in items for e in batch]
        compare = [f for f in DatasetEntry.model_fields if f != "last_updated"]
        old = {d["material_id"]: d for d in self.dataset.query(properties=compare)}
        changed = [e for e in entries
                   if e["material_id"] not in old
                   or any(old[e["material_id"]].get(f) != e.get(f) for f in compare)]
        stamp = utcnow()
        for e in changed:
            e["last_updated"] = stamp
        if changed:
            self.dataset.update(changed, key="material_id")
        gone = set(old) - {e["material_id"] for e in entries}
        if gone:
            self.dataset.remove_docs({"material_id": {"$in": sorted(gone)}})
        self.logger.info("dataset: %d entries, %d changed, %d removed", len(entries),
                         len(changed), len(gone))

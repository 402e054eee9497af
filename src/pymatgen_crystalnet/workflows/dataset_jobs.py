"""Dataset jobs: build and export a dataset (:class:`BuildDatasetMaker`), pick a pattern to solve.

::

    from pymatgen_crystalnet.workflows.dataset_jobs import BuildDatasetMaker

    build = BuildDatasetMaker(limit=100).make("corpus.jsonl.gz")
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Maker

from pymatgen_crystalnet.data.config import BuildConfig, SplitConfig
from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.workflows.job_decorator import _work_path, crystalnet_job
from pymatgen_crystalnet.workflows.job_inputs import checked_export
from pymatgen_crystalnet.workflows.schemas import DatasetDocument, PatternDocument, make_provenance

__all__ = ["BuildDatasetMaker", "pick_pattern"]

logger = logging.getLogger(__name__)



@dataclass
class BuildDatasetMaker(Maker):
    """Build a dataset from a structure source and export it for training.

    Runs :func:`pymatgen_crystalnet.data.build_dataset` (incremental: a rerun on the same
    store only does what is new) and :func:`~pymatgen_crystalnet.data.export_dataset`.

    Parameters
    ----------
    name
        Job name.
    build_config, split_config
        How crystals become training data, and the de-duplication and split rules.
    workers
        Processes for the crystal build.
    limit
        Ingest at most this many (selected) structures.
    export_crystal_systems
        Systems to export (default: those of ``build_config``, or all).
    xrd_dtype
        Storage type of the exported XRD vectors.
    """

    name: str = "build dataset"
    build_config: BuildConfig = field(default_factory=BuildConfig)
    split_config: SplitConfig = field(default_factory=SplitConfig)
    workers: int = 1
    limit: int | None = None
    export_crystal_systems: list[str] | None = None
    xrd_dtype: str = "float16"

    @crystalnet_job(DatasetDocument)
    def make(
        self, source: str, store: str | None = None, export: str | None = None
    ) -> DatasetDocument:
        """Build the store at ``store`` from ``source`` and export it to ``export``.

        Parameters
        ----------
        source
            A JSONL(.gz) corpus, a folder of CIFs, a CIF file, or ``"mp"``.
        store
            Store location (directory, ``json://DIR`` or a ``mongodb://`` URI); default
            ``dataset_store/`` in the job's folder.
        export
            The ``.npz`` export; default ``dataset.npz`` in the job's folder.
        """
        from pymatgen_crystalnet.data.export import export_dataset
        from pymatgen_crystalnet.data.pipeline import build_dataset
        from pymatgen_crystalnet.data.reader import load_export
        from pymatgen_crystalnet.data.stores import is_mongo_uri

        t0 = time.perf_counter()
        is_file = source != "mp" and Path(source).is_file()
        if source != "mp" and not Path(source).exists():
            raise FileNotFoundError(f"The structure source {source} does not exist.")
        source_text = source if source == "mp" else str(Path(source).resolve())
        if store is None:
            store_text = str(_work_path(None, "dataset_store"))
        elif is_mongo_uri(store) or str(store).startswith("json://"):
            store_text = str(store)
        else:
            store_text = str(_work_path(store, "dataset_store"))
        export_path = _work_path(export, "dataset.npz")

        report = build_dataset(
            source_text,
            store_text,
            config=self.build_config,
            split_config=self.split_config,
            workers=self.workers,
            limit=self.limit,
            progress=False,
        )
        systems = self.export_crystal_systems or self.build_config.crystal_systems
        summary = export_dataset(store_text, export_path, crystal_systems=systems, xrd_dtype=self.xrd_dtype)
        exported = load_export(summary.path)
        ids: dict[str, list[str]] = {}
        for mid, split in zip(exported.material_id.tolist(), exported.split.tolist()):
            ids.setdefault(split, []).append(mid)
        counts = dict(report.counts)
        export_sha = sha256_file(summary.path)
        source_sha = sha256_file(source_text) if is_file else None
        logger.info("dataset: %d crystals exported to %s", summary.n_crystals, summary.path)
        return DatasetDocument(
            source=source_text,
            source_sha256=source_sha,
            store=store_text if "@" not in store_text else "mongodb",
            export_path=str(summary.path),
            export_sha256=export_sha,
            export_bytes=summary.bytes,
            n_crystals=summary.n_crystals,
            counts=summary.counts,
            build={k: v for k, v in counts.items() if k != "splits"},
            build_config=self.build_config.as_dict(),
            split_config=self.split_config.as_dict(),
            cell=exported.manifest.get("cell"),
            b_factor=exported.manifest.get("b_factor"),
            wavelength=exported.manifest.get("wavelength"),
            material_ids=ids,
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(
                self, source=source_text, source_sha256=source_sha, export_sha256=export_sha
            ),
        )



@crystalnet_job(PatternDocument)
def pick_pattern(
    dataset: DatasetDocument | str, split: str = "test", index: int = 0, composition: bool = True
) -> PatternDocument:
    """The pattern, formula and cell of one crystal of an export, as a solver input.

    Parameters
    ----------
    dataset
        A :class:`~.schemas.DatasetDocument` or an export path.
    split
        Split to take the crystal from; when it is empty, the first of test, val, train that
        is not.
    index
        Which crystal of the split (in the export's order).
    composition
        Give the solver the formula (else no formula).
    """
    import numpy as np

    from pymatgen_crystalnet.data.reader import load_export

    path, digest = checked_export(dataset)
    data = load_export(path)
    order = [split] + [s for s in ("test", "val", "train") if s != split]
    for name in order:
        rows = np.flatnonzero(data.split == name)
        if len(rows):
            if name != split:
                logger.warning("The export has no %s crystal; taking one from %s.", split, name)
            break
    else:  # pragma: no cover - load_export refuses empty exports
        raise ValueError(f"{path} holds no crystal.")
    i = int(rows[index % len(rows)])
    return PatternDocument(
        material_id=str(data.material_id[i]),
        formula=str(data.formula[i]),
        crystal_system=str(data.crystal_system[i]),
        split=name,
        xrd_vector=np.asarray(data.xrd[i], dtype=np.float32).tolist(),
        composition=str(data.formula[i]) if composition else None,
        lattice=np.asarray(data.lattice[i]).tolist(),
        cell=data.manifest.get("cell"),
        provenance=make_provenance(None, export=str(path), export_sha256=digest),
    )

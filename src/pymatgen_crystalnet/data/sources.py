"""Structure sources: JSONL corpora, CIF folders, lists of structures; and ingestion.

Every reader yields :class:`~pymatgen_crystalnet.data.schema.StructureRecord` objects;
:func:`ingest` writes them to the ``structures`` collection of a store, skipping records
whose content has not changed (so a rerun does not trigger rebuilds).

The JSONL format is the one of the offline Materials Project corpus shipped beside the
project (``mp_structures.jsonl.gz``; gzip optional): one JSON object per line with
``material_id`` and ``cif`` (or ``structure``, a pymatgen dict), and optionally ``formula``,
``crystal_system``, ``spacegroup_number``, ``nsites``, ``e_above_hull``,
``formation_energy_per_atom``, ``seed_split`` and ``source``.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pymatgen_crystalnet.data.config import normalise_crystal_systems
from pymatgen_crystalnet.data.errors import DataFileError
from pymatgen_crystalnet.data.schema import StructureRecord, utcnow
from pymatgen_crystalnet.data.stores import iter_in_batches

if TYPE_CHECKING:
    from maggma.core import Store
    from pymatgen.core import Structure

__all__ = [
    "IngestReport",
    "ingest",
    "iter_source",
    "read_cif_folder",
    "read_jsonl",
    "records_from_structures",
]

logger = logging.getLogger(__name__)

_JSONL_FIELDS = (
    "formula", "crystal_system", "spacegroup_number", "nsites", "e_above_hull",
    "formation_energy_per_atom", "seed_split", "source",
)


#: What gzip and the file system raise on a truncated or corrupt (gzipped) file.
_BROKEN_STREAM = (EOFError, OSError, zlib.error)


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """``(line number, byte offset, line)`` of a text file, gunzipped if it starts like gzip.

    Offsets count the uncompressed bytes before the line. Each line is handed out only once
    the next one has been read, so the partial last line of a truncated gzip file is never
    parsed as a record: a truncated or corrupt file raises :class:`DataFileError` naming the
    line and the offset where reading broke.
    """
    with open(path, "rb") as fh:
        magic = fh.read(2)
    gzipped = magic == b"\x1f\x8b"
    pending: tuple[int, int, bytes] | None = None
    lineno, offset = 0, 0
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
            for line in fh:
                if pending is not None:
                    yield pending
                lineno += 1
                pending = (lineno, offset, line)
                offset += len(line)
    except _BROKEN_STREAM as exc:
        kind = "gzip stream" if gzipped else "file"
        if pending is not None and not pending[2].endswith(b"\n"):  # broke inside this line
            lineno, offset = pending[0], pending[1]
        else:
            lineno += 1
        raise DataFileError(
            path,
            f"the {kind} is truncated or corrupt: reading broke in line {lineno}, at uncompressed "
            f"byte {offset} ({type(exc).__name__}: {exc}). Re-download or re-compress it.",
        ) from None
    if pending is not None:
        yield pending


def _wanted(system: str | None, systems: list[str] | None) -> bool:
    """Keep a record whose system is unknown: the build decides (or records the failure)."""
    return systems is None or system is None or system.lower() in systems


def read_jsonl(
    path: str | os.PathLike,
    *,
    crystal_systems: Iterable[str] | None = None,
    limit: int | None = None,
) -> Iterator[StructureRecord]:
    """Read a JSONL (optionally gzipped) structure corpus.

    Parameters
    ----------
    path
        The file, e.g. the offline corpus ``mp_structures.jsonl.gz``.
    crystal_systems
        Keep only records whose ``crystal_system`` field is one of these (records without
        the field are kept).
    limit
        Stop after this many records (after filtering).

    Yields
    ------
    StructureRecord

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataFileError
        (a ``ValueError``) On a line that is not UTF-8 or not JSON or lacks ``material_id`` /
        a structure, or a truncated or corrupt (gzipped) file: the message names the file and
        the line and uncompressed byte offset where it broke. Records before the problem have
        been yielded already.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No structure corpus at {path}.")
    systems = normalise_crystal_systems(list(crystal_systems) if crystal_systems else None)
    count = 0
    for lineno, offset, data in _lines(path):
        if limit is not None and count >= limit:
            return
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                path, f"line {lineno} (byte {offset + exc.start}) is not UTF-8 text."
            ) from None
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise TypeError(f"a JSON {type(raw).__name__}, not an object")
            if not _wanted(raw.get("crystal_system"), systems):
                continue
            record = StructureRecord(
                material_id=str(raw["material_id"]),
                cif=raw.get("cif"),
                structure=raw.get("structure"),
                **{k: raw.get(k) for k in _JSONL_FIELDS},
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataFileError(
                path, f"line {lineno} (byte {offset}): not a structure record ({text})."
            ) from None
        count += 1
        yield record


def _crystal_system_of(structure: Structure, symprec: float) -> str | None:
    from pymatgen_crystalnet.physics.cells import symmetry_info

    try:
        return str(symmetry_info(structure, symprec=symprec)["crystal_system"]).lower()
    except Exception as exc:  # symmetry failure: let the build record it
        logger.debug("symmetry failed: %s", exc)
        return None


def read_cif_folder(
    folder: str | os.PathLike,
    *,
    crystal_systems: Iterable[str] | None = None,
    limit: int | None = None,
    symprec: float = 0.1,
    recursive: bool = True,
) -> Iterator[StructureRecord]:
    """Read every ``*.cif`` file below a folder; the id is the file name without ``.cif``.

    A file that cannot be parsed is still yielded (with its text), so that the build records
    it as failed instead of dropping it silently. With ``crystal_systems``, each structure's
    system is computed (spglib, ``symprec``) to select records; unparsable files are kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No CIF folder at {folder}.")
    systems = normalise_crystal_systems(list(crystal_systems) if crystal_systems else None)
    files = sorted(folder.rglob("*.cif") if recursive else folder.glob("*.cif"))
    count = 0
    for file in files:
        if limit is not None and count >= limit:
            return
        text = file.read_text(encoding="utf-8", errors="replace")
        material_id = file.relative_to(folder).with_suffix("").as_posix()
        system = None
        if systems is not None:
            try:
                from pymatgen.core import Structure

                system = _crystal_system_of(Structure.from_str(text, fmt="cif"), symprec)
            except Exception as exc:
                logger.warning("%s: cannot read the CIF (%s); the build will record it", file, exc)
        if not _wanted(system, systems):
            continue
        count += 1
        yield StructureRecord(material_id=material_id, cif=text, crystal_system=system,
                              source=f"cif:{folder.name}")


def records_from_structures(
    structures: Iterable[Structure],
    ids: Iterable[str] | None = None,
    *,
    crystal_systems: Iterable[str] | None = None,
    symprec: float = 0.1,
    source: str = "structures",
    properties: Iterable[dict[str, Any]] | None = None,
) -> Iterator[StructureRecord]:
    """Records from pymatgen ``Structure`` objects.

    Parameters
    ----------
    structures
        The structures.
    ids
        One id per structure (default ``"s-0"``, ``"s-1"``, …).
    crystal_systems
        Keep only structures of these systems (computed with ``symprec``).
    source
        Provenance label stored with each record.
    properties
        Optional per-structure extra fields (``e_above_hull``, ``seed_split``, …).
    """
    systems = normalise_crystal_systems(list(crystal_systems) if crystal_systems else None)
    ids_it = iter(ids) if ids is not None else None
    props_it = iter(properties) if properties is not None else None
    for i, structure in enumerate(structures):
        material_id = str(next(ids_it)) if ids_it is not None else f"s-{i}"
        extra = dict(next(props_it)) if props_it is not None else {}
        system = _crystal_system_of(structure, symprec) if systems is not None else None
        if not _wanted(system, systems):
            continue
        extra.setdefault("crystal_system", system)
        yield StructureRecord(
            material_id=material_id,
            structure=structure.as_dict(),
            formula=structure.composition.reduced_formula,
            nsites=len(structure),
            source=source,
            **extra,
        )


def iter_source(
    source: str | os.PathLike,
    *,
    crystal_systems: Iterable[str] | None = None,
    limit: int | None = None,
    symprec: float = 0.1,
) -> Iterator[StructureRecord]:
    """Records from a path: a JSONL(.gz) corpus, a folder of CIFs, or one CIF file."""
    path = Path(source)
    if path.is_dir():
        return read_cif_folder(path, crystal_systems=crystal_systems, limit=limit, symprec=symprec)
    if not path.exists():
        raise FileNotFoundError(f"No structure source at {path}.")
    if path.suffix.lower() == ".cif":  # one file: the dataset step applies the system filter
        return _one_cif(path)
    return read_jsonl(path, crystal_systems=crystal_systems, limit=limit)


def _one_cif(path: Path) -> Iterator[StructureRecord]:
    yield StructureRecord(material_id=path.stem, cif=path.read_text(encoding="utf-8"),
                          source=f"cif:{path.name}")


@dataclass
class IngestReport:
    """What :func:`ingest` did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Records read."""
        return self.new + self.updated + self.unchanged


def ingest(
    records: Iterable[StructureRecord],
    store: Store,
    *,
    batch_size: int = 500,
    progress: bool = False,
) -> IngestReport:
    """Write records to a ``structures`` store, leaving unchanged ones alone.

    A record whose ``content_hash`` matches the stored one is skipped (its ``last_updated``
    stays, so the build does not redo it); a new or changed record is written with the
    current time. The store must be connected.

    Returns
    -------
    IngestReport
        Counts of new, updated and unchanged records.
    """
    from tqdm.auto import tqdm

    known = {
        d["material_id"]: d.get("content_hash")
        for d in store.query(properties=["material_id", "content_hash"])
    }
    report = IngestReport()
    stream = tqdm(records, desc="ingest", unit="str", disable=not progress)
    for batch in iter_in_batches(stream, batch_size):
        docs = []
        stamp = utcnow()
        for rec in batch:
            previous = known.get(rec.material_id, ...)
            if previous == rec.content_hash:
                report.unchanged += 1
                continue
            if previous is ...:
                report.new += 1
            else:
                report.updated += 1
            rec.last_updated = stamp
            known[rec.material_id] = rec.content_hash
            docs.append(rec.model_dump())
        if docs:
            store.update(docs, key="material_id")
    logger.info("ingest: %d new, %d updated, %d unchanged", report.new, report.updated,
                report.unchanged)
    return report

"""One factory for every store the dataset pipeline reads and writes.

:func:`get_store` turns a location into a maggma ``Store``:

``mongodb://…`` or ``mongodb+srv://…``
    A MongoDB server (``MongoStore``); the ``grids`` collections go to GridFS
    (``GridFSStore``), since one density grid can exceed MongoDB's 16 MB document limit.
``json://DIR``
    Plain JSON files, one per collection (``DIR/<collection>.json``), through maggma's
    ``JSONStore``; every write replaces the file atomically, so a killed build never leaves a
    truncated file behind. Handy for small datasets and for reading the data by eye.
any other path
    The default embedded store: a directory holding a montydb SQLite database through maggma's
    ``MontyStore``. No server needed.

montydb has no secondary indexes (its ``index_information`` raises ``NotImplementedError``)
and scans a collection for every query. :class:`EmbeddedStore` therefore reports indexes as
unsupported instead of crashing, keys documents by their store key (``_id``), and writes a
batch of documents in one SQLite transaction instead of one full scan per document.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from maggma.core import Store
from maggma.stores import GridFSStore, JSONStore, MongoStore, MontyStore
from monty.json import jsanitize

from pymatgen_crystalnet.atomic import atomic_write_bytes
from pymatgen_crystalnet.data.errors import StoreLocationError

__all__ = [
    "COLLECTIONS",
    "GRID_COLLECTIONS",
    "AtomicJSONStore",
    "EmbeddedStore",
    "get_store",
    "is_mongo_uri",
    "require_existing",
    "supports_indexes",
]

logger = logging.getLogger(__name__)

#: Collections of a dataset store and what they hold.
COLLECTIONS: dict[str, str] = {
    "structures": "input structures as ingested from a source (key: material_id)",
    "crystals": "built crystals: canonical cell, symmetry, XRD and composition vectors",
    "dataset": "de-duplication and split of the built crystals",
    "grids": "density grids on the canonical cell (DFT sources only)",
    "dft_grids": "density grids on the cell as downloaded (DFT sources only)",
}
#: Collections whose documents hold large arrays (GridFS on MongoDB).
GRID_COLLECTIONS: frozenset[str] = frozenset({"grids", "dft_grids"})

_MONGO_PREFIXES = ("mongodb://", "mongodb+srv://")
#: File by which montydb recognises a repository and its storage engine.
_MONTY_MARKER = ".monty.storage"
_JSON_PREFIX = "json://"


def is_mongo_uri(location: str | os.PathLike) -> bool:
    """Whether ``location`` is a MongoDB connection string."""
    return str(location).startswith(_MONGO_PREFIXES)


def supports_indexes(store: Store) -> bool:
    """Whether ``store`` can create secondary indexes (montydb and JSON files cannot)."""
    return not isinstance(store, (MontyStore, JSONStore))


class EmbeddedStore(MontyStore):
    """A montydb (SQLite) store on disk with batched writes.

    Parameters
    ----------
    collection_name
        Name of the collection.
    database_path
        Directory of the database (created if missing).
    key
        Field that identifies a document; it is also used as the document's ``_id``.
    **kwargs
        Passed to maggma's ``MontyStore``.

    Notes
    -----
    A store object caches the ``_id`` values it has seen so that a batch can be split into
    new documents (inserted in one transaction) and replacements (deleted, then inserted).
    Use one writing process per collection, as the pipeline does.
    """

    def __init__(
        self,
        collection_name: str,
        database_path: str | None = None,
        key: str = "material_id",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("storage", "sqlite")
        super().__init__(collection_name, database_path=database_path, key=key, **kwargs)
        self._ids: set[Any] | None = None

    def connect(self, force_reset: bool = False) -> None:
        """Open the database, creating it (directory and montydb set-up files) if needed."""
        if self._coll is None or force_reset:
            from montydb import MontyClient

            self._ensure_repository()
            client = MontyClient(str(self.database_path), **self.client_kwargs)
            self._coll = client[self.database_name][self.collection_name]
            self._ids = None

    def _ensure_repository(self) -> None:
        """Write montydb's set-up files once, atomically.

        maggma's ``MontyStore`` rewrites them on every ``connect``, in place; another process
        opening the store at that moment reads a half-written file and fails. Here they are
        written only for a new store, in a temporary folder, then renamed into place with the
        storage marker last (montydb treats a folder without it as a new repository).
        """
        from montydb import set_storage

        path = Path(self.database_path)
        marker = path / _MONTY_MARKER
        if marker.is_file():
            found = marker.read_text().strip()
            if found != self.storage:
                raise ValueError(f"{path} holds a montydb {found!r} store, not {self.storage!r}.")
            return
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path, prefix=".setup-") as tmp:
            set_storage(tmp, storage=self.storage, **self.storage_kwargs)
            names = sorted(os.listdir(tmp), key=lambda name: name == _MONTY_MARKER)
            for name in names:
                os.replace(os.path.join(tmp, name), path / name)

    def ensure_index(self, key: str, unique: bool | None = False) -> bool:
        """Montydb has no secondary indexes: log it and report ``False`` (never raises)."""
        logger.debug("%s: montydb has no indexes; queries on %r scan the collection", self.name, key)
        return False

    def count(self, criteria: dict | None = None, hint: dict | None = None) -> int:
        """Number of documents matching ``criteria`` (0 for a collection not yet created)."""
        try:
            return super().count(criteria, hint)
        except sqlite3.OperationalError as exc:
            return _empty_if_unborn(exc, 0)

    def query(self, criteria: dict | None = None, properties: dict | list | None = None,
              **kwargs: Any) -> Iterator[dict]:
        """Documents matching ``criteria`` (none for a collection not yet created).

        montydb reads all rows before decoding the first, so a collection another process is
        creating right now reads as empty rather than failing.
        """
        try:
            yield from super().query(criteria=criteria, properties=properties, **kwargs)
        except sqlite3.OperationalError as exc:
            _empty_if_unborn(exc, None)

    def _known_ids(self) -> set[Any]:
        if self._ids is None:
            self._ids = {d["_id"] for d in self._collection.find({}, {"_id": 1})}
        return self._ids

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Insert or replace documents, identified by ``key`` (default: the store key).

        New documents go in with one SQLite transaction; documents whose key exists already
        are removed and inserted again (two transactions, so a kill in between can only lose
        documents that a rerun rebuilds, never duplicate them).
        """
        if not isinstance(docs, list):
            docs = [docs]
        key = key or self.key
        if isinstance(key, list):  # compound keys: maggma's per-document path
            super().update(docs, key=key)
            self._ids = None
            return
        batch: dict[Any, dict] = {}
        for doc in docs:
            d = jsanitize(doc, allow_bson=True)
            if self.validator and not self.validator.is_valid(d):
                if self.validator.strict:
                    raise ValueError(self.validator.validation_errors(d))
                self.logger.error(self.validator.validation_errors(d))
                continue
            d["_id"] = d[key]
            batch[d["_id"]] = d  # the last of repeated keys wins
        if not batch:
            return
        known = self._known_ids()
        existing = [i for i in batch if i in known]
        if existing:
            self._collection.delete_many({"_id": {"$in": existing}})
        self._collection.insert_many(list(batch.values()), ordered=True)
        known.update(batch)

    def remove_docs(self, criteria: dict) -> None:
        """Remove the documents matching ``criteria``."""
        super().remove_docs(criteria)
        self._ids = None


class AtomicJSONStore(JSONStore):
    """maggma's writable ``JSONStore``, but each write replaces the file atomically.

    maggma truncates the file and writes it in place; a kill during that write would leave a
    broken file and lose the whole collection. Here the data go to a temporary file in the
    same directory, which then replaces the old one (``os.replace``).
    """

    def __init__(self, paths: str | list[str], **kwargs: Any) -> None:
        kwargs.setdefault("read_only", False)
        kwargs.setdefault("key", "material_id")
        super().__init__(paths, **kwargs)

    def ensure_index(self, key: str, unique: bool | None = False) -> bool:
        """JSON files have no indexes: report ``False``."""
        return False

    def connect(self, force_reset: bool = False) -> None:
        """Read the file (creating it, and its directory, if missing)."""
        if not self.read_only:
            path = Path(self.paths[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _atomic_write(path, b"[]")
        super().connect(force_reset=force_reset)

    def update_json_file(self) -> None:
        """Write the collection to its file atomically."""
        data = []
        for d in self.query():
            d.pop("_id", None)
            data.append(d)
        payload = orjson.dumps(
            data, option=self.serialization_option, default=self.serialization_default
        )
        _atomic_write(Path(self.paths[0]), payload)


def _empty_if_unborn(exc: sqlite3.OperationalError, empty: Any) -> Any:
    """Result for a collection whose SQLite table another process has not created yet."""
    if "no such table" in str(exc):
        return empty
    raise exc


def _atomic_write(path: Path, payload: bytes) -> None:
    atomic_write_bytes(path, payload)


def get_store(location: str | os.PathLike, collection: str, *, key: str = "material_id") -> Store:
    """Return the store of one collection at ``location`` (not yet connected).

    Parameters
    ----------
    location
        A directory for the embedded montydb store (default), ``json://DIR`` for JSON files,
        or a ``mongodb://`` / ``mongodb+srv://`` URI that names the database.
    collection
        Collection name; the pipeline uses the names in :data:`COLLECTIONS`.
    key
        Field identifying a document.

    Returns
    -------
    maggma.core.Store
        :class:`EmbeddedStore`, :class:`AtomicJSONStore`, ``MongoStore`` or, for the grid
        collections on MongoDB, ``GridFSStore``.

    Raises
    ------
    ValueError
        If ``location`` is empty, or a MongoDB URI names no database.
    StoreLocationError
        (a ``ValueError``) If an on-disk location exists but is not a folder (a file given as
        ``--store``), or a JSON collection file's path is taken by a folder.
    """
    loc = str(location)
    if not loc.strip():
        raise ValueError("The store location is empty; give a directory or a mongodb:// URI.")
    if is_mongo_uri(loc):
        from pymongo import uri_parser

        database = uri_parser.parse_uri(loc)["database"]
        if not database:
            raise ValueError(
                f"The MongoDB URI {_redact(loc)!r} names no database; add it, as in "
                "mongodb://host:27017/crystalnet."
            )
        if collection in GRID_COLLECTIONS:
            return GridFSStore(
                database, collection, uri=loc, key=key, compression=True,
                searchable_fields=[key, "n"],
            )
        return MongoStore(database, collection, uri=loc, key=key)
    folder = _check_folder(loc)
    if loc.startswith(_JSON_PREFIX):
        file = folder / f"{collection}.json"
        if file.exists() and not file.is_file():
            raise StoreLocationError(file, "the JSON store's collection file is a folder, not a file.")
        return AtomicJSONStore(str(file), key=key)
    return EmbeddedStore(collection, database_path=str(folder), key=key)


def _check_folder(loc: str) -> Path:
    """The folder of an on-disk store location; refuse one that exists but is no folder."""
    folder = Path(loc[len(_JSON_PREFIX):] if loc.startswith(_JSON_PREFIX) else loc).expanduser()
    if folder.exists() and not folder.is_dir():
        raise StoreLocationError(
            folder,
            "is a file, not a store folder. A dataset store is a folder (created by `crystalnet "
            "data build --store FOLDER`), json://FOLDER or a mongodb:// URI.",
        )
    return folder


def require_existing(location: str | os.PathLike) -> None:
    """Raise ``FileNotFoundError`` if an on-disk store location does not exist (yet).

    A location that exists but is a file raises :class:`StoreLocationError` (a ``ValueError``).

    Reading commands call this so that a mistyped path gives a clear error instead of
    creating an empty store. MongoDB URIs are not checked (the server answers for them).
    """
    loc = str(location)
    if is_mongo_uri(loc):
        return
    folder = _check_folder(loc)
    if not folder.is_dir():
        raise FileNotFoundError(f"No dataset store at {loc}; build one with `crystalnet data build`.")


def _redact(uri: str) -> str:
    """The URI without its password, for messages."""
    if "@" not in uri:
        return uri
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


def iter_in_batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Yield lists of at most ``size`` items."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

"""Store factory and the embedded stores, on real files in tmp_path."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from maggma.stores import GridFSStore, MongoStore

from pymatgen_crystalnet.data.stores import (
    AtomicJSONStore,
    EmbeddedStore,
    get_store,
    supports_indexes,
)


def _docs(n, tag="a"):
    return [{"material_id": f"mp-{i}", "tag": tag, "values": list(range(i % 7)),
             "last_updated": datetime(2024, 1, 1)} for i in range(n)]


def test_factory_picks_backend(tmp_path):
    assert isinstance(get_store(tmp_path / "db", "crystals"), EmbeddedStore)
    assert isinstance(get_store(f"json://{tmp_path}/j", "crystals"), AtomicJSONStore)
    mongo = get_store("mongodb://localhost:27017/crystalnet", "crystals")
    assert isinstance(mongo, MongoStore) and mongo.database == "crystalnet"
    grids = get_store("mongodb://localhost:27017/crystalnet", "grids")
    assert isinstance(grids, GridFSStore) and grids.compression
    assert not supports_indexes(get_store(tmp_path / "db", "crystals"))
    assert supports_indexes(mongo)


def test_factory_rejects_bad_locations():
    with pytest.raises(ValueError, match="names no database"):
        get_store("mongodb://user:secret@localhost:27017", "crystals")
    with pytest.raises(ValueError, match="empty"):
        get_store("  ", "crystals")


def test_embedded_store_upserts_without_duplicates_and_persists(tmp_path):
    store = get_store(tmp_path / "db", "crystals")
    store.connect()
    assert store.ensure_index("material_id") is False  # montydb: no index, no crash
    store.update(_docs(30))
    store.update(_docs(10, tag="b"))  # replace the first ten
    store.update([{"material_id": "mp-99", "tag": "c"}, {"material_id": "mp-99", "tag": "d"}])
    assert store.count() == 31
    assert store.count({"tag": "b"}) == 10
    assert store.query_one({"material_id": "mp-99"})["tag"] == "d"
    store.close()

    again = get_store(tmp_path / "db", "crystals")
    again.connect()
    ids = [d["material_id"] for d in again.query(properties=["material_id"])]
    assert len(ids) == len(set(ids)) == 31
    again.update(_docs(5, tag="e"))  # fresh object: learns existing ids before writing
    assert again.count() == 31 and again.count({"tag": "e"}) == 5
    again.remove_docs({"tag": "e"})
    again.update(_docs(5, tag="f"))
    assert again.count() == 31


def test_maggma_mapbuilder_index_check_tolerates_montydb(tmp_path):
    from maggma.builders import CopyBuilder

    src, tgt = get_store(tmp_path / "db", "a"), get_store(tmp_path / "db", "b")
    src.connect()
    src.update(_docs(4))
    builder = CopyBuilder(src, tgt)
    builder.connect()
    builder.ensure_indexes()  # maggma asks for indexes; montydb would raise NotImplementedError


def test_json_store_writes_atomically_and_reloads(tmp_path):
    store = get_store(f"json://{tmp_path}/j", "structures")
    store.connect()
    store.update(_docs(12))
    store.update(_docs(3, tag="z"))
    path = tmp_path / "j" / "structures.json"
    on_disk = json.loads(path.read_text())
    assert len(on_disk) == 12 and sum(d["tag"] == "z" for d in on_disk) == 3
    assert not list((tmp_path / "j").glob("*.tmp")), "temporary files left behind"
    again = get_store(f"json://{tmp_path}/j", "structures")
    again.connect()
    assert again.count() == 12

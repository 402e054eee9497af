"""The build on real stores: sources, builders, failures, incremental reruns, SIGKILL.

Fixture ``tests/data/mini_corpus.jsonl.gz`` (2.6 KB): 17 records copied from
``../shared/data/mp_structures.jsonl.gz`` (Materials Project, CC BY 4.0) chosen for small
cells and for the rules they exercise — three duplicate groups (Hg R-3m: seeded vs not;
VFeSb F-43m: seeded unstable vs unseeded stable; C R-3m: tie broken by id), seeded test ids
(mp-919, mp-75), a seeded test id that is unstable now (mp-1183915), one of unknown stability
(mp-1960), a seeded val id (mp-1018134), unseeded stable crystals, a seeded train id and a
hexagonal one (mp-1184509) — plus two made-up bad records: ``bad-cif`` (not a CIF) and
``bad-es`` (YbTe with Yb replaced by Es, Z = 99, which has no X-ray form factor).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.data.pipeline import build_dataset, open_stores
from pymatgen_crystalnet.data.sources import ingest, iter_source, read_jsonl, records_from_structures

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "mini_corpus.jsonl.gz"
CUBIC_TRIGONAL = BuildConfig(crystal_systems=["cubic", "trigonal"])


def _all(store_dir, name):
    stores = open_stores(store_dir, (name,))
    try:
        return list(stores[name].query())
    finally:
        stores[name].close()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "db"
    report = build_dataset(CORPUS, store, config=CUBIC_TRIGONAL, progress=False)
    return store, report


def test_reader_filters_and_limits():
    records = list(read_jsonl(CORPUS, crystal_systems=["cubic", "trigonal"]))
    assert len(records) == 18 and "mp-1184509" not in {r.material_id for r in records}
    assert len(list(read_jsonl(CORPUS, limit=3))) == 3


def test_reader_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"material_id": "x", "cif": "data_x"}\n{not json\n')
    with pytest.raises(ValueError, match="line 2"):
        list(read_jsonl(bad))
    with pytest.raises(FileNotFoundError):
        list(iter_source(tmp_path / "missing.jsonl"))


def test_build_outcome(built):
    store, report = built
    assert report.ingest.new == 18 and report.crystals.processed == 18
    crystals = {d["material_id"]: d for d in _all(store, "crystals")}
    assert len(crystals) == 18
    failed = {k: d for k, d in crystals.items() if d["state"] == "failed"}
    assert set(failed) == {"bad-cif", "bad-es"}
    assert "cannot read the structure" in failed["bad-cif"]["error"]
    assert "no X-ray form factor" in failed["bad-es"]["error"]
    ok = [d for d in crystals.values() if d["state"] == "successful"]
    assert {d["crystal_system"] for d in ok} == {"cubic", "trigonal"}
    for d in ok:
        assert d["density_source"] == "iam" and d["cell"] == "primitive" and d["b_factor"] == 1.0
        assert max(d["xrd_values"]) == pytest.approx(1.0)
        assert sum(d["composition_fractions"]) == pytest.approx(1.0, abs=1e-5)
        assert all(0.0 <= x < 1.0 for row in d["frac_coords"] for x in row)


def test_stored_arrays_reproduce_physics(built):
    """The stored vectors equal a direct computation; the IAM arrays hold all the electrons."""
    from pymatgen.core import Structure

    from pymatgen_crystalnet.featurize.xrd_vector import xrd_vector
    from pymatgen_crystalnet.physics.cells import canonical_cell
    from pymatgen_crystalnet.physics.iam import iam_grid_from_arrays

    store, _ = built
    doc = next(d for d in _all(store, "crystals") if d["material_id"] == "mp-919")  # HoTe
    record = next(r for r in read_jsonl(CORPUS) if r.material_id == "mp-919")
    canonical = canonical_cell(Structure.from_str(record.cif, fmt="cif"))
    expected = xrd_vector(canonical, b_factor=1.0)
    stored = np.zeros(1024, dtype=np.float32)
    stored[doc["xrd_bins"]] = doc["xrd_values"]
    np.testing.assert_allclose(stored, expected, atol=1e-6)
    assert doc["formula"] == "HoTe" and doc["spacegroup_number"] == 225
    grid = iam_grid_from_arrays(np.array(doc["lattice"]), np.array(doc["frac_coords"]),
                                np.array(doc["atomic_numbers"]), 32,
                                occupancies=np.array(doc["occupancies"]), b_factor=1.0)
    electrons = grid.mean() * abs(np.linalg.det(np.array(doc["lattice"])))
    assert electrons == pytest.approx(67 + 52, rel=0.01)


def test_dataset_rules_in_store(built):
    store, report = built
    entries = {d["material_id"]: d for d in _all(store, "dataset")}
    assert len(entries) == 16  # one per successful crystal
    assert entries["mp-1184569"]["duplicate_of"] == "mp-982872"   # Hg: seeded kept
    assert entries["mp-567636"]["duplicate_of"] == "mp-10756"     # VFeSb: seeded kept
    assert entries["mp-2516584"]["duplicate_of"] == "mp-569304"   # C: lower id
    assert entries["mp-919"]["split"] == "test" and entries["mp-75"]["split"] == "test"
    assert entries["mp-1018134"]["split"] == "val"
    assert entries["mp-1960"]["split"] == "test"                  # stability unknown
    assert entries["mp-1183915"]["split"] is None                 # seeded test, unstable now
    crystals = {d["material_id"]: d for d in _all(store, "crystals")}
    groups = {}
    for mid, e in entries.items():
        if e["split"] is None:
            continue
        assert groups.setdefault(e["group_key"], e["split"]) == e["split"]
        if e["split"] in ("val", "test"):
            ehull = crystals[mid]["e_above_hull"]
            assert ehull is None or ehull <= 1e-6, f"{mid} unstable in {e['split']}"
    kept = [e for e in entries.values() if e["kept"]]
    assert len(kept) == len({e["group_key"] for e in kept}) == 12
    assert report.counts["duplicates"] == 3 and report.counts["failed"] == 2


def test_rerun_is_incremental_and_settings_change_rebuilds(built, tmp_path):
    store, _ = built
    again = build_dataset(CORPUS, store, config=CUBIC_TRIGONAL, progress=False)
    assert again.ingest.unchanged == 18 and again.ingest.new == 0
    assert again.crystals.processed == 0
    retry = build_dataset(CORPUS, store, config=CUBIC_TRIGONAL, progress=False, retry_failed=True)
    assert retry.crystals.processed == 2 and retry.crystals.failed == 2

    # a copy of a few records, built with another B: every document is redone
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r.model_dump(mode="json")) + "\n"
                             for r in read_jsonl(CORPUS, limit=3)))
    db = tmp_path / "db"
    build_dataset(small, db, progress=False)
    changed = build_dataset(small, db, config=BuildConfig(b_factor=0.5), progress=False)
    assert changed.crystals.processed == 3
    assert {d["b_factor"] for d in _all(db, "crystals")} == {0.5}


def test_changed_record_is_rebuilt(tmp_path):
    records = list(read_jsonl(CORPUS, limit=2))
    db = tmp_path / "db"
    build_dataset(records, db, progress=False)
    records[0].e_above_hull = 0.25
    records[0].content_hash = ""
    from pymatgen_crystalnet.data.schema import StructureRecord

    changed = [StructureRecord(**records[0].model_dump(exclude={"content_hash"})), records[1]]
    report = build_dataset(changed, db, progress=False)
    assert report.ingest.updated == 1 and report.ingest.unchanged == 1
    assert report.crystals.processed == 1
    doc = next(d for d in _all(db, "crystals") if d["material_id"] == records[0].material_id)
    assert doc["e_above_hull"] == 0.25


def test_json_store_cif_folder_and_structures(tmp_path):
    from pymatgen.core import Lattice, Structure

    folder = tmp_path / "cifs"
    folder.mkdir()
    first = list(read_jsonl(CORPUS, limit=3))
    for rec in first:
        (folder / f"{rec.material_id}.cif").write_text(rec.cif)
    (folder / "broken.cif").write_text("data_x\n_cell_length_a 1\n")
    report = build_dataset(folder, f"json://{tmp_path}/js", workers=2, progress=False)
    assert report.crystals.processed == 4 and report.crystals.failed == 1
    on_disk = json.loads((tmp_path / "js" / "crystals.json").read_text())
    assert sorted(d["material_id"] for d in on_disk) == sorted(
        ["broken"] + [r.material_id for r in first])

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    quartz_like = Structure(Lattice.hexagonal(4.9, 5.4), ["Si"], [[0, 0, 0]])
    recs = list(records_from_structures([nacl, quartz_like], ids=["nacl", "si-hex"],
                                        crystal_systems=["cubic"]))
    assert [r.material_id for r in recs] == ["nacl"] and recs[0].crystal_system == "cubic"
    stores = open_stores(tmp_path / "db", ("structures",))
    assert ingest(recs, stores["structures"]).new == 1


_KILL_SCRIPT = """
import sys
from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.data.pipeline import build_dataset
build_dataset(sys.argv[1], sys.argv[2], config=BuildConfig(crystal_systems=["cubic", "trigonal"]),
              progress=False, chunk_size=2)
"""


def _count(store_dir, name):
    if not Path(store_dir).exists():
        return 0
    stores = open_stores(store_dir, (name,))
    try:
        return stores[name].count()
    finally:
        stores[name].close()


def test_sigkill_halfway_then_rerun_finishes(tmp_path):
    db = tmp_path / "db"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    log = tmp_path / "build.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(CORPUS), str(db)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 90
        while _count(db, "crystals") < 4:
            assert proc.poll() is None, f"the build ended before the kill:\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the build made no progress"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done_at_kill = _count(db, "crystals")
    assert 4 <= done_at_kill < 18

    report = build_dataset(CORPUS, db, config=CUBIC_TRIGONAL, progress=False)
    assert report.crystals.processed == 18 - done_at_kill
    crystals = _all(db, "crystals")
    ids = [d["material_id"] for d in crystals]
    assert len(ids) == len(set(ids)) == 18
    structures = {d["material_id"] for d in _all(db, "structures")}
    assert set(ids) == structures
    assert len(_all(db, "dataset")) == sum(d["state"] == "successful" for d in crystals) == 16


def test_builders_on_an_indexed_mongo_like_store():
    """The same builders on maggma's MemoryStore (mongomock: a MongoStore with indexes)."""
    from maggma.stores import MemoryStore

    from pymatgen_crystalnet.data.builders import CrystalBuilder, DatasetBuilder
    from pymatgen_crystalnet.data.runner import run_builder

    structures = MemoryStore("structures", key="material_id")
    crystals = MemoryStore("crystals", key="material_id")
    dataset = MemoryStore("dataset", key="material_id")
    structures.connect()
    ingest(read_jsonl(CORPUS, limit=2), structures)
    builder = CrystalBuilder(structures, crystals, config=BuildConfig())
    report = run_builder(builder, progress=False)
    assert report.processed == 2 and report.failed == 0
    assert "state_1" in crystals._collection.index_information()
    assert run_builder(CrystalBuilder(structures, crystals), progress=False).processed == 0
    run_builder(DatasetBuilder(crystals, dataset), progress=False)
    assert dataset.count({"kept": True}) == 1  # the two Hg R-3m entries are duplicates

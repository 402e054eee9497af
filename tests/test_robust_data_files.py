"""Broken dataset files and store locations: one clear error naming the file (issue 16)."""

from __future__ import annotations

import gzip
import json
import pickle

import numpy as np
import pytest

from conftest import TESTS
from pymatgen_crystalnet.data.errors import DataFileError, StoreLocationError
from pymatgen_crystalnet.data.reader import load_export
from pymatgen_crystalnet.data.sources import read_jsonl
from pymatgen_crystalnet.data.stores import get_store, require_existing

CORPUS = TESTS / "data" / "mini_corpus.jsonl.gz"


@pytest.fixture
def npz_bytes(tmp_path):
    path = tmp_path / "full.npz"
    rng = np.random.default_rng(0)
    np.savez_compressed(path, manifest=np.array(json.dumps({"format_version": 1})),
                        xrd=rng.random((200, 1024)).astype(np.float16))
    return path.read_bytes()


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_npz(tmp_path, npz_bytes, keep):
    path = tmp_path / "cut.npz"
    path.write_bytes(npz_bytes[: int(len(npz_bytes) * keep)])
    with pytest.raises(DataFileError, match=r"not a dataset export that numpy can open .*truncated") as info:
        load_export(path)
    assert str(path) in str(info.value)


def test_corrupt_npz_member(tmp_path, npz_bytes):
    data = bytearray(npz_bytes)
    data[len(data) // 3 : len(data) // 3 + 64] = b"\0" * 64  # inside the xrd member
    path = tmp_path / "bad.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"array 'xrd' cannot be read .*truncated or corrupt"):
        load_export(path)


def test_npz_that_is_not_an_export(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(DataFileError, match=r"single \.npy array"):
        load_export(tmp_path / "one.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataFileError, match="not a dataset export that numpy can open"):
        load_export(tmp_path / "text.npz")
    np.savez(tmp_path / "m.npz", manifest=np.array("{not json"), **{k: np.zeros(1) for k in (
        "material_id", "formula", "split", "crystal_system", "spacegroup_number", "e_above_hull",
        "density_source", "xrd", "composition", "lattice", "atom_offsets", "frac_coords",
        "atomic_numbers", "occupancies", "form_factors", "grid_index")})
    with pytest.raises(DataFileError, match="manifest is not valid JSON"):
        load_export(tmp_path / "m.npz")


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.97])
def test_truncated_jsonl_gz(tmp_path, fraction):
    data = CORPUS.read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: int(len(data) * fraction)])
    got = []
    expected = r"gzip stream is truncated or corrupt: reading broke in line \d+, at uncompressed byte \d+"
    with pytest.raises(DataFileError, match=expected) as info:
        got.extend(read_jsonl(path))
    assert str(path) in str(info.value)
    assert len(got) < sum(1 for _ in read_jsonl(CORPUS))  # the records before the break came out


def test_corrupt_jsonl_gz(tmp_path):
    data = bytearray(CORPUS.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 40] = b"x" * 40
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        list(read_jsonl(path))


def test_jsonl_bad_lines_name_line_and_byte(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b'{"material_id": "a", "cif": "x"}\n[1, 2]\n')
    with pytest.raises(DataFileError, match=r"line 2 \(byte 33\): not a structure record \(a JSON list"):
        list(read_jsonl(path))
    path.write_bytes(b'{"material_id": "a", "cif": "x"}\n\xff\xfe\n')
    with pytest.raises(DataFileError, match=r"line 2 \(byte 33\) is not UTF-8"):
        list(read_jsonl(path))


def test_store_pointing_at_a_file(tmp_path):
    file = tmp_path / "store.txt"
    file.write_text("not a store")
    for loc in (str(file), f"json://{file}"):
        with pytest.raises(StoreLocationError, match="is a file, not a store folder"):
            get_store(loc, "crystals")
        with pytest.raises(StoreLocationError, match="is a file, not a store folder"):
            require_existing(loc)
    assert not (tmp_path / "store.txt").is_dir() and file.read_text() == "not a store"
    (tmp_path / "j" / "crystals.json").mkdir(parents=True)
    with pytest.raises(StoreLocationError, match="collection file is a folder"):
        get_store(f"json://{tmp_path / 'j'}", "crystals")
    with pytest.raises(FileNotFoundError, match="No dataset store"):
        require_existing(tmp_path / "absent")


def test_errors_are_value_errors_and_pickle(tmp_path):
    err = StoreLocationError(tmp_path, "broken.")
    assert isinstance(err, DataFileError) and isinstance(err, ValueError)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)

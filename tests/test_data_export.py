"""Export format, numpy-only reader, and the torch Dataset over it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.data.export import export_dataset
from pymatgen_crystalnet.data.pipeline import build_dataset
from pymatgen_crystalnet.data.reader import (
    FORMAT_VERSION,
    apply_composition_mode,
    load_export,
    stratified_points,
    trilinear_periodic,
)
from pymatgen_crystalnet.data.sources import read_jsonl

CORPUS = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
# small cells, every split present: C (trigonal, hash), HoTe and Be (cubic test seeds),
# Li (trigonal val seed), YbTe, Hg, VFeSb
IDS = {"mp-569304", "mp-919", "mp-75", "mp-1018134", "mp-1779", "mp-982872", "mp-10756"}


@pytest.fixture(scope="module")
def export_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    records = [r for r in read_jsonl(CORPUS) if r.material_id in IDS]
    build_dataset(records, root / "db", config=BuildConfig(), progress=False)
    export_dataset(root / "db", root / "ds.npz")
    return root / "ds.npz"


def test_export_arrays_and_manifest(export_path):
    ds = load_export(export_path)
    assert len(ds) == len(IDS)
    assert sorted(ds.material_id.tolist()) == sorted(IDS)
    m = ds.manifest
    assert m["format_version"] == FORMAT_VERSION and m["cell"] == "primitive"
    assert m["b_factor"] == 1.0 and m["density_sources"] == {"iam": len(IDS)}
    assert ds.xrd.dtype == np.float16 and ds.xrd.shape == (len(IDS), 1024)
    np.testing.assert_allclose(ds.xrd.max(axis=1), 1.0)
    np.testing.assert_allclose(ds.composition.sum(axis=1), 1.0, atol=1e-5)
    assert ds.form_factors.shape == (99, 11) and np.isnan(ds.form_factors[0]).all()
    assert set(ds.split.tolist()) == {"train", "val", "test"}
    counts = ds.counts()
    assert sum(sum(v.values()) for v in counts.values()) == len(IDS)
    i = int(np.flatnonzero(ds.material_id == "mp-919")[0])  # HoTe rock salt, 2 atoms
    frac, zs, occ = ds.atoms(i)
    assert sorted(zs.tolist()) == [52, 67] and np.all(occ == 1.0)
    assert frac.shape == (2, 3) and np.all((frac >= 0) & (frac < 1))
    assert ds.formula[i] == "HoTe" and ds.spacegroup_number[i] == 225
    assert ds.split[i] == "test" and ds.crystal_system[i] == "cubic"


def test_export_filters_and_errors(export_path, tmp_path):
    db = export_path.parent / "db"
    only = export_dataset(db, tmp_path / "test_only", splits=["test"], crystal_systems=["cubic"])
    assert only.path.suffix == ".npz"
    ds = load_export(only.path)
    assert set(ds.split.tolist()) == {"test"} and set(ds.crystal_system.tolist()) == {"cubic"}
    with pytest.raises(ValueError, match="Unknown split"):
        export_dataset(db, tmp_path / "x.npz", splits=["holdout"])
    with pytest.raises(ValueError, match="Nothing to export"):
        export_dataset(db, tmp_path / "y.npz", crystal_systems=["triclinic"])
    assert not (tmp_path / "y.npz").exists()


def test_reader_rejects_other_versions_and_non_exports(export_path, tmp_path):
    with np.load(export_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    manifest = json.loads(str(arrays["manifest"]))
    manifest["format_version"] = FORMAT_VERSION + 1
    arrays["manifest"] = np.array(json.dumps(manifest))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match="format_version"):
        load_export(tmp_path / "future.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="lacks"):
        load_export(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a dataset export"):
        load_export(tmp_path / "text.npz")
    assert export_path.stat().st_mode & 0o044, "export not readable by others (umask ignored)"
    with zipfile.ZipFile(export_path) as zf:  # nothing pickled inside
        assert all(name.endswith(".npy") for name in zf.namelist())


def test_subset_keeps_atoms_aligned(export_path):
    ds = load_export(export_path)
    sub = ds.subset("test")
    assert len(sub) == int(np.sum(ds.split == "test"))
    for j, mid in enumerate(sub.material_id):
        i = int(np.flatnonzero(ds.material_id == mid)[0])
        for a, b in zip(sub.atoms(j), ds.atoms(i)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(sub.lattice[j], ds.lattice[i])


def test_readable_without_pymatgen_xraydb_maggma(export_path):
    code = (
        "import sys\n"
        "for name in ('pymatgen', 'xraydb', 'maggma', 'montydb', 'mp_api', 'pyrho'):\n"
        "    sys.modules[name] = None\n"
        "from pymatgen_crystalnet.data.torch_dataset import load_split\n"
        f"ds = load_split({str(export_path)!r}, 'train')\n"
        "item = ds[0]\n"
        "print(len(ds), tuple(item['density'].shape), float(item['density'].min()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    n, shape, low = out.stdout.split(maxsplit=2)
    assert int(n) >= 1 and shape == "(1000,)" and float(low) > 0


def test_stratified_points_fill_every_cell():
    pts = stratified_points(np.random.default_rng(0), 10)
    assert pts.shape == (1000, 3) and pts.min() >= 0 and pts.max() < 1
    cells = np.floor(pts * 10).astype(int)
    assert len({tuple(c) for c in cells}) == 1000


def test_trilinear_is_exact_on_grid_points_and_linear_between():
    rng = np.random.default_rng(1)
    grid = rng.random((6, 6, 6))
    idx = np.array([[0, 0, 0], [5, 2, 3], [1, 4, 5]])
    np.testing.assert_allclose(trilinear_periodic(grid, idx / 6), grid[tuple(idx.T)])
    mid = trilinear_periodic(grid, np.array([[0.5 / 6, 0, 0], [5.5 / 6, 0, 0]]))
    np.testing.assert_allclose(mid, [(grid[0, 0, 0] + grid[1, 0, 0]) / 2,
                                     (grid[5, 0, 0] + grid[0, 0, 0]) / 2])  # periodic wrap


@pytest.mark.parametrize("mode", ["full", "no_ratios", "drop_element", "none"])
def test_composition_modes_match_featurize(mode):
    from pymatgen_crystalnet.featurize.composition import composition_vector

    for formula in ("H2O", "NaCl", "Fe", "LiFePO4"):
        full = composition_vector(formula, "full")
        got = apply_composition_mode(full, mode, np.random.default_rng(7))
        want = composition_vector(formula, mode, rng=np.random.default_rng(7))
        np.testing.assert_array_equal(got, want)


def test_torch_items(export_path):
    torch = pytest.importorskip("torch")
    from pymatgen_crystalnet.data.torch_dataset import CrystalDensityDataset, load_split

    ds = load_split(export_path, ["train", "val", "test"], seed=3)
    item = ds[0]
    assert set(item) == {"xrd", "composition", "points", "density", "volume", "electrons", "index"}
    _, zs, occ = ds.data.atoms(0)
    assert item["electrons"] == pytest.approx(float((zs * occ).sum()))
    assert item["volume"] == pytest.approx(abs(np.linalg.det(ds.data.lattice[0])))
    assert item["xrd"].shape == (1024,) and item["xrd"].dtype == torch.float32
    assert item["composition"].shape == (118,) and item["composition"].dtype == torch.float32
    assert item["points"].shape == (1000, 3) and item["points"].dtype == torch.float32
    assert item["density"].shape == (1000,) and item["density"].dtype == torch.float32
    assert item["index"] == 0
    assert float(item["points"].min()) >= 0 and float(item["points"].max()) < 1
    # exact IAM values at the returned points
    want = ds.data.iam_density(0, item["points"].double().numpy())
    np.testing.assert_allclose(item["density"].numpy(), want, rtol=1e-5)
    # reproducible; new points each epoch unless fixed
    again = ds[0]
    assert torch.equal(again["points"], item["points"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["points"], item["points"])
    fixed = CrystalDensityDataset(export_path, fixed_points=True, points_per_axis=4)
    first = fixed[1]["points"]
    fixed.set_epoch(5)
    assert torch.equal(fixed[1]["points"], first) and first.shape == (64, 3)
    none = CrystalDensityDataset(export_path, composition_mode="none", target="none")
    assert "density" not in none[0] and float(none[0]["composition"].abs().sum()) == 0
    n = 12
    axis = np.arange(n) / n
    grid_pts = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    np.testing.assert_allclose(ds.density_grid(2, n).ravel(), ds.density_at(2, grid_pts),
                               rtol=1e-6, atol=1e-9)
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    batch = next(iter(loader))
    assert batch["points"].shape == (3, 1000, 3) and batch["density"].shape == (3, 1000)
    with pytest.raises(ValueError, match="No crystals"):
        CrystalDensityDataset(ds.data.subset("test"), "val")


def test_export_size_is_compact(export_path):
    per_crystal = export_path.stat().st_size / len(load_export(export_path))
    # the form-factor table (~9 KB) dominates a tiny export; the per-crystal part is small
    assert per_crystal < 6_000

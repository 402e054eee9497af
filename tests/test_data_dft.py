"""DFT densities through mp-pyrho, and the Materials Project source with a fake client.

Real CHGCARs come from ``../shared/data/chgcar/`` (skipped where that folder is absent). The
recorded Materials Project responses are ``tests/data/mp_summary_recorded.json`` (3 summary
documents in mp-api's field layout: mp-135 Li with the structure of the Li CHGCAR, and mp-919,
mp-1018134 from the shared corpus; Materials Project data, CC BY 4.0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pymatgen_crystalnet.data.config import BuildConfig
from pymatgen_crystalnet.data.dft import cell_mapping, chgcar_on_canonical_cell, regrid
from pymatgen_crystalnet.data.export import export_dataset
from pymatgen_crystalnet.data.pipeline import build_dataset, open_stores
from pymatgen_crystalnet.data.reader import load_export

SHARED = Path(__file__).parents[2] / "shared" / "data"
CHGCAR_DIR = SHARED / "chgcar"
RECORDED = Path(__file__).parent / "data" / "mp_summary_recorded.json"
needs_chgcar = pytest.mark.skipif(not CHGCAR_DIR.is_dir(),
                                  reason=f"shared CHGCAR fixtures not found at {CHGCAR_DIR}")


def _chgcar(name):
    from pymatgen.io.vasp import Chgcar

    return Chgcar.from_file(str(CHGCAR_DIR / name))


@needs_chgcar
def test_li_chgcar_regridded_keeps_its_electrons():
    chgcar = _chgcar("CHGCAR_Li_bcc.gz")
    in_file = float(chgcar.data["total"].mean())  # VASP: mean of ρ·V = electrons in the cell
    # Li's standard PAW potential has one valence electron; the file holds that density
    assert in_file == pytest.approx(1.0, abs=1e-6)
    for n in (24, 50):
        grid = regrid(chgcar, n)
        assert grid.shape == (n, n, n) and grid.dtype == np.float32 and grid.min() > 0
        assert grid.mean() * chgcar.structure.volume == pytest.approx(in_file, rel=0.01)
    on_canonical = chgcar_on_canonical_cell(chgcar, 50)
    assert on_canonical.electrons == pytest.approx(in_file, rel=0.01)


@needs_chgcar
def test_fe3o4_mapping_puts_density_peaks_on_the_atoms():
    chgcar = _chgcar("CHGCAR_Fe3O4.gz")
    out = chgcar_on_canonical_cell(chgcar, 48)
    s = out.structure
    assert len(s) == 14
    n = out.grid.shape[0]

    def at(frac):
        return out.grid[tuple(np.rint(np.asarray(frac) * n).astype(int) % n)]

    fe = [at(site.frac_coords) for site in s if site.specie.symbol == "Fe"]
    o = [at(site.frac_coords) for site in s if site.specie.symbol == "O"]
    midpoints = [at((s[0].frac_coords + s[1].frac_coords) / 2 + 0.013)]
    assert min(fe) > 50 * out.grid.mean() and min(o) > 10 * out.grid.mean()
    assert max(midpoints) < min(o)


def test_mapping_onto_another_setting_reproduces_the_density():
    """A density on a sheared, shifted cell lands correctly on the canonical cells."""
    from pymatgen.core import Lattice, Structure

    from pymatgen_crystalnet.physics.cells import canonical_cell, grid_to_volumetric
    from pymatgen_crystalnet.physics.iam import iam_density_grid

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]]).get_primitive_structure()
    odd = nacl.copy()
    odd.make_supercell([[1, 1, 0], [0, 1, 0], [0, 0, 1]])  # same volume, other basis
    odd.translate_sites(list(range(len(odd))), [0.13, 0.27, 0.41])
    source = grid_to_volumetric(iam_density_grid(odd, 64), odd)
    for cell in ("primitive", "conventional"):
        target = canonical_cell(odd, cell)
        mapping = cell_mapping(odd, target)
        assert not mapping.is_identity
        got = chgcar_on_canonical_cell(source, 32, canonical=target)
        want = iam_density_grid(target, 32)
        assert np.corrcoef(got.grid.ravel(), want.ravel())[0, 1] > 0.995
        assert got.electrons == pytest.approx(28 * len(target) / 2, rel=0.01)


def test_mapping_refuses_a_smaller_cell():
    from pymatgen.core import Lattice, Structure

    conv = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="integer multiple"):
        cell_mapping(conv, conv.get_primitive_structure())


class _Summary:
    def __init__(self, docs):
        self.docs = docs
        self.calls = []

    def search(self, **kwargs):
        self.calls.append(kwargs)
        system = kwargs.get("crystal_system")
        system = getattr(system, "value", system)
        return [d for d in self.docs
                if system is None or d["symmetry"]["crystal_system"] == system]


class FakeMPRester:
    """Stands in for ``mp_api.client.MPRester`` with recorded summary responses."""

    def __init__(self, docs, densities):
        self.materials = type("Materials", (), {})()
        self.materials.summary = _Summary(docs)
        self.densities = densities
        self.density_calls = []

    def get_charge_density_from_material_id(self, material_id):
        self.density_calls.append(material_id)
        return self.densities.get(material_id)


def _recorded():
    return json.loads(RECORDED.read_text())["summary"]


def test_mp_source_filters_and_structures_only(tmp_path):
    client = FakeMPRester(_recorded(), {})
    report = build_dataset("mp", tmp_path / "db", config=BuildConfig(crystal_systems=["trigonal"]),
                           progress=False, mp_options={"client": client, "stable_only": True})
    calls = client.materials.summary.calls
    assert len(calls) == 1 and calls[0]["is_stable"] is True
    assert getattr(calls[0]["crystal_system"], "value", calls[0]["crystal_system"]) == "Trigonal"
    assert "structure" in calls[0]["fields"] and client.density_calls == []
    assert report.ingest.new == 1 and report.counts["successful"] == 1
    assert report.counts["splits"] == {"trigonal": {"train": 1}}


@needs_chgcar
def test_mp_source_with_charge_densities_end_to_end(tmp_path):
    torch = pytest.importorskip("torch")
    from pymatgen_crystalnet.data.torch_dataset import CrystalDensityDataset

    client = FakeMPRester(_recorded(), {"mp-135": _chgcar("CHGCAR_Li_bcc.gz")})
    db = tmp_path / "db"
    build_dataset("mp", db, config=BuildConfig(crystal_systems=["cubic"], grid_n=24),
                  progress=False, mp_options={"client": client, "charge_densities": True})
    assert sorted(client.density_calls) == ["mp-135", "mp-919"]
    stores = open_stores(db, ("crystals", "grids", "dft_grids"))
    crystals = {d["material_id"]: d for d in stores["crystals"].query()}
    assert crystals["mp-135"]["density_source"] == "dft" and crystals["mp-135"]["grid_n"] == 24
    assert crystals["mp-919"]["density_source"] == "iam"
    grid_doc = stores["grids"].query_one({"material_id": "mp-135"})
    assert grid_doc["electrons"] == pytest.approx(1.0, rel=0.01)  # Li valence density
    assert stores["dft_grids"].count() == 1
    np.testing.assert_allclose(grid_doc["lattice"], crystals["mp-135"]["lattice"])

    summary = export_dataset(db, tmp_path / "mp.npz")
    ds = load_export(summary.path)
    i = int(np.flatnonzero(ds.material_id == "mp-135")[0])
    assert ds.density_source[i] == "dft" and ds.grids.shape == (1, 24, 24, 24)
    assert ds.manifest["grid_n"] == 24

    data = CrystalDensityDataset(ds)
    item = data[i]
    grid = ds.grid(i)
    np.testing.assert_allclose(
        item["density"].numpy(),
        _trilinear_reference(grid, item["points"].double().numpy()), rtol=1e-5)
    assert torch.all(item["density"] > 0)
    np.testing.assert_array_equal(data.density_grid(i, 24), grid)
    assert data.density_grid(i, 12).shape == (12, 12, 12)
    # the crystal without a grid falls back to exact IAM
    j = 1 - i
    np.testing.assert_allclose(data[j]["density"].numpy(),
                               ds.iam_density(j, data[j]["points"].double().numpy()), rtol=1e-5)


def _trilinear_reference(grid, pts):
    from scipy.interpolate import RegularGridInterpolator

    n = grid.shape[0]
    padded = np.pad(grid, ((0, 1), (0, 1), (0, 1)), mode="wrap")
    axis = np.arange(n + 1) / n
    return RegularGridInterpolator((axis, axis, axis), padded)(pts)


def test_mp_client_needs_a_key(monkeypatch):
    from pymatgen_crystalnet.data.mp import mp_client

    monkeypatch.delenv("MP_API_KEY", raising=False)
    with pytest.raises(ValueError, match="MP_API_KEY"):
        mp_client()

from pathlib import Path

from click.testing import CliRunner

from pymatgen_crystalnet.cli import main

CIF = str(Path(__file__).parent / "data" / "disordered_Ba0.5Sr0.5O.cif")


def test_density_of_a_partially_occupied_cif_writes_cube_and_xsf(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["density", CIF, "-n", "16", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "partial occupancies: no CHGCAR" in r.output
    assert sorted(p.name for p in out.iterdir()) == ["Ba0.5Sr0.5O1.cube", "Ba0.5Sr0.5O1.xsf", "pattern.json"]


def test_density_refuses_a_grid_too_large_before_writing(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["density", CIF, "-n", "1000", "-o", str(out)])
    assert r.exit_code == 1
    assert "would need about" in r.output and "Traceback" not in r.output
    assert not out.exists()

import numpy as np
import pytest
from pymatgen.io.common import VolumetricData
from pymatgen.io.vasp import Chgcar

from pymatgen_crystalnet.io.density_files import BOHR_IN_ANGSTROM, write_density
from pymatgen_crystalnet.physics.cells import (
    canonical_cell,
    grid_to_chgcar,
    grid_to_volumetric,
    symmetry_info,
    volumetric_to_grid,
)
from pymatgen_crystalnet.physics.iam import iam_density_grid


def test_canonical_cells(nacl):
    prim = canonical_cell(nacl)
    conv = canonical_cell(prim, "conventional")
    assert len(prim) == 2 and len(conv) == 8
    assert prim.volume == pytest.approx(nacl.volume / 4)
    assert conv.lattice.abc == pytest.approx((5.64, 5.64, 5.64))
    info = symmetry_info(prim)
    assert info == {
        "spacegroup_number": 225,
        "spacegroup_symbol": "Fm-3m",
        "crystal_system": "cubic",
    }
    with pytest.raises(ValueError, match="cell choice"):
        canonical_cell(nacl, "supercell")


def test_symprec_is_used(nacl):
    distorted = nacl.copy()
    distorted.translate_sites([0], [0.004, 0, 0])
    assert symmetry_info(distorted, symprec=0.1)["spacegroup_number"] == 225
    assert symmetry_info(distorted, symprec=1e-4)["spacegroup_number"] != 225


def test_volumetric_round_trip_keeps_pymatgen_convention(nacl):
    prim = canonical_cell(nacl)
    grid = iam_density_grid(prim, 24)
    vd = grid_to_volumetric(grid, prim)
    assert isinstance(vd, VolumetricData)
    np.testing.assert_allclose(vd.data["total"], grid * prim.volume)
    # pymatgen's own integral of data*V convention: mean of data = electrons
    assert vd.data["total"].mean() == pytest.approx(28.0, rel=2e-3)
    np.testing.assert_allclose(volumetric_to_grid(vd), grid)
    # a bare lattice is enough to place the grid
    vd_lat = grid_to_volumetric(grid, prim.lattice.matrix)
    np.testing.assert_allclose(volumetric_to_grid(vd_lat), grid)
    with pytest.raises(ValueError, match="lattice"):
        grid_to_volumetric(grid, None)
    with pytest.raises(ValueError, match="3-D"):
        grid_to_volumetric(grid[0], prim)
    with pytest.raises(ValueError, match="NaN"):
        grid_to_volumetric(np.full((2, 2, 2), np.nan), prim)


def test_regrid_with_pyrho(nacl):
    prim = canonical_cell(nacl)
    fine = iam_density_grid(prim, 40, b_factor=2.0)
    coarse = volumetric_to_grid(grid_to_volumetric(fine, prim), n=20)
    assert coarse.shape == (20, 20, 20)
    direct = iam_density_grid(prim, 20, b_factor=2.0)
    assert np.abs(coarse - direct).max() < 1e-3 * direct.max()


def test_chgcar_cube_xsf_files(tmp_path, nacl):
    prim = canonical_cell(nacl)
    grid = iam_density_grid(prim, 12)
    path = write_density(grid, prim, tmp_path / "CHGCAR")
    chg = Chgcar.from_file(str(path))
    np.testing.assert_allclose(volumetric_to_grid(chg), grid, rtol=1e-4)
    assert chg.structure.composition.reduced_formula == "NaCl"
    np.testing.assert_allclose(
        grid_to_chgcar(grid, prim).data["total"], chg.data["total"], rtol=1e-4
    )

    cube = write_density(grid, prim, tmp_path / "rho.cube")
    lines = cube.read_text().splitlines()
    assert lines[2].split()[0] == "2" and lines[3].split()[0] == "12"
    values = np.array(" ".join(lines[2 + 4 + 2 :]).split(), dtype=float)
    np.testing.assert_allclose(values.reshape(12, 12, 12) / BOHR_IN_ANGSTROM**3, grid, rtol=1e-4)
    vd = VolumetricData.from_cube(str(cube))  # pymatgen reads it back
    assert vd.dim == (12, 12, 12)

    xsf = write_density(grid, prim, tmp_path / "rho.xsf")
    text = xsf.read_text()
    assert "BEGIN_DATAGRID_3D" in text and " 13 13 13" in text
    block = text.split("BEGIN_DATAGRID_3D_density")[1].split("END_DATAGRID_3D")[0].split("\n")[6:]
    data = np.array(" ".join(block).split(), dtype=float).reshape((13, 13, 13), order="F")
    np.testing.assert_allclose(data[:12, :12, :12], grid, rtol=1e-4)
    np.testing.assert_allclose(data[12], data[0])
    assert not list(tmp_path.glob(".*tmp"))


def test_failed_write_leaves_nothing(tmp_path, nacl):
    with pytest.raises(ValueError, match="NaN"):
        write_density(np.full((4, 4, 4), np.nan), nacl, tmp_path / "bad.cube")
    with pytest.raises(ValueError, match="format"):
        write_density(np.ones((4, 4, 4)), nacl, tmp_path / "x", fmt="pdb")
    assert list(tmp_path.iterdir()) == []


def test_density_command(tmp_path):
    from pathlib import Path

    from click.testing import CliRunner

    from pymatgen_crystalnet.cli import main

    example = Path(__file__).parents[1] / "src" / "pymatgen_crystalnet" / "examples" / "NaCl.cif"
    result = CliRunner().invoke(main, ["density", str(example), "-n", "24", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "cosine 0.99" in result.output
    import json

    summary = json.loads((tmp_path / "pattern.json").read_text())
    assert summary["spacegroup_number"] == 225
    assert summary["electrons"] == pytest.approx(28.0, rel=2e-3)
    assert summary["forward_model"]["cosine_vs_pymatgen"] > 0.99
    assert Chgcar.from_file(str(tmp_path / "CHGCAR")).data["total"].shape == (24, 24, 24)
    assert (tmp_path / "CHGCAR").stat().st_mode & 0o044  # readable by others, like any file

    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 1\n")
    result = CliRunner().invoke(main, ["density", str(bad), "-o", str(tmp_path / "b")])
    assert result.exit_code != 0 and "Cannot read a structure" in result.output
    assert not (tmp_path / "b").exists()

"""Grid memory limit and density files of partially occupied structures (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.io.density_files import check_density_format, write_density
from pymatgen_crystalnet.physics.grid_limits import (
    BYTES_PER_POINT,
    DEFAULT_MAX_GRID_BYTES,
    ENV_MAX_GRID_BYTES,
    GridSizeError,
    check_grid_size,
    grid_memory_estimate,
    max_grid_bytes,
)
from pymatgen_crystalnet.physics.iam import iam_density_grid, iam_grid_from_arrays


@pytest.fixture
def disordered():
    return Structure(Lattice.cubic(4.2), [{"Ba": 0.5, "Sr": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_grid_1000_is_refused_before_allocating(monkeypatch):
    monkeypatch.delenv(ENV_MAX_GRID_BYTES, raising=False)
    with pytest.raises(GridSizeError, match=r"1000×1000×1000 points would need about 149 GiB .* of 2 GiB"):
        check_grid_size(1000)
    # the IAM itself refuses at once (it would otherwise allocate the grid's arrays first)
    with pytest.raises(GridSizeError, match="Use n ≤ 237"):
        iam_grid_from_arrays(np.eye(3) * 4.0, [[0, 0, 0]], [11], 1000)
    assert isinstance(GridSizeError("x"), ValueError)


def test_estimate_and_limit(monkeypatch):
    monkeypatch.delenv(ENV_MAX_GRID_BYTES, raising=False)
    assert grid_memory_estimate(50) == 50**3 * BYTES_PER_POINT
    assert grid_memory_estimate((10, 20, 30), grids=4) == 6000 * BYTES_PER_POINT * 4
    assert max_grid_bytes() == DEFAULT_MAX_GRID_BYTES == 2 * 1024**3
    assert check_grid_size(237) <= DEFAULT_MAX_GRID_BYTES
    with pytest.raises(GridSizeError, match="238×238×238"):
        check_grid_size(238)
    with pytest.raises(GridSizeError, match="4 grids of 150×150×150"):
        check_grid_size(150, grids=4)
    assert check_grid_size(1000, max_bytes=10**12) == 10**9 * BYTES_PER_POINT
    for bad in (0, -5, 2.5, "x", (10, 10), (10, 10, 0)):
        with pytest.raises(GridSizeError, match="Grid size must be a positive integer"):
            check_grid_size(bad)
    assert check_grid_size(np.array([4, 5, 6])) == 120 * BYTES_PER_POINT


@pytest.mark.parametrize(("value", "expected"), [("16GiB", 16 * 1024**3), ("8e9", 8 * 10**9),
                                                 ("512 MiB", 512 * 1024**2), ("3GB", 3 * 10**9)])
def test_limit_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv(ENV_MAX_GRID_BYTES, value)
    assert max_grid_bytes() == expected


@pytest.mark.parametrize("value", ["lots", "-1", "0", "5 parsecs"])
def test_bad_environment_limit(monkeypatch, value):
    monkeypatch.setenv(ENV_MAX_GRID_BYTES, value)
    with pytest.raises(ValueError, match=ENV_MAX_GRID_BYTES):
        check_grid_size(10)


def test_partial_occupancy_iam_works_but_chgcar_is_refused(tmp_path, disordered):
    grid = iam_density_grid(disordered, 32)
    electrons = grid.mean() * disordered.volume
    assert electrons == pytest.approx(0.5 * 56 + 0.5 * 38 + 8, rel=2e-3)  # occupancy-weighted
    with pytest.raises(ValueError, match=r"CHGCAR cannot hold .*partial occupancies \(site 0: Ba0.5 Sr0.5"):
        check_density_format(disordered, tmp_path / "CHGCAR")
    with pytest.raises(ValueError, match="partial occupancies"):
        write_density(grid, disordered, tmp_path / "CHGCAR")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written
    assert check_density_format(disordered, tmp_path / "x.cube") == "cube"
    assert write_density(grid, disordered, tmp_path / "x.xsf").is_file()
    ordered = Structure(Lattice.cubic(4.2), ["Ba", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert check_density_format(ordered, tmp_path / "CHGCAR") == "chgcar"
    with pytest.raises(ValueError, match="Unknown density format"):
        check_density_format(ordered, fmt="png")

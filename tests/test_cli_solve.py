import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Chgcar

from pymatgen_crystalnet.cli import main
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import save_model
from pymatgen_crystalnet.physics.powder import xrd_pattern
from test_solver import TINY


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    save_model(CrystalNet(CrystalNetConfig(**TINY)), folder, metadata={"cell": "primitive"})
    return folder


def test_solve_command_writes_files(tmp_path, checkpoint, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    out = tmp_path / "out"
    args = ["solve", str(pattern), "-c", "NaCl", "-n", "3", "--grid", "10", "--checkpoint", str(checkpoint)]
    result = CliRunner().invoke(main, [*args, "-w", "MoKa", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "indexed lattice" in result.output and "cell: indexed cubic F" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [c["rank"] for c in summary["candidates"]] == [0, 1, 2]
    assert summary["lattice_abc"] == pytest.approx([5.64 / np.sqrt(2)] * 3, rel=1e-3)
    cos = [c["cosine"] for c in summary["candidates"]]
    assert cos == sorted(cos, reverse=True)
    chg = Chgcar.from_file(str(out / "candidate_1.vasp"))
    assert chg.data["total"].shape == (10, 10, 10)
    assert (out / "candidate_3.xsf").stat().st_size > 0
    png = (out / "solve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_solve_command_refuses_sticks_without_wavelength(tmp_path, checkpoint):
    hexagonal = Structure(
        Lattice.hexagonal(3.2, 5.2), ["Mg", "Mg"], [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    )
    pattern = tmp_path / "mg.json"
    pattern.write_text(xrd_pattern(hexagonal).to_json())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["solve", str(pattern), "--checkpoint", str(checkpoint), "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "wavelength" in result.output and "never assumed" in result.output
    assert not out.exists()
    ok = CliRunner().invoke(
        main,
        [
            "solve",
            str(pattern),
            "-w",
            "MoKa",
            "--lattice",
            "3.2 3.2 5.2 90 90 120",
            "-n",
            "1",
            "--grid",
            "8",
            "--checkpoint",
            str(checkpoint),
            "-o",
            str(out),
        ],
    )
    assert ok.exit_code == 0, ok.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_solve_command_refuses_an_absent_device_cleanly(tmp_path, checkpoint, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    out = tmp_path / "out"
    args = ["solve", str(pattern), "--checkpoint", str(checkpoint), "--device", "cuda", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Error: Device 'cuda' was asked for, but CUDA is not available here" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_solve_command_refuses_an_empty_model_name(tmp_path, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    result = CliRunner().invoke(main, ["solve", str(pattern), "--model", "", "-o", str(tmp_path / "o")])
    assert result.exit_code != 0 and "empty model name" in result.output


def test_solve_command_set_option(tmp_path, checkpoint, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    base = ["solve", str(pattern), "-c", "NaCl", "-w", "MoKa", "--grid", "8", "--checkpoint", str(checkpoint)]
    out = tmp_path / "set"
    result = CliRunner().invoke(
        main, [*base, "--set", "n_candidates=2", "--set", "solve.composition_mode=none", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["candidates"]) == 2 and summary["composition_mode"] == "none"
    bad = CliRunner().invoke(main, [*base, "--set", "candidates=2", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "Invalid value for --set" in bad.output
    assert "Unknown setting 'candidates'; valid keys: composition_mode, deterministic, grid" in bad.output
    bad = CliRunner().invoke(main, [*base, "--set", "grid=fine", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "SolveConfig.grid: expected an integer" in bad.output
    bad = CliRunner().invoke(main, [*base, "-n", "0", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "n_candidates must be between 1 and 1000" in bad.output


def test_models_list_runs():
    result = CliRunner().invoke(main, ["models", "list"])
    assert result.exit_code == 0

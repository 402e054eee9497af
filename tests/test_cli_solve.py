import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.io.common import VolumetricData
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
    fast = ["--z", "4", "--space-group", "Fm-3m", "--time-budget", "60"]
    for setting in ("n_search_trials=5", "n_refine=1", "keep=2"):
        fast += ["--set", f"structure.{setting}"]
    result = CliRunner().invoke(main, [*args, "-w", "MoKa", *fast, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "structure #1: NaCl Fm-3m" in result.output
    summary = json.loads((out / "summary.json").read_text())
    best = summary["structures"][0]
    assert best["space_group"] == "Fm-3m" and best["rwp"] < 0.05 and best["refined"]
    assert summary["structure_info"]["config"]["space_group"] == "Fm-3m"
    assert summary["structure_info"]["config"]["z"] == 4 and summary["structure_info"]["searched"] == [225]
    nacl_cif = Structure.from_file(out / "structure_1.cif")
    assert StructureMatcher().fit(nacl_cif, nacl) and Structure.from_dict(best["structure"]) == nacl_cif
    assert "Fm-3m" in (out / "structure_1.cif").read_text()
    assert "indexed lattice" in result.output and "cell: indexed cubic F" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [c["rank"] for c in summary["candidates"]] == [0, 1, 2]
    assert summary["lattice_abc"] == pytest.approx([5.64 / np.sqrt(2)] * 3, rel=1e-3)
    cos = [c["cosine"] for c in summary["candidates"]]
    assert cos == sorted(cos, reverse=True)
    files = summary["files"]
    assert sorted(files) == sorted(p.name for p in out.iterdir())
    for rank in (1, 2, 3):
        if f"candidate_{rank}.vasp" in files:  # a candidate with atoms
            chg = Chgcar.from_file(str(out / f"candidate_{rank}.vasp"))
            assert len(chg.structure) > 0 and "X" not in chg.structure.symbol_set
            assert (out / f"candidate_{rank}.xsf").stat().st_size > 0
            assert (out / f"candidate_{rank}.cif").stat().st_size > 0
        else:  # no atoms: a cube file, no placeholder atom
            cube = VolumetricData.from_cube(str(out / f"candidate_{rank}.cube"))
            assert cube.data["total"].shape == (10, 10, 10) and len(cube.structure) == 0
    png = (out / "solve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_solve_command_replaces_the_set_and_refuses_a_blocked_folder(tmp_path, checkpoint, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    out = tmp_path / "out"
    args = ["solve", str(pattern), "-c", "NaCl", "--grid", "8", "--checkpoint", str(checkpoint)]
    args += ["-w", "MoKa", "--no-structures", "-o", str(out)]
    assert CliRunner().invoke(main, [*args, "-n", "3"]).exit_code == 0
    again = CliRunner().invoke(main, [*args, "-n", "1"])
    assert again.exit_code == 0, again.output
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted(summary["files"])
    assert not any(p.name.startswith(("candidate_2", "candidate_3")) for p in out.iterdir())
    (out / "candidate_2.vasp").mkdir()
    before = sorted(p.name for p in out.iterdir())
    blocked = CliRunner().invoke(main, [*args, "-n", "3"])
    assert blocked.exit_code == 1 and "Traceback" not in blocked.output
    assert "candidate_2.vasp" in blocked.output and "not a file of this output" in blocked.output
    assert sorted(p.name for p in out.iterdir()) == before
    assert json.loads((out / "summary.json").read_text()) == summary
    file_out = CliRunner().invoke(main, [*args[:-1], str(pattern / "out")])
    assert file_out.exit_code == 1 and "is not a folder" in file_out.output, file_out.output


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
    base = ["solve", str(pattern), "-c", "NaCl", "--grid", "8", "--checkpoint", str(checkpoint)]
    base += ["-w", "MoKa", "--no-structures"]
    out = tmp_path / "set"
    result = CliRunner().invoke(
        main, [*base, "--set", "n_candidates=2", "--set", "solve.composition_mode=none", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["candidates"]) == 2 and summary["composition_mode"] == "none"
    bad = CliRunner().invoke(main, [*base, "--set", "candidates=2", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "Invalid value for --set" in bad.output
    assert "Unknown setting 'candidates'; valid keys: solve.KEY with KEY in composition_mode" in bad.output
    assert "structure.KEY with KEY in b_factor" in bad.output
    bad = CliRunner().invoke(main, [*base, "--set", "grid=fine", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "SolveConfig.grid: expected an integer" in bad.output
    bad = CliRunner().invoke(main, [*base, "-n", "0", "-o", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and "n_candidates must be between 1 and 1000" in bad.output


def test_models_list_runs():
    result = CliRunner().invoke(main, ["models", "list"])
    assert result.exit_code == 0


def test_solve_command_structure_options_are_checked(tmp_path, checkpoint, nacl):
    pattern = tmp_path / "nacl.json"
    pattern.write_text(xrd_pattern(nacl).to_json())
    base = ["solve", str(pattern), "-c", "NaCl", "-w", "MoKa", "-n", "1", "--grid", "8"]
    base += ["--checkpoint", str(checkpoint)]
    for option, message in (
        (["--space-group", "Xyz"], "Unknown space-group symbol 'Xyz'"),
        (["--space-group", "231"], "A space-group number lies in 1–230"),
        (["--z", "0"], "z must be a positive integer"),
        (["--time-budget", "-1"], "time_budget_s must be a positive number"),
    ):
        bad = CliRunner().invoke(main, [*base, *option, "-o", str(tmp_path / "bad")])
        assert bad.exit_code == 1 and message in bad.output, bad.output
        assert not (tmp_path / "bad").exists()
    out = tmp_path / "no-formula"
    ok = CliRunner().invoke(main, ["solve", str(pattern), "-w", "MoKa", "-n", "1", "--grid", "8",
                                   "--checkpoint", str(checkpoint), "-o", str(out)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "no crystal structure: a crystal structure needs the chemical formula" in ok.output
    assert json.loads((out / "summary.json").read_text())["structures"] == []

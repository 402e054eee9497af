"""Issue 16 ("wrong cells and silent assumptions", "limits"): one test per reproduction.

Each refusal is a ``ValueError`` subclass naming the problem; nothing reaches the model on a
cell that fails a figure of merit, the volume check or the model's coverage, and low
agreement is reported as "no solution found".
"""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from pymatgen.core import Lattice, Structure

from lit_crystals import calcite, srtio3
from pymatgen_crystalnet.featurize.composition import CompositionError
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import WeightsError, load_model, save_model
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.solver.cell_checks import MIN_COSINE, CellRefused
from pymatgen_crystalnet.solver.inputs import PatternInputError
from pymatgen_crystalnet.solver.lattice import LatticeInputError
from pymatgen_crystalnet.solver.limits import ResourceError
from pymatgen_crystalnet.solver.solver import CrystalNetSolver
from test_solver import TINY

EXPERIMENTAL = "experimental/iucr_rietveld"
BAO = "src/pymatgen_crystalnet/examples/BaO_MoKa.xy"
FAST = {"n_candidates": 2, "grid": 12, "seed": 0, "structures": False}


@pytest.fixture(scope="module")
def bundled():
    return CrystalNetSolver.from_pretrained(device="cpu")


@pytest.fixture(scope="module")
def corpus(shared_data):
    wanted = {"mp-1102384": "Rb2S", "mp-10093": "Sr2YbNbO6"}
    out = {}
    with gzip.open(shared_data / "mp_structures.jsonl.gz", "rt") as fh:
        for line in fh:
            if any(mid in line[:60] for mid in wanted):
                rec = json.loads(line)
                if rec["material_id"] in wanted:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        out[wanted[rec["material_id"]]] = Structure.from_str(rec["cif"], fmt="cif")
    assert len(out) == 2
    return out


def _cu(structure):
    return xrd_pattern(structure, wavelength="CuKa1", two_theta_range=(5, 90))


# --------------------------------------------------------------------------- wrong cells


def test_calcite_is_indexed_rhombohedral_not_a_huge_cubic_cell(bundled):
    result = bundled.solve(_cu(calcite()), "CaCO3", wavelength="CuKa1", **FAST)
    cell = result.info["cell"]
    assert cell["source"] == "indexed" and cell["crystal_system"] == "trigonal" and cell["centring"] == "R"
    assert cell["incoming_abc"] == pytest.approx([4.9896, 4.9896, 17.061], rel=2e-3)
    assert cell["m20"] >= 10 and cell["f_n"] > 10
    assert result.lattice.volume == pytest.approx(calcite().lattice.volume / 3, rel=2e-3)


@pytest.mark.parametrize("name", ["Rb2S", "Sr2YbNbO6"])
def test_orthorhombic_and_monoclinic_patterns_are_refused(bundled, corpus, name):
    with pytest.raises(CellRefused) as err:
        bundled.solve(_cu(corpus[name]), name, wavelength="CuKa1", index_seconds=5, **FAST)
    assert any(w in str(err.value) for w in ("not trained on", "M20", "unindexed", "No cell"))


def test_eui2_measured_profile_is_refused_not_forced_cubic(bundled, shared_data):
    path = shared_data / EXPERIMENTAL / "sq3214Isup2.rtv.combined.cif"
    with pytest.raises(CellRefused, match=r"M20|unindexed|not trained on|No cell"):
        bundled.solve(path, "EuI2", index_seconds=5, **FAST)


def test_mg2sn_with_its_own_cell_is_not_refused_for_two_impurity_lines(bundled, shared_data):
    path = shared_data / EXPERIMENTAL / "gw5052Mg2Sn_100K_LTsup23.rtv.combined.cif"
    result = bundled.solve(path, "Mg2Sn", lattice=6.741735, **FAST)
    cell = result.info["cell"]
    assert cell["source"] == "given" and cell["centring"] == "F"
    assert cell["unindexed_two_theta"] == pytest.approx([9.842, 10.292], abs=0.01)
    assert result.lattice.abc == pytest.approx((6.741735 / np.sqrt(2),) * 3, rel=1e-4)
    assert result.info["wavelength"] == pytest.approx(0.49935)


def test_conventional_lattice_reduced_and_transformation_recorded(bundled, shared_data):
    path = shared_data / EXPERIMENTAL / "gw5052Mg2Si_100K_LTsup2.rtv.combined.cif"
    result = bundled.solve(path, "Mg2Si", lattice=Lattice.cubic(6.334697), **FAST)
    cell = result.info["cell"]
    assert cell["incoming_abc"] == pytest.approx([6.334697] * 3)
    assert result.lattice.angles == pytest.approx((60.0,) * 3)
    t = np.array(cell["transformation"])
    assert abs(round(np.linalg.det(t))) == 4
    assert any("transformation" in n for n in cell["notes"])


def test_lattice_contradicting_the_pattern_is_refused(bundled):
    with pytest.raises(CellRefused, match="contradicts the pattern"):
        bundled.solve(BAO, "BaO", wavelength="MoKa", lattice=4.1, **FAST)


def test_left_handed_lattice_refused(bundled):
    with pytest.raises(LatticeInputError, match="left-handed"):
        bundled.solve(BAO, "BaO", wavelength="MoKa", lattice=np.diag([5.6149, 5.6149, -5.6149]), **FAST)


# --------------------------------------------------------------------------- wavelength


def test_wavelength_required_and_implausible_cells_refused(bundled):
    sticks = _cu(srtio3())
    with pytest.raises(PatternInputError, match="never assumed"):
        bundled.solve(sticks, "SrTiO3", **FAST)
    with pytest.raises(PatternInputError, match=r"outside 0\.05–5"):
        bundled.solve(sticks, "SrTiO3", wavelength=100, **FAST)
    # Cu sticks read as Mo Kα: a = 1.80 Å, 1.2 Å³ per atom
    with pytest.raises(CellRefused, match="implausible for SrTiO3"):
        bundled.solve(sticks, "SrTiO3", wavelength="MoKa", **FAST)
    result = bundled.solve(sticks, "SrTiO3", wavelength="CuKa1", **FAST)
    assert result.info["wavelength"] == pytest.approx(1.54056)
    assert result.info["pattern"]["wavelength_source"] == "given"
    assert result.summary()["wavelength"] == pytest.approx(1.54056)
    assert result.lattice.abc == pytest.approx((3.905,) * 3, rel=1e-3)


# --------------------------------------------------------------------------- other inputs


@pytest.mark.parametrize(
    ("composition", "match"),
    [("Ba0O", "zero"), ({"Ba": float("nan"), "O": 1}, "nan"), ("EsO", "form-factor"), ("Og", "form-factor")],
)
def test_bad_compositions_refused(bundled, composition, match):
    with pytest.raises(CompositionError, match=match):
        bundled.solve(BAO, composition, wavelength="MoKa", **FAST)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": 5}, "grid must be at least 8"),
        ({"grid": 1000}, "grid must be at most 512"),
        ({"n_candidates": 10000}, "n_candidates must be between 1 and 1000"),
    ],
)
def test_settings_out_of_range_refused(bundled, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bundled.solve(BAO, "BaO", wavelength="MoKa", **{**FAST, **kwargs})


def test_memory_estimate_refuses_before_allocating(bundled, monkeypatch):
    import pymatgen_crystalnet.solver.limits as limits

    monkeypatch.setattr(limits, "available_memory", lambda device=None: 2e8)
    with pytest.raises(ResourceError, match=r"needs about .* GB .* available"):
        bundled.solve(BAO, "BaO", wavelength="MoKa", n_candidates=500, grid=128)


# --------------------------------------------------------------------------- no solution


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A model that proposes featureless densities (every weight zero): nothing agrees."""
    model = CrystalNet(CrystalNetConfig(**TINY))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    folder = tmp_path_factory.mktemp("flat")
    save_model(model, folder, metadata={"cell": "primitive"})
    return folder


def test_low_agreement_is_no_solution(bundled, flat):
    good = bundled.solve(BAO, "BaO", wavelength="MoKa", n_candidates=3, grid=24, seed=0)
    assert good.solved and good.reason is None and good[0].agreement["cosine"] >= MIN_COSINE
    noise = CrystalNetSolver.from_checkpoint(flat, device="cpu").solve(BAO, "BaO", wavelength="MoKa", **FAST)
    assert noise[0].agreement["cosine"] < MIN_COSINE
    assert not noise.solved and noise.reason.startswith("no solution found")
    assert noise.summary()["solved"] is False and "no solution found" in noise.summary()["reason"]


def test_cli_exit_status_for_no_solution_and_refusals(flat, tmp_path):
    from pymatgen_crystalnet.cli import main
    from pymatgen_crystalnet.cli.solve import EXIT_NO_SOLUTION

    args = ["solve", BAO, "-c", "BaO", "-n", "2", "--grid", "12", "--checkpoint", str(flat)]
    res = CliRunner().invoke(main, [*args, "-w", "MoKa", "-o", str(tmp_path / "a")])
    assert res.exit_code == EXIT_NO_SOLUTION == 3, res.output
    assert "No solution found" in res.output
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["solved"] is False
    res = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "b")])
    assert res.exit_code == 1 and "never assumed" in res.output
    res = CliRunner().invoke(main, [*args, "-w", "MoKa", "--grid", "5", "-o", str(tmp_path / "c")])
    assert res.exit_code == 1 and "grid must be at least 8" in res.output
    bad = [*args, "-w", "MoKa", "--lattice", "5.6 0 0 0 5.6 0 0 0 -5.6", "-o", str(tmp_path / "d")]
    res = CliRunner().invoke(main, bad)
    assert res.exit_code == 1 and "left-handed" in res.output


# --------------------------------------------------------------------------- weights


def _copy_bundled(tmp_path):
    import shutil

    from pymatgen_crystalnet.model.pretrained import pretrained_path

    return Path(shutil.copytree(pretrained_path(None), tmp_path / "w"))


def _edit_config(folder, **changes):
    path = folder / "config.json"
    doc = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "regressor_hidden":
            doc["config"][key] = value
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"config": 5}, "'config' must be a mapping"),
        ({"format_version": "1"}, "format_version '1'"),
        ({"format_version": 0}, "format_version 0"),
        ({"format_version": 99}, "format version 99"),
        ({"weights_file": "../../etc/model.safetensors"}, "outside the weights folder"),
        ({"weights_file": "/tmp/model.safetensors"}, "outside the weights folder"),
        ({"regressor_hidden": 200000}, "GB of parameters"),
    ],
)
def test_bad_weights_configs_refused(tmp_path, changes, match):
    folder = _copy_bundled(tmp_path)
    _edit_config(folder, **changes)
    with pytest.raises(WeightsError, match=match):
        load_model(folder)


def test_from_pretrained_empty_name_refused():
    with pytest.raises(ValueError, match="empty model name"):
        CrystalNetSolver.from_pretrained("")


def test_solve_maker_has_a_wavelength(nacl):
    pytest.importorskip("jobflow")
    from pymatgen_crystalnet.workflows.solving_jobs import SolveMaker

    sticks = _cu(nacl)
    with pytest.raises(PatternInputError, match="never assumed"):
        SolveMaker.make.original(SolveMaker(n_candidates=1, grid=8), None, sticks, composition="NaCl")
    doc = SolveMaker.make.original(SolveMaker(n_candidates=1, grid=8, wavelength="CuKa1"), None, sticks,
                                   composition="NaCl")  # fmt: skip
    assert doc.pattern["wavelength"] == pytest.approx(1.54056)
    assert doc.provenance.maker["wavelength"] == "CuKa1"

"""``crystalnet index``: ranked table and JSON; too few peaks refused."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing import peaks_from_pattern


def _nacl_peaks(tmp_path):
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    tt = peaks_from_pattern(XRDCalculator("CuKa").get_pattern(s), "CuKa", max_lines=12).two_theta
    src = tmp_path / "nacl.peaks"
    src.write_text("\n".join(f"{x:.4f}" for x in tt))
    return src


def test_cli_index(tmp_path) -> None:
    from pymatgen_crystalnet.cli import main

    src = _nacl_peaks(tmp_path)
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["index", str(src), "-w", "CuKa", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "cF" in res.output.splitlines()[1]
    data = json.loads(out.read_text())
    assert data["solutions"][0]["bravais"] == "cF"
    assert data["solutions"][0]["parameters"][0] == pytest.approx(5.64, abs=1e-3)


def test_cli_index_too_few_peaks(tmp_path) -> None:
    from pymatgen_crystalnet.cli import main

    src = tmp_path / "few.peaks"
    src.write_text("31.7\n45.4\n56.5\n")
    res = CliRunner().invoke(main, ["index", str(src), "-w", "CuKa"])
    assert res.exit_code != 0
    assert "at least 6" in res.output



def test_cli_index_formula(tmp_path) -> None:
    from pymatgen_crystalnet.cli import main

    src = _nacl_peaks(tmp_path)
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["index", str(src), "-w", "CuKa", "--formula", "NaCl", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "Z=4" in res.output.splitlines()[1]
    data = json.loads(out.read_text())
    assert data["formula"] == "NaCl" and data["solutions"][0]["z"] == 4
    bad = CliRunner().invoke(main, ["index", str(src), "-w", "CuKa", "--formula", "Na(Cl"])
    assert bad.exit_code != 0 and "formula" in bad.output

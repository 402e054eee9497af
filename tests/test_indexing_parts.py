"""Pieces of the indexer: forms, figures of merit, centring, peaks, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing.evaluate import centring_mask, evaluate_cell, lattice_parameters
from pymatgen_crystalnet.indexing.forms import FORMS, feature_table, reciprocal_metric
from pymatgen_crystalnet.indexing.peaks import ka_doublet, peaks_from_pattern, peaks_from_profile
from pymatgen_crystalnet.io.patterns import PowderProfile


def test_forms_reproduce_q_of_their_metric() -> None:
    rng = np.random.default_rng(0)
    hkl = rng.integers(-4, 5, size=(50, 3))
    for system, p in {
        "cubic": [0.03],
        "tetragonal": [0.03, 0.05],
        "hexagonal": [0.03, 0.05],
        "orthorhombic": [0.03, 0.04, 0.05],
        "monoclinic": [0.03, 0.04, 0.05, 0.01],
    }.items():
        form = FORMS[system]
        g = reciprocal_metric(system, np.array(p))
        q_metric = np.einsum("ij,jk,ik->i", hkl, g, hkl)
        if system in ("cubic", "tetragonal", "orthorhombic", "hexagonal", "monoclinic"):
            assert np.allclose(form.features(hkl) @ np.array(p), q_metric)


def test_feature_table_is_distinct_and_cached() -> None:
    t = feature_table(FORMS["cubic"], 3, 3, 3)
    assert list(t[:7, 0]) == [1, 2, 3, 4, 5, 6, 8]  # 7 is not a sum of three squares
    assert feature_table(FORMS["cubic"], 3, 3, 3) is t


def test_centring_conditions() -> None:
    hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 0, 0], [1, 0, 1]])
    assert centring_mask(hkl, "I").tolist() == [False, True, False, True, True]
    assert centring_mask(hkl, "F").tolist() == [False, False, True, True, False]
    assert centring_mask(hkl, "C").tolist() == [False, True, True, True, False]
    assert centring_mask(np.array([[1, 0, 1], [0, 1, 2], [1, 0, 0]]), "R").tolist() == [True, True, False]


def test_m20_of_exact_cubic_lines() -> None:
    a, lam = 4.0, 1.54056
    g = reciprocal_metric("cubic", np.array([1 / a**2]))
    n = np.array([1, 2, 3, 4, 5, 6, 8, 9, 10, 11])
    tt = 2 * np.degrees(np.arcsin(lam * np.sqrt(n) / (2 * a)))
    tt_shifted = tt + np.array([0.01, -0.01] * 5)
    ev = evaluate_cell(g, 0.0, tt_shifted, lam, np.full(10, 0.03), ("P", "I", "F"))
    assert ev.centring == "P"
    assert ev.indexed.all()
    assert ev.n20_calc == 10
    # M = Q_N / (2 ε̄ N_calc) by hand
    q = (2 * np.sin(np.radians(tt_shifted) / 2) / lam) ** 2
    eps = np.abs(q - n / a**2).mean()
    assert ev.m20 == pytest.approx(q[-1] / (2 * eps * 10), rel=1e-6)
    assert ev.f_n == pytest.approx(10 / (10 * 0.01), rel=1e-3)  # N / (N_poss · mean abs Δ2θ)
    assert lattice_parameters(g) == pytest.approx([4, 4, 4, 90, 90, 90])


def test_peaks_from_pattern_merges_and_filters() -> None:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    pat = XRDCalculator("CuKa").get_pattern(s)
    peaks = peaks_from_pattern(pat, "CuKa", min_intensity=1.0, max_lines=8)
    assert len(peaks) == 8
    assert np.all(np.diff(peaks.two_theta) > 0.02)
    assert peaks.wavelength == pytest.approx(1.54184)


def _doublet_profile(positions_a1: list[float], height: float = 1000.0) -> PowderProfile:
    lam1, lam2 = 1.54056, 1.54439
    tt = np.arange(20.0, 120.0, 0.01)
    y = np.full(tt.size, 20.0)
    for p in positions_a1:
        p2 = 2 * np.degrees(np.arcsin(np.sin(np.radians(p) / 2) * lam2 / lam1))
        for pos, h in ((p, height), (p2, height / 2)):
            y += h / (1 + ((tt - pos) / 0.04) ** 2)
    return PowderProfile(two_theta=tt, intensity=y, wavelength=1.54184)


def test_ka2_doublets_are_stripped() -> None:
    assert ka_doublet(1.54184) == (1.54184, 1.54056, 1.54439)
    assert ka_doublet(0.5) is None
    pos = [30.0, 45.0, 70.0, 95.0, 110.0]
    peaks = peaks_from_profile(_doublet_profile(pos), noise_threshold=0)
    assert peaks.wavelength == pytest.approx(1.54056)
    assert len(peaks) == 5
    # resolved doublets (high angles) keep their Kα1 position
    assert peaks.two_theta[-3:] == pytest.approx(pos[-3:], abs=0.01)
    none = peaks_from_profile(_doublet_profile(pos), ka2="none", noise_threshold=0)
    assert len(none) > 5


def test_cli_index(tmp_path) -> None:
    from pymatgen_crystalnet.cli import main

    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    tt = peaks_from_pattern(XRDCalculator("CuKa").get_pattern(s), "CuKa", max_lines=12).two_theta
    src = tmp_path / "nacl.peaks"
    src.write_text("\n".join(f"{x:.4f}" for x in tt))
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

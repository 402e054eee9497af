"""The prepared pattern (one object for indexing, model input and verification) and the solve cell."""

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from lit_crystals import calcite
from pymatgen_crystalnet.featurize.xrd_vector import bin_index, pattern_to_vector
from pymatgen_crystalnet.io.patterns import PowderProfile
from pymatgen_crystalnet.physics.agreement import simulate_profile
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta
from pymatgen_crystalnet.solver.inputs import PatternInputError, PreparedPattern, prepare_pattern
from pymatgen_crystalnet.solver.lattice import (
    LatticeInputError,
    canonical_setting,
    given_cell,
    grid_on_cell,
    parse_lattice,
)


def test_sticks_prepared_once_with_d_spacings_and_model_vector(nacl):
    cu = xrd_pattern(nacl, wavelength="CuKa1", two_theta_range=(5, 90))
    mo = xrd_pattern(nacl, wavelength=MO_KA, two_theta_range=(0, 180))
    p = prepare_pattern(cu, "CuKa1")
    assert isinstance(p, PreparedPattern) and p.kind == "sticks"
    assert p.wavelength == pytest.approx(1.54056) and p.wavelength_source == "given"
    # d-spacings are the invariant: 111 of NaCl at 5.64/√3
    assert p.d_spacing[0] == pytest.approx(5.64 / np.sqrt(3), rel=1e-6)
    np.testing.assert_allclose(p.two_theta, np.sort(cu.x), atol=1e-9)
    # the model vector is the Mo Kα pattern (LP re-weighted from Cu to Mo) over the covered range
    ref = pattern_to_vector(mo)
    covered = p.covered
    # sticks cover 0° to just past their last line (nothing is known beyond it)
    assert p.two_theta_range == pytest.approx((0.0, cu.x.max() + 0.5))
    last = bin_index(convert_two_theta(cu.x.max() + 0.5, 1.54056, MO_KA))
    assert covered[: last + 1].all() and not covered[last + 1 :].any()
    a, b = p.vector[covered], ref[covered]
    cos = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
    assert cos > 0.999
    assert prepare_pattern(p) is p  # a prepared pattern passes through


def test_profile_prepared_with_its_range_and_profile(nacl):
    sticks = XRDCalculator("CuKa1").get_pattern(nacl, two_theta_range=(10, 120))
    grid = np.arange(10, 120, 0.02)
    profile = PowderProfile(grid, simulate_profile(sticks.x, sticks.y, grid, fwhm=0.1) + 5.0, 1.54056)
    p = prepare_pattern(profile)
    assert p.kind == "profile" and p.profile is profile and p.wavelength_source == "file"
    assert p.two_theta_range == pytest.approx((10.0, 119.98))
    lo, hi = convert_two_theta([10.0, 119.98], 1.54056, MO_KA)
    assert np.nonzero(p.covered)[0][[0, -1]].tolist() == [bin_index(lo), bin_index(hi)]
    strong = sticks.x[sticks.y > 5]
    assert np.min(np.abs(p.two_theta[:, None] - strong[None, :]), axis=0).max() < 0.02


def test_wavelength_is_never_assumed(nacl, tmp_path):
    sticks = xrd_pattern(nacl, wavelength="CuKa1")
    with pytest.raises(PatternInputError, match=r"wavelength .* is unknown.*never assumed"):
        prepare_pattern(sticks)
    with pytest.raises(PatternInputError, match="wavelength"):
        prepare_pattern((np.linspace(10, 80, 100), np.ones(100)))
    xy = tmp_path / "p.xy"
    x = np.arange(10, 80, 0.02)
    xy.write_text("\n".join(f"{a} {np.exp(-((a - 40) / 0.1) ** 2) * 100 + 1}" for a in x))
    with pytest.raises(PatternInputError, match="never assumed"):
        prepare_pattern(xy)
    assert prepare_pattern(xy, "CuKa1").wavelength_source == "given"


@pytest.mark.parametrize("bad", [100.0, 0.001, "100", -1.0])
def test_implausible_wavelengths_refused(nacl, bad):
    with pytest.raises(PatternInputError, match=r"Wavelength"):
        prepare_pattern(xrd_pattern(nacl, wavelength="CuKa1"), bad)


def test_pattern_outside_two_theta_refused(nacl):
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    sticks = DiffractionPattern([200.0, 250.0, 300.0], [100, 50, 20], [[(1, 1, 1)]] * 3, [3.0, 2.0, 1.0])
    with pytest.raises(PatternInputError, match="outside 0°–180°"):
        prepare_pattern(sticks, "CuKa1")
    with pytest.raises(PatternInputError, match="entirely outside 0°–180°"):
        prepare_pattern((np.linspace(190, 260, 50), np.ones(50)), "CuKa1")


def test_vector_is_on_the_model_axis():
    v = np.zeros(1024)
    v[[100, 200]] = [1.0, 0.5]
    p = prepare_pattern(v)
    assert p.wavelength == MO_KA and p.wavelength_source == "model axis" and p.covered.all()
    with pytest.raises(PatternInputError, match="Mo Kα axis"):
        prepare_pattern(v, "CuKa1")


def test_conventional_lattice_reduced_to_canonical_with_transformation(nacl):
    p = prepare_pattern(xrd_pattern(nacl, wavelength="CuKa1", two_theta_range=(5, 90)), "CuKa1")
    cell = given_cell(nacl.lattice, p)
    assert cell.centring == "F" and cell.crystal_system == "cubic"
    assert cell.lattice.abc == pytest.approx((5.64 / np.sqrt(2),) * 3, rel=1e-6)
    assert cell.lattice.angles == pytest.approx((60.0,) * 3)
    t = np.asarray(cell.transformation)
    assert abs(round(np.linalg.det(t))) == 4
    # incoming = T · canonical, up to a rotation: same metric
    np.testing.assert_allclose((t @ cell.lattice.matrix) @ (t @ cell.lattice.matrix).T,
                               nacl.lattice.matrix @ nacl.lattice.matrix.T, atol=1e-6)  # fmt: skip
    assert cell.merit["n_indexed"] == cell.merit["n_lines"] and cell.merit["m20"] > 100
    assert any("F-centred" in n for n in cell.notes)
    summary = cell.summary()
    assert summary["source"] == "given" and summary["incoming_abc"] == pytest.approx([5.64] * 3)


def test_rhombohedral_in_hexagonal_axes_to_primitive():
    st = calcite()
    p = prepare_pattern(xrd_pattern(st, wavelength="CuKa1", two_theta_range=(5, 90)), "CuKa1")
    cell = given_cell(st.lattice, p)
    assert cell.centring == "R" and cell.crystal_system == "trigonal"
    assert cell.lattice.volume == pytest.approx(st.lattice.volume / 3, rel=1e-6)


def test_primitive_lattice_stays():
    canonical, t, system = canonical_setting(Lattice.cubic(4.0), "P")
    assert system == "cubic" and canonical.abc == pytest.approx((4.0,) * 3)
    assert abs(round(np.linalg.det(t))) == 1


def test_grid_on_user_cell_is_the_same_density():
    n = 12
    i = np.arange(n) / n
    x, y, z = np.meshgrid(i, i, i, indexing="ij")
    fcc = canonical_setting(Lattice.cubic(5.0), "F")
    canonical, t = fcc[0], fcc[1]
    # a density with the period of the canonical cell
    grid = (2 + np.cos(2 * np.pi * x) + 0.5 * np.sin(2 * np.pi * (y - z))).astype(np.float32)
    on_user = grid_on_cell(grid, t, (24, 24, 24))
    frac = np.array([0.25, 0.5, 0.75])
    canon_frac = np.mod(frac @ t, 1.0)
    expect = 2 + np.cos(2 * np.pi * canon_frac[0]) + 0.5 * np.sin(2 * np.pi * (canon_frac[1] - canon_frac[2]))
    assert on_user[6, 12, 18] == pytest.approx(expect, abs=0.1)
    # the mean density (electrons per volume) is unchanged
    assert on_user.mean() == pytest.approx(grid.mean(), rel=0.02)
    assert canonical.volume == pytest.approx(125.0 / 4)


@pytest.mark.parametrize(
    ("lattice", "match"),
    [
        (np.diag([4.0, 4.0, -4.0]), "left-handed"),
        ([[1, 0, 0], [2, 0, 0], [0, 0, 1]], "coplanar"),
        (np.full((3, 3), np.nan), "NaN"),
        ([4.0, 4.0, 4.0, 90, 90, 200], "angles"),
        (5000.0, "outside"),
        (np.eye(2), "shape"),
        ("abc", "must be"),
    ],
)
def test_bad_lattices_refused(lattice, match):
    with pytest.raises(LatticeInputError, match=match):
        parse_lattice(lattice)


def test_six_parameters_and_matrix_accepted():
    assert parse_lattice([3, 4, 5, 90, 90, 90]).abc == pytest.approx((3, 4, 5))
    copper = Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]])
    assert parse_lattice(copper.lattice).volume == pytest.approx(27)

"""physics/units.py: the wavelength table (pymatgen's) and the one 2θ range check."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import WAVELENGTHS as PYMATGEN_WAVELENGTHS

from pymatgen_crystalnet.physics.forward import pattern_from_density
from pymatgen_crystalnet.physics.units import (
    MO_KA,
    WAVELENGTHS,
    check_two_theta_range,
    resolve_wavelength,
)

# Values the package carried in its own table before it used pymatgen's (Å); they must not move.
PROJECT_VALUES = {
    "CuKa": 1.54184,
    "CuKa1": 1.54056,
    "CuKa2": 1.54439,
    "CuKb1": 1.39222,
    "MoKa": 0.71073,
    "MoKa1": 0.70930,
    "MoKa2": 0.71359,
    "MoKb1": 0.63229,
    "AgKa1": 0.559421,
    "CrKa": 2.29100,
    "FeKa": 1.93735,
    "CoKa": 1.79026,
}


def test_wavelength_table_is_pymatgens():
    assert dict(WAVELENGTHS) == {k: float(v) for k, v in PYMATGEN_WAVELENGTHS.items()}
    assert len(WAVELENGTHS) == len(PYMATGEN_WAVELENGTHS)
    for name, value in PROJECT_VALUES.items():
        assert WAVELENGTHS[name] == value
        assert resolve_wavelength(name) == value
    assert WAVELENGTHS.get("XyKa") is None and "MoKa" in WAVELENGTHS
    with pytest.raises(TypeError):
        WAVELENGTHS["MoKa"] = 1.0  # type: ignore[index]


def test_pattern_axis_wavelength_is_the_weighted_mo_ka():
    # The model's axis is defined at 0.71073 Å; pymatgen's "MoKa" is (2 Kα1 + Kα2) / 3.
    assert MO_KA == 0.71073 == PYMATGEN_WAVELENGTHS["MoKa"]
    weighted = (2 * WAVELENGTHS["MoKa1"] + WAVELENGTHS["MoKa2"]) / 3
    assert weighted == pytest.approx(MO_KA, abs=5e-6)


def test_resolve_wavelength_numbers_and_errors():
    assert resolve_wavelength(1.5406) == 1.5406
    assert resolve_wavelength(" 0.5 ") == 0.5
    with pytest.raises(ValueError, match=r"Unknown wavelength 'XyKa'.*MoKa"):
        resolve_wavelength("XyKa")
    with pytest.raises(ValueError, match="finite positive"):
        resolve_wavelength(-1.0)


@pytest.mark.parametrize("good", [(0, 180), (0.0, 0.5), (10.0, 90.0), (179.0, 180.0)])
def test_check_two_theta_range_accepts(good):
    assert check_two_theta_range(good) == good


@pytest.mark.parametrize("bad", [(10, 10), (20, 10), (-1, 90), (10, 180.5), (190, 200)])
def test_check_two_theta_range_rejects(bad):
    with pytest.raises(ValueError, match=r"0 ≤ min < max ≤ 180"):
        check_two_theta_range(bad)


def test_forward_model_uses_the_range_check():
    with pytest.raises(ValueError, match=r"two_theta_range must satisfy 0 ≤ min < max ≤ 180"):
        pattern_from_density(np.ones((4, 4, 4)), np.eye(3) * 4.0, two_theta_range=(30.0, 20.0))


def test_kalpha_lines_know_the_lab_anodes_and_nothing_else():
    from pymatgen_crystalnet.indexing.peaks import ka_doublet
    from pymatgen_crystalnet.physics.units import KALPHA_ANODES, kalpha_lines
    from pymatgen_crystalnet.structure.profile_model import emission_lines

    for anode in KALPHA_ANODES:
        table = [PYMATGEN_WAVELENGTHS[f"{anode}Ka{s}"] for s in ("", "1", "2")]
        for given, lam in (("Ka", table[0]), ("Ka1", table[1])):
            lines = kalpha_lines(lam + 2e-4)
            assert lines is not None and (lines.anode, lines.given) == (anode, given)
            assert [lines.ka, lines.ka1, lines.ka2] == table
            # indexing and the profile model read the same lines
            assert ka_doublet(lam) == tuple(table)
            scale = lam / table[1] if given == "Ka1" else 1.0
            assert emission_lines(lam).wavelength2 == pytest.approx(table[2] * scale)
    for other in (0.49935, 1.0, PYMATGEN_WAVELENGTHS["CuKb1"], PYMATGEN_WAVELENGTHS["CuKa"] + 1e-3):
        assert kalpha_lines(other) is None and ka_doublet(other) is None and not emission_lines(other).doublet

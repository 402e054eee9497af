import numpy as np
import pytest

from pymatgen_crystalnet.physics.form_factors import (
    MAX_Z,
    coefficient_table,
    form_factor,
    wk_coefficients,
)


def test_table_covers_h_to_cf():
    table = coefficient_table()
    assert table.shape == (MAX_Z + 1, 11)
    assert np.all(np.isfinite(table[1 : MAX_Z + 1]))
    assert np.all(np.isnan(table[0]))


def test_f0_at_zero_is_electron_count():
    for z in range(1, MAX_Z + 1):
        assert form_factor(z, 0.0) == pytest.approx(z, rel=1e-3)


def test_known_values_and_symbols():
    # H: a sum of 0.413048+0.294953+0.187491+0.080701+0.023736 + c 4.9e-5 at s = 0
    a, b, c = wk_coefficients("H")
    assert a.sum() + c == pytest.approx(0.999978, abs=1e-6)
    assert b[0] == pytest.approx(15.569946)
    # f decreases with s, and B damps it by exp(-B s^2)
    s = np.array([0.0, 0.2, 0.5, 1.0])
    f = form_factor("Si", s)
    assert np.all(np.diff(f) < 0)
    np.testing.assert_allclose(form_factor(14, s, b_factor=1.0), f * np.exp(-(s**2)))


@pytest.mark.parametrize("bad", [0, 99, 118, "Xx", "Es"])
def test_element_without_coefficients(bad):
    with pytest.raises(ValueError, match=r"(No Waasmaier|Unknown element)"):
        wk_coefficients(bad)

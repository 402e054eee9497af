import numpy as np
import pytest

from pymatgen_crystalnet.featurize.xrd_vector import (
    N_BINS,
    bin_centres,
    bin_index,
    sticks_to_vector,
)
from pymatgen_crystalnet.physics.units import (
    MO_KA,
    convert_two_theta,
    d_to_two_theta,
    q_to_two_theta,
    resolve_wavelength,
    two_theta_to_d,
    two_theta_to_q,
)


def test_binning_rule():
    # bin = int(1024 * 2θ / 180); 180° lands in the last bin
    assert list(bin_index([0.0, 0.1757, 0.17579, 90.0, 179.99, 180.0])) == [
        0,
        0,
        1,
        512,
        1023,
        1023,
    ]
    assert bin_centres()[0] == pytest.approx(180 / 1024 / 2)


def test_sticks_to_vector_takes_bin_maximum_and_normalises():
    vec = sticks_to_vector([10.6, 10.65, 20.0], [30.0, 50.0, 100.0])
    assert vec.shape == (N_BINS,) and vec.dtype == np.float32
    assert bin_index(10.6) == bin_index(10.65) == 60
    assert vec[60] == pytest.approx(0.5)
    assert vec[bin_index(20.0)] == pytest.approx(1.0)
    assert np.count_nonzero(vec) == 2


@pytest.mark.parametrize(
    ("tt", "h", "match"),
    [
        ([], [], "no peaks"),
        ([10.0], [np.nan], "NaN"),
        ([10.0], [-1.0], "negative"),
        ([190.0], [1.0], r"\[0, 180\]"),
        ([10.0], [0.0], "zero"),
        ([10.0, 20.0], [1.0], "differ"),
    ],
)
def test_bad_patterns(tt, h, match):
    with pytest.raises(ValueError, match=match):
        sticks_to_vector(tt, h)


def test_conversions_round_trip():
    tt = np.array([5.0, 30.0, 90.0, 150.0])
    d = two_theta_to_d(tt, MO_KA)
    np.testing.assert_allclose(d_to_two_theta(d, MO_KA), tt)
    np.testing.assert_allclose(q_to_two_theta(two_theta_to_q(tt, MO_KA), MO_KA), tt)
    np.testing.assert_allclose(two_theta_to_q(tt, MO_KA), 2 * np.pi / d)
    # Cu 2θ of the Si (111) reflection (d = 3.1356 Å) → Mo 2θ
    cu = d_to_two_theta(3.1356, 1.54056)
    assert cu == pytest.approx(28.44, abs=0.01)
    assert convert_two_theta(cu, 1.54056, MO_KA) == pytest.approx(d_to_two_theta(3.1356, MO_KA))
    # a short wavelength maps high angles beyond 180° → NaN
    assert np.isnan(convert_two_theta(170.0, 0.49935, MO_KA))


def test_wavelength_names_and_errors():
    assert resolve_wavelength("CuKa1") == 1.54056
    assert resolve_wavelength("0.5") == 0.5
    with pytest.raises(ValueError, match="Unknown wavelength"):
        resolve_wavelength("CuKz")
    with pytest.raises(ValueError, match="positive"):
        resolve_wavelength(-1)

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.solver.indexing import IndexingError, index_cubic

CASES = {
    "NaCl": (
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "F",
    ),
    "Si": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]), "F"),
    "CsCl": (Structure(Lattice.cubic(4.123), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), "P"),
    "W": (Structure.from_spacegroup("Im-3m", Lattice.cubic(3.1652), ["W"], [[0, 0, 0]]), "I"),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("radiation", ["MoKa", "CuKa1"])
def test_index_known_cubic_patterns(name, radiation):
    structure, centring = CASES[name]
    a_true = structure.lattice.a
    pattern = XRDCalculator(radiation).get_pattern(structure, two_theta_range=(5, 150))
    result = index_cubic(pattern.x, radiation, intensities=pattern.y)
    assert result.a == pytest.approx(a_true, rel=1e-3)
    assert result.centring == centring
    assert np.max(np.abs(result.residuals)) < 1e-3


def test_index_with_position_noise():
    structure, _ = CASES["NaCl"]
    pattern = XRDCalculator("CuKa1").get_pattern(structure, two_theta_range=(10, 120))
    noisy = np.asarray(pattern.x) + np.random.default_rng(0).uniform(-0.02, 0.02, len(pattern.x))
    result = index_cubic(noisy, "CuKa1", intensities=pattern.y)
    assert result.a == pytest.approx(5.6402, rel=1e-3)


def test_primitive_lattice_of_fcc():
    structure, _ = CASES["NaCl"]
    pattern = XRDCalculator("MoKa").get_pattern(structure, two_theta_range=(5, 60))
    lattice = index_cubic(pattern.x, "MoKa").lattice("primitive")
    assert lattice.abc == pytest.approx((5.6402 / np.sqrt(2),) * 3, rel=1e-3)
    assert lattice.angles == pytest.approx((60.0, 60.0, 60.0), abs=1e-6)


def test_refuses_non_cubic_and_too_few_lines():
    hexagonal = Structure(
        Lattice.hexagonal(3.2, 5.2), ["Mg", "Mg"], [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    )
    pattern = XRDCalculator("CuKa1").get_pattern(hexagonal, two_theta_range=(10, 120))
    with pytest.raises(IndexingError, match="do not index as a cubic"):
        index_cubic(pattern.x, "CuKa1", intensities=pattern.y)
    with pytest.raises(IndexingError, match="at least 3"):
        index_cubic([20.0, 30.0], "CuKa1")
    with pytest.raises(IndexingError, match="inside"):
        index_cubic([20.0, 190.0, 30.0], "CuKa1")

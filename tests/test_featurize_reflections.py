"""The pattern placed on the lattice: reflection amplitudes read from the 1024-bin vector."""

from __future__ import annotations

import numpy as np
import pytest

from lit_crystals import cscl, nacl
from pymatgen_crystalnet.featurize.reflections import CellInputSpec, read_reflections, reflection_arrays
from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_index, xrd_vector
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.physics.powder import lorentz_polarisation
from pymatgen_crystalnet.physics.powder_batch import element_form_factors, site_elements
from pymatgen_crystalnet.physics.units import MO_KA


def _cc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _structure_factors(structure, hkl: np.ndarray, g: np.ndarray, b_factor: float) -> np.ndarray:
    """F_h = Σ_j f_j(s) exp(−B s²) exp(2πi h·x_j), pymatgen's form factors (as the patterns)."""
    symbols, index = site_elements([site.specie.symbol for site in structure])
    s2 = (g / 2) ** 2
    f = element_form_factors(symbols, s2) * np.exp(-b_factor * s2)
    return (f[index] * np.exp(2j * np.pi * structure.frac_coords @ hkl.T)).sum(axis=0)


def test_amplitudes_on_a_hand_made_cubic_case():
    """Three peaks on a 5 Å cube: |F|² = I / Σ 2·LP over the reflections of each bin."""
    a = 5.0
    lattice = np.eye(3) * a
    # half-space reflections of the first three shells: {100} 3, {110} 6, {111} 4
    shells = {1: 3, 2: 6, 3: 4}
    heights = {1: 1.0, 2: 0.5, 3: 0.2}
    vec = np.zeros(N_BINS)
    for n2, height in heights.items():
        tt = np.degrees(2 * np.arcsin(MO_KA * np.sqrt(n2) / a / 2))
        vec[bin_index(tt)] = height
    r = read_reflections(vec, lattice, k=13)
    assert r.n_reflections == 13
    n2 = (r.hkl.astype(int) ** 2).sum(axis=1)
    assert n2.tolist() == [1] * 3 + [2] * 6 + [3] * 4
    expected = []
    for m2 in (1, 2, 3):
        tt = np.degrees(2 * np.arcsin(MO_KA * np.sqrt(m2) / a / 2))
        f2 = heights[m2] / (2 * shells[m2] * lorentz_polarisation(tt))
        expected += [np.sqrt(f2)] * shells[m2]
    expected = np.array(expected) / np.linalg.norm(expected)
    np.testing.assert_allclose(r.amplitude, expected, rtol=1e-6)
    np.testing.assert_allclose(r.g, np.sqrt(n2) / a)
    # fewer rows than k are padding: indices 0 0 0, amplitude 0
    padded = read_reflections(vec, lattice, k=20, d_min=a / np.sqrt(3.5))
    assert padded.n_reflections == 13
    assert not padded.hkl[13:].any() and not padded.amplitude[13:].any()
    np.testing.assert_allclose(padded.amplitude[:13], expected, rtol=1e-6)


def test_tolerance_coverage_and_a_shifted_pattern():
    structure = canonical_cell(nacl(), "primitive")
    vec = xrd_vector(structure)
    lattice = structure.lattice.matrix
    exact = read_reflections(vec, lattice, k=64)
    shifted = np.roll(vec, 1)
    np.testing.assert_allclose(read_reflections(shifted, lattice, k=64).amplitude, exact.amplitude, rtol=1e-5)
    assert not read_reflections(shifted, lattice, k=64, tolerance_bins=0).amplitude.any()
    covered = np.zeros(N_BINS, dtype=bool)
    covered[: N_BINS // 8] = True  # up to 22.5° 2θ
    partial = read_reflections(vec, lattice, k=64, covered=covered)
    two_theta = np.degrees(2 * np.arcsin(MO_KA * exact.g / 2))
    outside = bin_index(two_theta) >= N_BINS // 8
    assert outside.any() and not outside.all()
    assert not partial.amplitude[outside].any() and partial.amplitude[~outside].all()
    np.testing.assert_allclose(np.linalg.norm(partial.amplitude), 1.0, rtol=1e-6)


def test_amplitudes_match_the_structure_factors_of_nacl():
    structure = canonical_cell(nacl(), "primitive")
    r = read_reflections(xrd_vector(structure, b_factor=1.0), structure.lattice.matrix, k=128)
    f = np.abs(_structure_factors(structure, r.hkl.astype(float), r.g, 1.0))
    np.testing.assert_allclose(r.amplitude, f / np.linalg.norm(f), rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("make", [nacl, cscl], ids=["NaCl", "CsCl"])
def test_signed_synthesis_of_the_features_is_the_density(make):
    """Σ s_h |F_h| cos 2πh·x from the simulated pattern, known signs: map CC > 0.9 with the IAM density."""
    b_factor = 1.0
    structure = canonical_cell(make(), "primitive")
    vector = xrd_vector(structure, b_factor=b_factor)
    r = read_reflections(vector, structure.lattice.matrix, k=2000, d_min=0.5)
    n = r.n_reflections
    assert 500 < n < 2000
    hkl = r.hkl[:n].astype(float)
    f = _structure_factors(structure, hkl, r.g[:n], b_factor)
    assert np.abs(f.imag).max() < 1e-8 * np.abs(f).max()  # origin on an inversion centre
    signs = np.sign(f.real)
    grid = 24
    axis = np.arange(grid) / grid
    points = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    synthesis = np.cos(2 * np.pi * points @ hkl.T) @ (signs * r.amplitude[:n])
    rho = iam_density_grid(structure, grid, b_factor=b_factor)
    cc = _cc(synthesis, rho)
    assert cc > 0.9
    # the same synthesis with the amplitudes given to the wrong reflections is far worse
    shuffled = np.random.default_rng(0).permutation(r.amplitude[:n])
    assert _cc(np.cos(2 * np.pi * points @ hkl.T) @ (signs * shuffled), rho) < cc - 0.25


def test_another_pattern_gives_other_features():
    own = canonical_cell(nacl(), "primitive")
    other = canonical_cell(cscl(), "primitive")
    lattice = own.lattice.matrix
    mine = read_reflections(xrd_vector(own), lattice, k=64)
    swapped = read_reflections(xrd_vector(other), lattice, k=64)
    np.testing.assert_array_equal(mine.hkl, swapped.hkl)  # the cell fixes the reflections
    assert _cc(mine.amplitude, swapped.amplitude) < 0.5


def test_batch_arrays_and_spec():
    s1, s2 = canonical_cell(nacl(), "primitive"), canonical_cell(cscl(), "primitive")
    vectors = np.stack([xrd_vector(s1), xrd_vector(s2)]).astype(np.float16)
    lattices = np.stack([s1.lattice.matrix, s2.lattice.matrix])
    hkl, amp = reflection_arrays(vectors, lattices, k=32)
    assert hkl.shape == (2, 32, 3) and hkl.dtype == np.int16
    assert amp.shape == (2, 32) and amp.dtype == np.float32
    np.testing.assert_allclose(amp[1], read_reflections(vectors[1], lattices[1], k=32).amplitude)
    assert CellInputSpec().arrays(vectors, lattices) == {}
    lat_only = CellInputSpec(lattice=True).arrays(vectors, lattices)
    assert set(lat_only) == {"lattice"} and lat_only["lattice"].dtype == np.float32
    full = CellInputSpec(lattice=True, n_reflections=32).arrays(vectors, lattices)
    np.testing.assert_array_equal(full["hkl"], hkl)
    np.testing.assert_array_equal(full["amplitude"], amp)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vector": np.ones(10)}, "1024 bins"),
        ({"vector": -np.ones(N_BINS)}, "non-negative"),
        ({"lattice": np.zeros((3, 3))}, "non-singular"),
        ({"k": 0}, "positive integer"),
        ({"d_min": -1.0}, "d_min"),
        ({"covered": np.ones(5, dtype=bool)}, "covered"),
    ],
)
def test_bad_inputs_are_named(kwargs, match):
    args = {"vector": np.ones(N_BINS), "lattice": np.eye(3) * 4.0, **kwargs}
    vector, lattice = args.pop("vector"), args.pop("lattice")
    with pytest.raises(ValueError, match=match):
        read_reflections(vector, lattice, **args)

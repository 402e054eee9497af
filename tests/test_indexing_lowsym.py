"""Low-symmetry indexing: zones (Ito's method), batch metric fit, metric symmetry, and full
searches that recover orthorhombic, monoclinic and triclinic cells in seconds."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing import index_pattern, peaks_from_pattern, same_lattice
from pymatgen_crystalnet.indexing.dichotomy import DichotomySearch, SearchDomain
from pymatgen_crystalnet.indexing.forms import FORMS, centring_allows, feature_table, reciprocal_metric
from pymatgen_crystalnet.indexing.metric_fit import fit_metrics
from pymatgen_crystalnet.indexing.metric_symmetry import higher_symmetry_settings
from pymatgen_crystalnet.indexing.refine import q_to_tt, tt_to_q
from pymatgen_crystalnet.indexing.windows import hit_mask, popcount
from pymatgen_crystalnet.indexing.zone_search import reduce_metrics
from pymatgen_crystalnet.indexing.zones import find_zones, reduce_zones, superzones


def _sticks(structure: Structure, n: int = 25) -> np.ndarray:
    pattern = XRDCalculator("CuKa").get_pattern(structure, two_theta_range=(5, 140))
    return peaks_from_pattern(pattern, "CuKa", max_lines=n).two_theta


def _noisy(tt: np.ndarray, seed: int, zero: float = 0.03, sigma: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(tt + rng.normal(0.0, sigma, tt.size) + zero)


def test_hit_mask_and_popcount() -> None:
    lo, hi = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5])
    bits = hit_mask(np.array([1.2, 1.6, 1.4, 0.0]), np.array([1.3, 1.9, 3.1, 0.5]), lo, hi)
    assert bits.tolist() == [0b001, 0, 0b111, 0]
    assert popcount(bits).tolist() == [1, 0, 3, 0]


def test_gauss_reduction_of_zones() -> None:
    # basis (u, v) = (1, 0), (3, 1) of the square net: reduced is (1, 1, 0)
    q1, q2, phi = reduce_zones(np.array([1.0]), np.array([10.0]), np.array([3.0]))
    assert (q1[0], q2[0], phi[0]) == pytest.approx((1.0, 1.0, 0.0))
    a, b, f, parent = superzones(np.array([4.0]), np.array([9.0]), np.array([1.0]))
    assert parent.tolist() == [0] * 5
    assert (a[1], b[1], f[1]) == pytest.approx((1.0, 9.0, 0.5))  # u/2


def test_zones_of_an_orthorhombic_lattice_are_found() -> None:
    # lines of a primitive orthorhombic cell; its (hk0) net must rank among the zones
    a_, b_, c_ = 4.1, 5.3, 7.7
    g = reciprocal_metric("orthorhombic", np.array([1 / a_**2, 1 / b_**2, 1 / c_**2]))
    hkl = np.array([[h, k, l] for h in range(3) for k in range(4) for l in range(5) if h or k or l])  # noqa: E741
    q = np.unique(np.round(np.einsum("ij,jk,ik->i", hkl, g, hkl), 8))[:20]
    zones = find_zones(q, np.full(q.size, 2e-5), max_zones=40)
    target = (1 / a_**2, 1 / b_**2)
    near = (np.abs(zones.q1 - min(target)) < 1e-4) & (np.abs(zones.q2 - max(target)) < 1e-4)
    assert np.any(near & (zones.phi < 1e-4))


def test_reduce_metrics_keeps_the_lattice() -> None:
    g = reciprocal_metric("monoclinic", np.array([0.03, 0.02, 0.05, 0.01]))
    t = np.array([[1, 2, 0], [0, 1, 0], [1, 3, 1]], dtype=float)  # unimodular
    skew = t @ g @ t.T
    red = reduce_metrics(skew[None])[0]
    assert np.linalg.det(red) == pytest.approx(np.linalg.det(g), rel=1e-9)
    assert np.sort(np.diag(red)) == pytest.approx(np.sort(np.diag(reduce_metrics(g[None])[0])), rel=1e-9)


def test_fit_metrics_recovers_metric_and_zero() -> None:
    lam = 1.54056
    g = reciprocal_metric("triclinic", np.array([0.040, 0.030, 0.020, 0.004, -0.006, 0.003]))
    hkl = np.array([[h, k, l] for h in range(-3, 4) for k in range(-3, 4) for l in range(-3, 4)])  # noqa: E741
    first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    q = np.unique(np.round(np.einsum("ij,jk,ik->i", hkl[first > 0], g, hkl[first > 0]), 9))[:20]
    tt = q_to_tt(q, lam) + 0.03
    start = g * (1 + np.array([[0.002, 0.001, 0.0], [0.001, -0.001, 0.0], [0.0, 0.0, 0.001]]))
    fit = fit_metrics(start[None], tt, lam, np.full(tt.size, 0.04), 0.06)
    assert fit.valid[0] and fit.n_indexed[0] == 20
    assert fit.zero[0] == pytest.approx(0.03, abs=2e-3)
    assert fit.gstar[0] == pytest.approx(g, rel=2e-3, abs=2e-6)


def test_metric_symmetry_promotes_a_nearly_monoclinic_cell() -> None:
    cell = Lattice.from_parameters(6.81, 10.00, 10.30, 77.75, 90.08, 90.11)
    found = {s: (p, c) for s, p, c in higher_symmetry_settings(cell)}
    assert "monoclinic" in found
    assert "orthorhombic" not in found
    assert FORMS["monoclinic"].valid(found["monoclinic"][0])
    assert found["monoclinic"][1] == "P"
    # the primitive cell of a C-centred monoclinic lattice comes back C-centred, b unique
    conv = Lattice.monoclinic(13.18, 5.85, 7.63, 116.6)
    prim = Lattice(np.array([[0.5, 0.5, 0], [-0.5, 0.5, 0], [0, 0, 1]]) @ conv.matrix)
    (system, p0, centring), *_ = higher_symmetry_settings(prim)
    assert (system, centring) == ("monoclinic", "C")
    assert np.linalg.det(reciprocal_metric("monoclinic", p0)) == pytest.approx(1 / conv.volume**2, rel=1e-6)


def test_centring_conditions_from_features() -> None:
    feats = feature_table(FORMS["orthorhombic"], 2, 2, 2)
    h, k, l = (np.sqrt(feats[:, i]).astype(int) for i in range(3))  # noqa: E741
    assert np.array_equal(centring_allows("orthorhombic", feats, "I"), (h + k + l) % 2 == 0)
    assert np.array_equal(centring_allows("orthorhombic", feats, "C"), (h + k) % 2 == 0)
    cubic = feature_table(FORMS["cubic"], 2, 2, 2)[:, 0]
    assert cubic[centring_allows("cubic", cubic[:, None], "F")].tolist()[:3] == [3, 4, 8]


def test_resumed_dichotomy_finds_what_a_direct_search_finds() -> None:
    lam = 1.54056
    form = FORMS["tetragonal"]
    g = reciprocal_metric("tetragonal", np.array([1 / 4.6**2, 1 / 2.96**2]))
    hkl = np.array([[h, k, l] for h in range(4) for k in range(h + 1) for l in range(4) if h or k or l])  # noqa: E741
    q = np.sort(np.unique(np.round(np.einsum("ij,jk,ik->i", hkl, g, hkl), 8)))[:12]
    q = np.sort(np.append(q[:-1], 0.5 * (q[3] + q[4])))  # one impurity line
    tt = q_to_tt(q, lam)
    win_lo, win_hi = tt_to_q(tt - 0.05, lam), tt_to_q(tt + 0.05, lam)
    top = np.array([win_hi[-1]] * 2)
    domain = SearchDomain(np.array([1 / 900, 1 / 900]), top, 1 / 400.0**2, np.inf, win_hi[0])
    resumed = DichotomySearch(form, domain, win_lo, win_hi, max_unindexed_total=1)
    lo0, hi0, _ = resumed.run(0)
    lo1, hi1, _ = resumed.run(1)
    direct_lo, _, _ = DichotomySearch(form, domain, win_lo, win_hi, max_unindexed_total=1).run(1)
    lo = np.concatenate([lo0, lo1])
    assert lo.shape[0] == direct_lo.shape[0]
    assert np.array_equal(np.unique(lo, axis=0), np.unique(direct_lo, axis=0))
    true = np.array([1 / 4.6**2, 1 / 2.96**2])
    # with the impurity the true cell needs the allowance of one unexplained line
    assert not np.any(np.all((lo0 <= true) & (hi0 >= true), axis=1))
    assert np.any(np.all((lo1 <= true) & (hi1 >= true), axis=1))


ORTHO = Structure.from_spacegroup(
    "Pnma",
    Lattice.orthorhombic(5.74, 4.96, 7.97),
    ["Ca", "C", "O", "O"],
    [[0.76, 0.25, 0.415], [-0.09, 0.25, 0.76], [-0.095, 0.25, 0.92], [-0.087, 0.473, 0.681]],
)
MONO_P = Structure.from_spacegroup(
    "P2_1/c",
    Lattice.monoclinic(7.12, 5.31, 9.24, 106.3),
    ["Zn", "O", "S"],
    [[0.13, 0.27, 0.08], [0.31, 0.62, 0.21], [0.42, 0.11, 0.37]],
)
MONO_C = Structure.from_spacegroup(
    "C2/c",
    Lattice.monoclinic(9.83, 8.91, 5.27, 105.7),
    ["Mg", "Si", "O"],
    [[0, 0.9, 0.25], [0.29, 0.09, 0.23], [0.12, 0.08, 0.14]],
)
TRICLINIC = Structure(
    Lattice.from_parameters(5.12, 6.34, 7.41, 97.3, 104.2, 88.6),
    ["Ca", "O", "O", "Si"],
    [[0.1, 0.2, 0.3], [0.4, 0.15, 0.7], [0.75, 0.6, 0.1], [0.3, 0.8, 0.55]],
)


LOW_CASES = [
    ("aragonite", ORTHO, "oP", ("orthorhombic",)),
    ("P2_1/c", MONO_P, "mP", ("monoclinic",)),
    ("C2/c", MONO_C, "mC", ("monoclinic",)),
    ("P1", TRICLINIC, "aP", ("monoclinic", "triclinic")),
]


def _check_recovered(best, structure: Structure, bravais: str) -> None:
    assert best.bravais == bravais
    assert same_lattice(best.lattice, structure.lattice, ltol=2e-3, atol=0.2)
    assert best.n_unindexed == 0
    assert best.m20 > 20
    assert abs(best.zero_shift - 0.03) < 0.02


@pytest.mark.parametrize(("name", "structure", "bravais", "systems"), LOW_CASES)
def test_low_symmetry_cells_are_recovered(name: str, structure: Structure, bravais: str, systems) -> None:
    """The orthorhombic dichotomy and the zone search, each on its own (seconds)."""
    tt = _noisy(_sticks(structure), seed=len(name))
    _check_recovered(index_pattern(tt, "CuKa", systems=systems)[0], structure, bravais)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "structure", "bravais", "systems"), LOW_CASES)
def test_default_search_recovers_low_symmetry_cells(
    name: str, structure: Structure, bravais: str, systems
) -> None:
    """All systems searched in the default order (the higher ones first): tens of seconds."""
    tt = _noisy(_sticks(structure), seed=len(name))
    _check_recovered(index_pattern(tt, "CuKa")[0], structure, bravais)


def test_triclinic_is_reported_only_when_asked_for() -> None:
    tt = _noisy(_sticks(TRICLINIC), seed=1)
    sols = index_pattern(tt, "CuKa", systems=("monoclinic",))
    assert all(s.crystal_system == "monoclinic" for s in sols)
    assert not any(same_lattice(s.lattice, TRICLINIC.lattice, ltol=2e-3, atol=0.2) for s in sols)

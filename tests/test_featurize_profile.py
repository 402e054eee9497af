"""Measured/simulated profile → the 1024-bin Mo Kα vector (featurize/profile.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.featurize.profile import (
    estimate_noise,
    lorentz_polarisation,
    profile_to_sticks,
    profile_to_vector,
    simulate_profile,
    snip_background,
)
from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_index, pattern_to_vector
from pymatgen_crystalnet.io.patterns import PowderProfile, read_profile
from pymatgen_crystalnet.physics.agreement import cosine_similarity
from pymatgen_crystalnet.physics.units import MO_KA, WAVELENGTHS, convert_two_theta

RIETVELD = Path(__file__).parents[2] / "shared" / "data" / "experimental" / "iucr_rietveld"
needs_rietveld = pytest.mark.skipif(
    not RIETVELD.is_dir(),
    reason=f"real IUCr Rietveld CIFs not found at {RIETVELD} (shared/ beside the repo)",
)
CU = WAVELENGTHS["CuKa"]
SYNCHROTRON = 0.49935


@pytest.fixture(scope="module")
def nacl():
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture(scope="module")
def nacl_mo_vector(nacl):
    return pattern_to_vector(XRDCalculator("MoKa").get_pattern(nacl, two_theta_range=(0, 180)))


def _noisy_profile(x, y, wavelength, grid, seed=0, fwhm=0.1):
    """Sticks → pseudo-Voigt profile, 20 000 counts at the top, smooth background, Poisson."""
    peaks = simulate_profile(x, y, grid, fwhm=fwhm, eta=0.5)
    background = 300 * np.exp(-grid / 30) + 50 + 0.2 * grid
    counts = np.random.default_rng(seed).poisson(peaks / peaks.max() * 20000 + background)
    return PowderProfile(grid, counts.astype(float), wavelength, None, "simulated"), background


def _covered(vec, profile, wavelength):
    """Copy of ``vec`` with the bins outside the profile's mapped range set to zero."""
    lo, hi = convert_two_theta([profile.two_theta[0], profile.two_theta[-1]], wavelength, MO_KA)
    out = vec.copy()
    out[: bin_index(lo)] = 0
    if np.isfinite(hi):
        out[bin_index(hi) + 1 :] = 0
    return out


# ----------------------------------------------------------------------------- LP, SNIP


def test_lorentz_polarisation_values():
    assert lorentz_polarisation(90.0) == pytest.approx(1 / (0.5 * np.sqrt(0.5)))
    assert lorentz_polarisation(60.0) == pytest.approx(1.25 / (0.25 * np.cos(np.radians(30))))


def test_lp_reweighting_turns_cu_sticks_into_mo_sticks(nacl):
    """pymatgen's Cu and Mo intensities of a reflection differ by LP only."""
    cu = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(0, 180))
    mo = XRDCalculator("MoKa").get_pattern(nacl, two_theta_range=(0, 180))
    d_mo = np.round(np.asarray(mo.d_hkls), 6)
    idx = [int(np.argmin(np.abs(d_mo - d))) for d in cu.d_hkls]
    mo_tt = convert_two_theta(cu.x, CU, MO_KA)
    assert np.allclose(mo_tt, mo.x[idx], atol=1e-6)
    scaled = cu.y * lorentz_polarisation(mo_tt) / lorentz_polarisation(cu.x)
    assert np.allclose(scaled / scaled.max(), mo.y[idx] / mo.y[idx].max(), rtol=1e-6)


def test_snip_recovers_background(nacl):
    cu = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(5, 150))
    grid = np.arange(5, 150, 0.02)
    background = 300 * np.exp(-grid / 30) + 50 + 0.2 * grid
    # Noiseless, Gaussian peaks: the background comes back to 0.1 %.
    clean = simulate_profile(cu.x, cu.y, grid, fwhm=0.1, eta=0.0)
    clean = clean / clean.max() * 20000 + background
    rel = np.abs(snip_background(grid, clean) - background) / background
    assert rel.max() < 1e-3
    # Poisson noise (σ ≈ 10.6 counts on the background): bias and rms below one σ.
    prof, background = _noisy_profile(cu.x, cu.y, CU, grid)
    est = snip_background(prof.two_theta, prof.intensity)
    sigma = np.sqrt(background).mean()
    assert abs(np.mean(est - background)) < 0.8 * sigma
    assert np.sqrt(np.mean((est - background) ** 2)) < sigma
    # Without the pre-smoothing SNIP follows the lower envelope of the noise (≈ −2σ).
    raw = snip_background(prof.two_theta, prof.intensity, smooth_deg=0)
    assert np.mean(raw - background) < -1.5 * sigma
    assert np.all(est <= prof.intensity)


def test_snip_and_noise_errors():
    with pytest.raises(ValueError, match="differ in length"):
        snip_background([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        snip_background([1, 2, 3], [1, -2, 1])
    with pytest.raises(ValueError, match="window_deg"):
        snip_background([1, 2, 3], [1, 2, 1], window_deg=0)
    rng = np.random.default_rng(1)
    assert estimate_noise(rng.normal(100, 3.0, 20000)) == pytest.approx(3.0, rel=0.05)


# ----------------------------------------------------------------------------- NaCl, Cu Kα


def test_nacl_cu_profile_matches_mo_sticks(nacl, nacl_mo_vector):
    cu = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(5, 150))
    grid = np.arange(5, 150, 0.02)
    prof, _ = _noisy_profile(cu.x, cu.y, CU, grid)
    vec = profile_to_vector(prof)
    assert vec.shape == (N_BINS,) and vec.dtype == np.float32 and vec.max() == 1.0
    covered = _covered(nacl_mo_vector, prof, CU)
    # The 6 strongest reference peaks come out in the same bins (±1) in the same order; the
    # 10 strongest are all among the 12 strongest found; heights agree to 0.05.
    assert np.all(np.abs(np.argsort(covered)[::-1][:6] - np.argsort(vec)[::-1][:6]) <= 1)
    top_ref = np.argsort(covered)[::-1][:10]
    top_vec = np.argsort(vec)[::-1][:12]
    assert all(np.min(np.abs(top_vec - b)) <= 1 for b in top_ref)
    assert np.abs(vec[top_ref] - covered[top_ref]).max() < 0.05
    # Measured: 0.9996 on the covered range, 0.9936 on the whole axis.
    assert cosine_similarity(vec, covered) > 0.998
    assert cosine_similarity(vec, nacl_mo_vector) > 0.99
    # Cu Kα up to 150° reaches only 2θ_Mo = 52.9°: everything above stays empty.
    hi = convert_two_theta(150.0, CU, MO_KA)
    assert hi == pytest.approx(52.879, abs=1e-3)
    assert not np.any(vec[bin_index(hi) + 1 :])
    # No noise peak: every found peak is a reference bin; of the 17 reference bins only the
    # weakest (1.1 % of the strongest, at the 1 % prominence threshold) may be missed.
    assert np.count_nonzero(covered) == 17
    assert not np.any((vec > 0) & (covered == 0))
    assert np.count_nonzero(vec) >= 16


def test_bin_max_method_and_no_lp(nacl, nacl_mo_vector):
    cu = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(5, 150))
    prof, _ = _noisy_profile(cu.x, cu.y, CU, np.arange(5, 150, 0.02), seed=3)
    covered = _covered(nacl_mo_vector, prof, CU)
    vec = profile_to_vector(prof, method="bin_max")
    assert np.argmax(vec) == np.argmax(covered)
    assert cosine_similarity(vec, covered) > 0.98  # measured 0.993
    # Without LP re-weighting the low-angle peaks are too weak relative to Mo sticks.
    no_lp = profile_to_vector(prof, lp_correction=False)
    assert cosine_similarity(no_lp, covered) < cosine_similarity(profile_to_vector(prof), covered)


def test_synchrotron_profile_beyond_180_is_dropped(nacl, caplog):
    """At 0.49935 Å, 2θ above 89.27° has no Mo Kα counterpart (d < λ_Mo / 2)."""
    calc = XRDCalculator(wavelength=SYNCHROTRON)
    pat = calc.get_pattern(nacl, two_theta_range=(5, 130))
    limit = 2 * np.degrees(np.arcsin(SYNCHROTRON / MO_KA))
    assert limit == pytest.approx(89.27, abs=0.01)
    grid = np.arange(5, 130, 0.01)
    prof = PowderProfile(grid, simulate_profile(pat.x, pat.y, grid, fwhm=0.03), SYNCHROTRON)
    with caplog.at_level("INFO"):
        mo_tt, _ = profile_to_sticks(prof, background="none", prominence=0.001)
    assert "beyond 180°" in caplog.text
    assert np.count_nonzero(pat.x > limit) > 10  # reflections that must disappear
    assert np.all(mo_tt <= 180) and mo_tt.max() > 170
    # Every stick is one of the reflections below the limit (back on the source axis) ...
    src = convert_two_theta(mo_tt, MO_KA, SYNCHROTRON)
    assert np.all(src < limit)
    assert np.all(np.min(np.abs(src[:, None] - pat.x[None, :]), axis=1) < 0.005)
    # ... and every isolated reflection below the limit, above 0.2 % of the strongest, is found.
    below = pat.x < limit
    gaps = np.diff(pat.x[below])
    isolated = np.r_[True, gaps > 0.1] & np.r_[gaps > 0.1, True] & (pat.y[below] > 0.2)
    isolated = pat.x[below][isolated]
    assert isolated.size > 40
    assert np.all(np.min(np.abs(isolated[:, None] - src[None, :]), axis=1) < 0.005)
    vec = profile_to_vector(prof, background="none", prominence=0.001)
    assert np.all(np.isfinite(vec)) and vec.max() == 1.0
    assert bin_index(convert_two_theta(5.0, SYNCHROTRON, MO_KA)) > 0
    assert not np.any(vec[: bin_index(convert_two_theta(5.0, SYNCHROTRON, MO_KA))])


def test_profile_errors(nacl):
    grid = np.arange(10, 60, 0.05)
    pat = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(10, 60))
    prof = PowderProfile(grid, simulate_profile(pat.x, pat.y, grid) + 1.0)
    with pytest.raises(ValueError, match="wavelength is unknown"):
        profile_to_vector(prof)
    assert profile_to_vector(prof, wavelength="CuKa").max() == 1.0
    with pytest.raises(ValueError, match="Unknown method"):
        profile_to_vector(prof, wavelength=CU, method="area")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unknown background"):
        profile_to_vector(prof, wavelength=CU, background="poly")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="background array"):
        profile_to_vector(prof, wavelength=CU, background=np.zeros(3))
    flat = PowderProfile(grid, np.full(grid.size, 100.0), CU)
    with pytest.raises(ValueError, match="Nothing is left"):
        profile_to_vector(flat)
    # An explicit background array is subtracted as given.
    vec = profile_to_vector(prof, wavelength=CU, background=np.ones(grid.size))
    assert np.allclose(vec, profile_to_vector(prof, wavelength=CU, background="snip"), atol=0.02)


def test_simulate_profile_shape():
    grid = np.linspace(10, 30, 2001)
    for eta in (0.0, 0.5, 1.0):
        y = simulate_profile([20.0], [7.0], grid, fwhm=0.4, eta=eta)
        assert y.max() == pytest.approx(7.0)
        assert np.interp(20.2, grid, y) == pytest.approx(3.5, rel=1e-6)
        assert np.interp(19.8, grid, y) == pytest.approx(3.5, rel=1e-6)


# ----------------------------------------------------------------------------- real Mg2Si/Mg2Sn


@needs_rietveld
@pytest.mark.parametrize(
    ("stem", "min_cos", "n_top"),
    [("gw5052Mg2Si_100K_LTsup2", 0.96, 10), ("gw5052Mg2Sn_100K_LTsup23", 0.96, 8)],
)
def test_real_mg2x_against_refined_structure(stem, min_cos, n_top):
    """Peaks of the measured synchrotron profile fall in the bins of the Mo Kα sticks of the
    structure refined from it (measured: cosine 0.972 for Mg2Si, 0.973 for Mg2Sn on the
    covered range)."""
    from pymatgen.io.cif import CifParser

    path = RIETVELD / f"{stem}.rtv.combined.cif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = CifParser(path).parse_structures(primitive=False)[0]
    ref = pattern_to_vector(XRDCalculator("MoKa").get_pattern(structure, two_theta_range=(0, 180)))
    prof = read_profile(path)
    vec = profile_to_vector(prof)
    covered = _covered(ref, prof, prof.wavelength)
    assert cosine_similarity(vec, covered) > min_cos
    top_ref = np.argsort(covered)[::-1][:n_top]
    top_vec = np.argsort(vec)[::-1][: n_top + 2]
    assert all(np.min(np.abs(top_vec - b)) <= 1 for b in top_ref)
    assert np.argmax(vec) == np.argmax(covered)
    # The synchrotron range 7–75° (Mg2Si) maps onto 10–120° at Mo Kα; nothing above.
    hi = convert_two_theta(prof.two_theta[-1], prof.wavelength, MO_KA)
    assert 119 < hi < 124
    assert not np.any(vec[bin_index(hi) + 1 :])

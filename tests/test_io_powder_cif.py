"""Reading IUCr powder CIFs (io/powder_cif.py): real Rietveld files, the excerpt fixture, variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pymatgen_crystalnet.io.patterns import read_profile
from pymatgen_crystalnet.io.powder_cif import read_cif_profile

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "mg2si_profile_excerpt.cif"
RIETVELD = Path(__file__).parents[2] / "shared" / "data" / "experimental" / "iucr_rietveld"
needs_rietveld = pytest.mark.skipif(
    not RIETVELD.is_dir(),
    reason=f"real IUCr Rietveld CIFs not found at {RIETVELD} (shared/ beside the repo)",
)

# file stem -> (points, first 2θ, last 2θ, wavelength Å, max intensity), read by hand from
# the files' loops and wavelength items.
REAL_FILES = {
    "av5088sup4": (7665, 4.05, 80.69, 1.54056, 23175.0),
    "br1322Isup2": (9652, 15.016, 89.975, 1.54056, 239000.0),
    "br1340Isup2": (4001, 10.0, 90.0, 1.5418, 5155.0),
    "ck5030Vsup6": (7270, 8.5189, 129.9931, 1.54178, 222732.0),
    "gw5052Mg2Si_100K_LTsup2": (6801, 7.0, 75.0, 0.49935, 73582.0),
    "gw5052Mg2Sn_100K_LTsup23": (7081, 5.5, 76.3, 0.49935, 173214.0),
    "iz1026Isup2": (5151, 15.0, 118.0, 1.5418, 7913.0),
    "ks5409BTsup2": (5245, 15.0632, 119.9432, 1.54056, 12767.0),
    "sh0123Xraysup5": (2001, 10.0, 110.0, 1.540562, 192173.0),
    "sq1033Isup2": (6501, 10.0, 140.0, 1.5418, 6221.0),
    "sq3214Isup2": (5200, 5.0332, 109.0132, 1.54059, 22314.0),
    "wh5012phaseIIIsup3": (553, 5.00418, 18.21831, 0.71073, 2049.9),
    "wh5012phaseIIsup2": (586, 5.00418, 19.00829, 0.71073, 1506.74),
    "wm2446Isup2": (5880, 9.87202, 109.81502, 1.54178, 14494.0),
    "wn6225Isup2": (6251, 10.0, 135.0, 1.54056, 20247.0),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path



# ----------------------------------------------------------------------------- real files


@needs_rietveld
def test_all_real_files_are_present():
    assert sorted(p.name.split(".")[0] for p in RIETVELD.glob("*.cif")) == sorted(REAL_FILES)


@needs_rietveld
@pytest.mark.parametrize("stem", sorted(REAL_FILES))
def test_real_rietveld_cif(stem):
    n, first, last, wavelength, top = REAL_FILES[stem]
    prof = read_profile(RIETVELD / f"{stem}.rtv.combined.cif")
    assert len(prof) == n
    assert prof.two_theta[0] == pytest.approx(first, abs=1e-6)
    assert prof.two_theta[-1] == pytest.approx(last, abs=1e-4)
    assert prof.wavelength == pytest.approx(wavelength)
    assert prof.intensity.max() == pytest.approx(top)
    assert prof.intensity.min() >= 0
    assert np.all(np.diff(prof.two_theta) > 0)


@needs_rietveld
def test_real_cif_details():
    # Wavelength from a linked block (Mg2Si: profile block 'profile1' has none).
    mg = read_profile(RIETVELD / "gw5052Mg2Si_100K_LTsup2.rtv.combined.cif")
    assert "block profile1" in mg.source and "_pd_proc_intensity_net" in mg.source
    assert mg.intensity[:3].tolist() == [1710.0, 1724.0, 1724.0]
    # esds in parentheses become sigma: '327(18)', '8643(93)'.
    ks = read_profile(RIETVELD / "ks5409BTsup2.rtv.combined.cif")
    assert ks.sigma is not None and ks.sigma[:3].tolist() == [18.0, 18.0, 18.0]
    assert ks.intensity[:3].tolist() == [327.0, 336.0, 352.0]
    sq = read_profile(RIETVELD / "sq3214Isup2.rtv.combined.cif")
    assert sq.sigma[:3].tolist() == [93.0, 94.0, 95.0]
    # 2θ from _pd_proc_2theta_range_* (zero-corrected), counts only.
    wm = read_profile(RIETVELD / "wm2446Isup2.rtv.combined.cif")
    assert "_pd_proc_2theta_range_*" in wm.source
    assert np.allclose(np.diff(wm.two_theta), 0.017)
    # Counts in a block that is not the first; simulated blocks at 0.71073 Å are ignored.
    av = read_profile(RIETVELD / "av5088sup4.rtv.combined.cif")
    assert "C4Br4S2G_p_01" in av.source and av.wavelength == pytest.approx(1.54056)
    # Kα1/Kα2 list: the first (Kα1) is used.
    wn = read_profile(RIETVELD / "wn6225Isup2.rtv.combined.cif")
    assert wn.wavelength == pytest.approx(1.54056)
    # Background-subtracted data with small negatives (min −340 of 239000): clipped to 0.
    br = read_profile(RIETVELD / "br1322Isup2.rtv.combined.cif")
    assert br.intensity.min() == 0.0
    assert np.count_nonzero(br.intensity == 0) >= 338


# ----------------------------------------------------------------------------- fixture


def test_fixture_excerpt():
    before = sorted(p.name for p in DATA.iterdir())
    prof = read_profile(FIXTURE)
    assert sorted(p.name for p in DATA.iterdir()) == before  # readers write nothing
    assert len(prof) == 126
    assert prof.two_theta[0] == 7.0 and prof.two_theta[-1] == 9.5
    assert prof.wavelength == 0.49935  # from the linked block data_Mg2Si_100K_LT
    assert prof.sigma is None
    assert prof.two_theta[np.argmax(prof.intensity)] == pytest.approx(7.82)
    assert prof.intensity.max() == 31266.0
    assert prof.step == pytest.approx(0.02)
    assert read_profile(FIXTURE, wavelength="MoKa").wavelength == 0.71073
    assert read_profile(FIXTURE, wavelength=1.5406).wavelength == 1.5406


def test_read_cif_profile_directly_matches_dispatch():
    direct = read_cif_profile(FIXTURE)
    via = read_profile(FIXTURE)
    assert np.array_equal(direct.two_theta, via.two_theta)
    assert np.array_equal(direct.intensity, via.intensity)
    assert direct.wavelength == via.wavelength == 0.49935
    assert read_cif_profile(FIXTURE, "CuKa1").wavelength == 1.54056


# ----------------------------------------------------------------------------- CIF variants

_LOOP = "loop_\n _pd_meas_2theta_scan\n _pd_meas_counts_total\n"


def test_cif_range_grid_and_radiation_type(tmp_path):
    text = (
        "data_scan\n_diffrn_radiation_type 'Cu K\\a~1~'\n"
        "_pd_meas_2theta_range_min 10.0\n_pd_meas_2theta_range_max 10.4\n"
        "_pd_meas_2theta_range_inc 0.1\n"
        "loop_\n _pd_meas_counts_total\n 5 6 7 8 9\n"
    )
    prof = read_profile(_write(tmp_path, "r.cif", text))
    assert np.allclose(prof.two_theta, [10.0, 10.1, 10.2, 10.3, 10.4])
    assert prof.intensity.tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert prof.wavelength == 1.54056


def test_cif_wavelength_rules(tmp_path):
    # Unlinked other block holds the wavelength; a calc-only block at another one is ignored.
    text = (
        "data_prof\n" + _LOOP + " 10 1\n 11 4(2)\n 12 2(1)\n 13 9\n\n"
        "data_sim\n_diffrn_radiation_wavelength 0.71073\n"
        "loop_\n _pd_calc_intensity_total\n 1 2 3\n\n"
        "data_phase\n_diffrn_radiation_wavelength 1.5406\n"
    )
    prof = read_profile(_write(tmp_path, "w.cif", text))
    assert prof.wavelength == 1.5406
    assert prof.sigma is None  # not every value has an esd
    # Weighted list: the heaviest line.
    text2 = (
        "data_p\n" + _LOOP + " 10 1\n 11 4\n 12 2\n"
        "loop_\n _diffrn_radiation_wavelength\n _diffrn_radiation_wavelength_wt\n"
        " 1.5443 0.5\n 1.5406 1.0\n"
    )
    assert read_profile(_write(tmp_path, "w2.cif", text2)).wavelength == 1.5406


def test_cif_without_wavelength_gives_none(tmp_path, caplog):
    prof = read_profile(_write(tmp_path, "nw.cif", "data_p\n" + _LOOP + " 10 1\n 11 4\n 12 2\n"))
    assert prof.wavelength is None
    assert "no wavelength" in caplog.text


def test_cif_missing_values_dropped_and_esd(tmp_path):
    text = "data_p\n_pd_proc_wavelength 0.5\nloop_\n _pd_proc_2theta_corrected\n"
    text += " _pd_proc_intensity_total\n 10 1.5(2)\n 11 ?\n 12 20(3)\n 13 1.2e3(4)\n"
    prof = read_profile(_write(tmp_path, "m.cif", text))
    assert prof.two_theta.tolist() == [10.0, 12.0, 13.0]
    assert prof.intensity.tolist() == [1.5, 20.0, 1200.0]
    assert np.allclose(prof.sigma, [0.2, 3.0, 400.0])
    assert prof.wavelength == 0.5


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("data_p\n_cell_length_a 5\n", "no measured powder profile"),
        ("data_p\n" + _LOOP + " 10 1\n 11 x12\n 12 3\n", "non-numeric value 'x12'"),
        ("data_p\n" + _LOOP + " 10 1\n 11 -1\n 12 3\n", "Raw counts"),
        ("data_p\nloop_\n _pd_meas_counts_total\n 1 2 3\n", "no 2θ values"),
        ("data_p\n" + _LOOP + " 10 0\n 11 0\n 12 0\n", "zero"),
        ("data_p\n" + _LOOP + " 10 1\n 190 2\n 200 3\n", "strictly between"),
    ],
)
def test_cif_errors(tmp_path, body, match):
    with pytest.raises(ValueError, match=match):
        read_profile(_write(tmp_path, "bad.cif", body))


def test_cif_block_argument(tmp_path):
    text = "data_a\n" + _LOOP + " 10 1\n 11 4\n 12 2\n\ndata_b\n" + _LOOP + " 20 1\n 21 7\n 22 2\n"
    path = _write(tmp_path, "two.cif", text)
    assert read_profile(path).two_theta[0] == 10.0
    assert read_profile(path, block="b").two_theta[0] == 20.0
    with pytest.raises(ValueError, match="no data block 'c'"):
        read_profile(path, block="c")

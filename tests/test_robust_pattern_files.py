"""Malformed pattern files: one PatternFileError naming the file and the problem (issue 16)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pymatgen_crystalnet.io.patterns import PatternFileError, read_profile

_CIF = "data_p\n{extra}loop_\n _pd_meas_2theta_scan\n _pd_meas_counts_total\n{rows}"
_ROWS = " 10 1\n 11 5\n 12 3\n"


def _cif(tmp_path, rows=_ROWS, extra="_diffrn_radiation_wavelength 1.5406\n", name="p.cif"):
    path = tmp_path / name
    path.write_text(_CIF.format(extra=extra, rows=rows))
    return path


def _write(tmp_path, name, content):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        # the case: OverflowError before
        (" 10 1\n 11 1e400\n 12 3\n", r"'1e400' at point 2 of _pd_meas_counts_total overflows"),
        (" 10 1(2)\n 11 1e400(3)\n 12 3(1)\n", "overflows"),
        (" 10 1\n 11 1e" + "9" * 5000 + "\n 12 3\n", "overflows"),  # once int()'s digit limit
        (" 1e400 1\n 11 2\n 12 3\n", "_pd_meas_2theta_scan overflows"),
        (" 10 1\n 11 x12\n 12 3\n", "non-numeric value 'x12'"),
        (" 10 1\n 10 2\n 12 3\n", "appears twice"),
        (" 10 1\n 12 2\n 11 3\n", "goes back from 12° to 11°"),
        (" -1 1\n 11 2\n 12 3\n", "between 0° and 180°"),
        (" 10 1\n 11 -5\n 12 3\n", "cannot be negative"),
        ("", "cannot be parsed as CIF"),  # a loop without values
    ],
)
def test_cif_content_errors(tmp_path, rows, match):
    path = _cif(tmp_path, rows)
    with pytest.raises(PatternFileError, match=match) as info:
        read_profile(path)
    assert str(path) in str(info.value) and info.value.path == str(path)


@pytest.mark.parametrize("value", ["abc", "-1.54", "0", "1e400", "nan"])
def test_cif_wavelength_not_a_positive_number(tmp_path, value):
    path = _cif(tmp_path, extra=f"_diffrn_radiation_wavelength {value}\n")
    with pytest.raises(PatternFileError, match=r"_diffrn_radiation_wavelength is .* not a positive"):
        read_profile(path)
    assert read_profile(path, wavelength=1.54).wavelength == 1.54  # an explicit one wins
    assert read_profile(_cif(tmp_path, extra="_diffrn_radiation_wavelength ?\n")).wavelength is None


def test_decreasing_scan_is_reversed(tmp_path):
    prof = read_profile(_cif(tmp_path, " 12 1\n 11 5\n 10 3\n"))
    assert prof.two_theta.tolist() == [10, 11, 12] and prof.intensity.tolist() == [3, 5, 1]
    prof = read_profile(_write(tmp_path, "d.xye", "30 1 1\n20 2 1\n10 3 2\n"))
    assert prof.two_theta.tolist() == [10, 20, 30] and prof.sigma.tolist() == [2, 1, 1]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("ovf.xy", "10 1\n11 1e400\n12 3\n", r"line 2: NaN, infinite or overflowing number .*'1e400'"),
        ("nan.xy", "nan 1\n11 2\n12 3\n", "line 1: NaN"),
        ("empty.xy", "", "no numeric data"),
        ("empty.cif", "", "no CIF data blocks"),
        ("noloop.cif", "data_p\n_cell_length_a 5.0\n", "no measured powder profile"),
        ("calc.cif", "data_p\nloop_\n _pd_meas_2theta_scan\n _pd_calc_intensity_total\n 10 1\n 11 2\n 12 3\n",
         "no measured powder profile"),
        ("no2theta.cif", "data_p\nloop_\n _pd_meas_counts_total\n 1\n 2\n 3\n",
         "no 2θ values for the 3 points"),
        ("junk.xy", b"\x89PNG\r\n\x1a\n\x00\xff", "not a text file"),
        ("junk.cif", b"\x00\xff\xfe\x89PNG", "no CIF data blocks|cannot be parsed"),
        ("cols.xy", "10 1\n11 2 3\n12 3\n", "line 2: 3 columns where earlier rows have 2"),
        ("one.xy", "10\n11\n12\n", "one column only"),
        ("four.csv", "10,1,1,1\n", "4 columns"),
        ("neg.xy", "-1 1\n11 2\n12 3\n", "between 0° and 180°"),
        ("dup.xy", "10 1\n11 2\n11 3\n", "appears twice"),
        ("esd.xye", "10 1 1\n11 2 -1\n12 3 1\n", "line 2: negative esd"),
        ("x.raw", "10 1\n", "unsupported profile file type"),
    ],
)
def test_text_and_dispatch_errors(tmp_path, name, content, match):
    path = _write(tmp_path, name, content)
    with pytest.raises(PatternFileError, match=match) as info:
        read_profile(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(PatternFileError, match="no such file"):
        read_profile(tmp_path / "absent.cif")
    (tmp_path / "dir.xy").mkdir()
    with pytest.raises(PatternFileError, match="not a file"):
        read_profile(tmp_path / "dir.xy")


def test_error_is_a_value_error_and_pickles(tmp_path):
    err = PatternFileError(tmp_path / "a.xy", "broken.")
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.problem == "broken."


def test_bad_wavelength_argument_is_a_plain_value_error(tmp_path):
    path = _write(tmp_path, "ok.xy", "10 1\n11 2\n12 3\n")
    with pytest.raises(ValueError, match="Unknown wavelength") as info:
        read_profile(path, wavelength="XyKa")
    assert not isinstance(info.value, PatternFileError)
    assert np.allclose(read_profile(path, wavelength="CuKa1").wavelength, 1.54056, atol=1e-4)

"""Reading column text profiles (io/text_profile.py): layouts, negatives, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pymatgen_crystalnet.io.patterns import read_profile
from pymatgen_crystalnet.io.text_profile import TEXT_SUFFIXES, read_text_profile


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- text files


def test_xy_with_comments_and_header(tmp_path):
    path = _write(
        tmp_path,
        "a.xy",
        "# measured on a lab diffractometer\n! wavelength 1.5406\n2theta intensity\n"
        "10.0 5\n10.02\t7  # trailing comment\n\n10.04   9\n",
    )
    prof = read_profile(path)
    assert prof.two_theta.tolist() == [10.0, 10.02, 10.04]
    assert prof.intensity.tolist() == [5.0, 7.0, 9.0]
    assert prof.wavelength is None and prof.sigma is None
    assert read_profile(path, wavelength="CuKa1").wavelength == 1.54056


def test_xye_and_csv(tmp_path):
    xye = read_profile(_write(tmp_path, "b.xye", "20 100 10\n20.5 400 20\n21 25 5\n"))
    assert xye.sigma.tolist() == [10.0, 20.0, 5.0]
    csv = read_profile(_write(tmp_path, "c.csv", "two_theta,counts\n5,1\n6,2.5e1\n7,3\n"))
    assert csv.intensity.tolist() == [1.0, 25.0, 3.0]
    dat = read_profile(_write(tmp_path, "d.dat", "1.0, 2\n2.0; 3\n3.0 4\n"), wavelength=0.5)
    assert dat.wavelength == 0.5 and dat.two_theta.tolist() == [1.0, 2.0, 3.0]


def test_text_small_negatives_clipped(tmp_path):
    prof = read_profile(_write(tmp_path, "n.txt", "10 -2\n11 100\n12 -4.9\n13 3\n"))
    assert prof.intensity.tolist() == [0.0, 100.0, 0.0, 3.0]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("e1.xy", "10 1\n11 abc\n12 3\n", "non-numeric"),
        ("e2.xy", "10\n11\n12\n", "one column"),
        ("e3.xy", "10 1 2 3\n11 1 2 3\n12 1 2 3\n", "4 columns"),
        ("e4.xy", "10 1\n11 1 1\n12 1\n", "columns where earlier rows"),
        ("e5.xy", "head one\nhead two\n10 1\n11 2\n12 3\n", "more than one header"),
        ("e6.xy", "10 1\n11 nan\n12 3\n", "NaN"),
        ("e7.xy", "10 1\n11 -50\n12 100\n", "below"),
        ("e8.xy", "10 0\n11 0\n12 0\n", "zero"),
        ("e9.xy", "0 1\n11 2\n12 3\n", "strictly between 0° and 180°"),
        ("e10.xy", "170 1\n175 2\n180 3\n", "strictly between 0° and 180°"),
        ("e11.xy", "10 1\n11 2\n11 3\n", "appears twice"),
        ("e12.xy", "12 1\n11 2\n13 3\n", "goes back"),
        ("e13.xye", "10 1 1\n11 2 -1\n12 3 1\n", "negative esd"),
        ("e14.xy", "# nothing\n", "no numeric data"),
        ("e15.xy", "10 1\n11 2\n", "at least 3 points"),
    ],
)
def test_text_errors(tmp_path, name, text, match):
    with pytest.raises(ValueError, match=match):
        read_profile(_write(tmp_path, name, text))


def test_read_text_profile_ignores_suffix(tmp_path):
    # The text reader itself does not look at the suffix; the dispatch does.
    path = _write(tmp_path, "plain.raw", "10 1\n11 2\n12 3\n")
    prof = read_text_profile(path, wavelength="MoKa")
    assert prof.intensity.tolist() == [1.0, 2.0, 3.0] and prof.wavelength == 0.71073
    assert set(TEXT_SUFFIXES) == {".xy", ".xye", ".dat", ".txt", ".csv"}
    with pytest.raises(ValueError, match="cannot be read"):
        read_text_profile(tmp_path / "absent.xy")
    assert np.all(np.diff(prof.two_theta) > 0)

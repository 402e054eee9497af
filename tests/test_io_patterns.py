"""Format dispatch of io/patterns.py: suffixes, missing files, and the public names it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from pymatgen_crystalnet.io import negative_intensities, patterns, powder_cif, text_profile
from pymatgen_crystalnet.io.patterns import read_profile
from pymatgen_crystalnet.physics import powder_profile

FIXTURE = Path(__file__).parent / "data" / "mg2si_profile_excerpt.cif"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unsupported_and_missing(tmp_path):
    with pytest.raises(ValueError, match=r"unsupported profile file type '\.raw'"):
        read_profile(_write(tmp_path, "x.raw", "10 1\n"))
    with pytest.raises(ValueError, match="no such file"):
        read_profile(tmp_path / "absent.xy")
    with pytest.raises(ValueError, match="Unknown wavelength"):
        read_profile(FIXTURE, wavelength="XyKa")


def test_dispatch_by_suffix(tmp_path):
    upper = read_profile(_write(tmp_path, "UP.XY", "10 1\n11 2\n12 3\n"))
    assert upper.intensity.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="block= applies to CIF files only"):
        read_profile(_write(tmp_path, "a.xy", "10 1\n11 2\n12 3\n"), block="x")
    assert "block" in read_profile(FIXTURE).source


def test_public_names_are_the_reader_modules_own():
    assert patterns.PowderProfile is powder_profile.PowderProfile
    assert patterns.read_cif_profile is powder_cif.read_cif_profile
    assert patterns.read_text_profile is text_profile.read_text_profile
    assert patterns.CIF_INTENSITY_TAGS is powder_cif.CIF_INTENSITY_TAGS
    assert patterns.TEXT_SUFFIXES is text_profile.TEXT_SUFFIXES
    assert patterns.NEGATIVE_TOLERANCE == negative_intensities.NEGATIVE_TOLERANCE
    assert set(patterns.__all__) <= set(dir(patterns))

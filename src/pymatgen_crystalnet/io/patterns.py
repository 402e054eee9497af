"""Reading measured powder profiles: two-column text files and IUCr powder CIFs.

A measured powder pattern is a *profile*: intensities on a grid of 2θ values, at one X-ray
wavelength. :class:`PowderProfile` holds it; :func:`read_profile` reads one from a file,
choosing the reader by suffix:

``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``
    Column text (2θ, intensity, optional esd): :func:`read_text_profile`
    (:mod:`.text_profile`). These files carry no wavelength.
``.cif``
    IUCr powder CIF (``cif_pd``): :func:`read_cif_profile` (:mod:`.powder_cif`), which also
    finds the wavelength in the file.

Negative intensities are handled as :mod:`.negative_intensities` describes (raw counts must
not be negative; processed data and text files may dip by up to 5 % of the maximum, clipped
to 0). This module keeps the public names of all three in one place. Readers never write to
disk.

Errors
------
Whatever is wrong with a file (missing, empty, binary, malformed CIF, wrong column counts,
non-numeric, NaN, infinite or overflowing numbers such as ``1e400``, 2θ outside (0°, 180°),
duplicated or backward 2θ, a broken wavelength tag, no intensity loop …), the readers raise
one :class:`PatternFileError`, a ``ValueError`` whose message names the file and the problem.
A scan written in decreasing 2θ is reversed, never refused; points are never sorted or merged
otherwise (:mod:`.profile_checks`). A bad *argument* (an unknown wavelength name, a
``block=`` for a text file) is a plain ``ValueError``.
"""

from __future__ import annotations

from pathlib import Path

from pymatgen_crystalnet.io.errors import PatternFileError
from pymatgen_crystalnet.io.negative_intensities import NEGATIVE_TOLERANCE
from pymatgen_crystalnet.io.powder_cif import CIF_INTENSITY_TAGS, read_cif_profile
from pymatgen_crystalnet.io.text_profile import TEXT_SUFFIXES, read_text_profile
from pymatgen_crystalnet.physics.powder_profile import PowderProfile

__all__ = [
    "CIF_INTENSITY_TAGS",
    "NEGATIVE_TOLERANCE",
    "TEXT_SUFFIXES",
    "PatternFileError",
    "PowderProfile",
    "read_cif_profile",
    "read_profile",
    "read_text_profile",
]


def read_profile(
    path: str | Path,
    wavelength: float | str | None = None,
    *,
    block: str | None = None,
) -> PowderProfile:
    """Read a measured powder profile from a file, choosing the reader by suffix.

    Parameters
    ----------
    path
        A text file (``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``) or a powder CIF (``.cif``).
    wavelength
        Wavelength in Å or a name such as ``"CuKa1"``; overrides any wavelength in the file.
        Text files carry none, so without it their profile has ``wavelength=None``.
    block
        For CIFs: the data block holding the profile (default: the first one that has one).

    Returns
    -------
    PowderProfile

    Raises
    ------
    PatternFileError
        (a ``ValueError``) On a missing file, an unsupported suffix, or any problem with the
        content; one message naming the file and the problem.
    ValueError
        On a bad argument: an unknown wavelength name or a non-positive wavelength, or
        ``block=`` for a text file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise PatternFileError(path, "no such file.")
    if not path.is_file():
        raise PatternFileError(path, "not a file (a folder?); give a pattern file.")
    if suffix == ".cif":
        return read_cif_profile(path, wavelength, block=block)
    if suffix in TEXT_SUFFIXES:
        if block is not None:
            raise ValueError("block= applies to CIF files only.")
        return read_text_profile(path, wavelength)
    supported = ", ".join((*TEXT_SUFFIXES, ".cif"))
    raise PatternFileError(path, f"unsupported profile file type {suffix!r}; use one of {supported}.")

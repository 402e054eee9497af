"""Reading column text profiles: ``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``.

Columns are 2θ (degrees) and intensity, optionally a third column with the standard
uncertainty (esd) of the intensity. Columns are separated by whitespace, commas or
semicolons. Lines starting with ``#`` or ``!`` are comments (so is anything after a ``#`` or
``!`` on a data line); one header line (non-numeric, before the data) is allowed. The
wavelength is not stored in these files: pass it as ``wavelength`` or the profile has
``wavelength=None``. Small negative intensities are clipped as described in
:mod:`.negative_intensities` (text files count as processed data). A scan written in
decreasing 2θ is reversed; duplicated or backward 2θ values are refused
(:mod:`.profile_checks`). Every problem with the file is raised as
:class:`~.errors.PatternFileError` (a ``ValueError``) naming the file and the line.

Readers never write to disk.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pymatgen_crystalnet.io.errors import PatternFileError
from pymatgen_crystalnet.io.negative_intensities import clip_negatives
from pymatgen_crystalnet.io.profile_checks import checked_profile
from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.physics.units import resolve_wavelength

__all__ = ["TEXT_SUFFIXES", "read_text_profile"]

#: Suffixes read as column text files.
TEXT_SUFFIXES: tuple[str, ...] = (".xy", ".xye", ".dat", ".txt", ".csv")

_SPLIT = re.compile(r"[\s,;]+")
_COMMENT = re.compile(r"[#!].*$")


def read_text_profile(path: str | Path, wavelength: float | str | None = None) -> PowderProfile:
    """Read a column text file: 2θ, intensity and optionally the intensity's esd.

    See the module docstring for the accepted layout. Every data row must have the same
    number of columns, 2 or 3. Points are ordered as :mod:`.profile_checks` describes (a
    decreasing scan is reversed; duplicated or backward 2θ values are refused).

    Raises
    ------
    ValueError
        If ``wavelength`` is not a positive number of Å or a known name.
    PatternFileError
        (a ``ValueError``) On a missing or unreadable file (binary, not UTF-8), no data, a
        non-numeric value after the data started, a second header line, one column or more
        than three, rows of different widths, NaN, infinite or overflowing numbers, negative
        esds, or any problem :class:`PowderProfile` rejects; the message names the file and,
        where there is one, the line.
    """
    path = Path(path)
    wl = resolve_wavelength(wavelength) if wavelength is not None else None
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise PatternFileError(
            path, f"not a text file (byte {exc.start} is not UTF-8); expected 2θ/intensity columns."
        ) from None
    except OSError as exc:
        raise PatternFileError(path, f"cannot be read ({exc.strerror or exc}).") from None
    rows: list[list[str]] = []
    linenos: list[int] = []
    header_seen = False
    width = None
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw_line).strip()
        if not line:
            continue
        fields = [f for f in _SPLIT.split(line) if f]
        shown = _shorten(raw_line.strip())
        if not _all_numbers(fields):
            if rows:
                raise PatternFileError(
                    path, f"line {lineno}: non-numeric value in the data: {shown!r}."
                )
            if header_seen:
                raise PatternFileError(
                    path, f"line {lineno}: more than one header line before the data: {shown!r}."
                )
            header_seen = True
            continue
        if width is None:
            width = len(fields)
            if width < 2:
                raise PatternFileError(
                    path, f"line {lineno}: one column only; expected 2θ and intensity (and maybe an esd)."
                )
            if width > 3:
                raise PatternFileError(
                    path,
                    f"line {lineno}: {width} columns; expected 2 (2θ, intensity) or 3 (2θ, intensity, esd).",
                )
        elif len(fields) != width:
            raise PatternFileError(
                path, f"line {lineno}: {len(fields)} columns where earlier rows have {width}."
            )
        rows.append(fields)
        linenos.append(lineno)
    if not rows:
        raise PatternFileError(path, "no numeric data found (an empty file, or only comments and a header).")
    data = np.array(rows, dtype=np.float64)
    finite = np.isfinite(data)
    if not np.all(finite):
        bad = int(np.argmax(~np.all(finite, axis=1)))
        raise PatternFileError(
            path,
            f"line {linenos[bad]}: NaN, infinite or overflowing number (beyond ±1.8e308) "
            f"{rows[bad][int(np.argmax(~finite[bad]))]!r}.",
        )
    sigma = None
    if data.shape[1] == 3:
        sigma = data[:, 2]
        if np.any(sigma < 0):
            bad = int(np.argmax(sigma < 0))
            raise PatternFileError(path, f"line {linenos[bad]}: negative esd in the third column.")
    try:
        intensity = clip_negatives(data[:, 1], raw=False, where="the intensity column")
    except ValueError as exc:
        raise PatternFileError(path, str(exc)) from None
    return checked_profile(data[:, 0], intensity, wl, sigma, str(path), path)


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _all_numbers(fields: list[str]) -> bool:
    try:
        for f in fields:
            float(f)
    except ValueError:
        return False
    return True

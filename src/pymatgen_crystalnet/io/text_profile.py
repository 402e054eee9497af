"""Reading column text profiles: ``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``.

Columns are 2θ (degrees) and intensity, optionally a third column with the standard
uncertainty (esd) of the intensity. Columns are separated by whitespace, commas or
semicolons. Lines starting with ``#`` or ``!`` are comments (so is anything after a ``#`` or
``!`` on a data line); one header line (non-numeric, before the data) is allowed. The
wavelength is not stored in these files: pass it as ``wavelength`` or the profile has
``wavelength=None``. Small negative intensities are clipped as described in
:mod:`.negative_intensities` (text files count as processed data).

Readers never write to disk.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pymatgen_crystalnet.io.negative_intensities import clip_negatives
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
    number of columns, 2 or 3.

    Raises
    ------
    ValueError
        On an unreadable file, a non-numeric value after the data started, a second header
        line, one column or more than three, rows of different widths, NaN, negative esds,
        or any problem :class:`PowderProfile` rejects.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"Cannot read {path}: {exc}") from None
    rows: list[list[str]] = []
    header_seen = False
    width = None
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw_line).strip()
        if not line:
            continue
        fields = [f for f in _SPLIT.split(line) if f]
        if not _all_numbers(fields):
            if rows:
                raise ValueError(
                    f"{path.name}, line {lineno}: non-numeric value in the data: {raw_line.strip()!r}"
                )
            if header_seen:
                raise ValueError(
                    f"{path.name}, line {lineno}: more than one header line before the data: "
                    f"{raw_line.strip()!r}"
                )
            header_seen = True
            continue
        if width is None:
            width = len(fields)
            if width < 2:
                raise ValueError(
                    f"{path.name}, line {lineno}: one column only; expected 2θ and intensity "
                    "(and optionally its esd)."
                )
            if width > 3:
                raise ValueError(
                    f"{path.name}, line {lineno}: {width} columns; expected 2 (2θ, intensity) "
                    "or 3 (2θ, intensity, esd)."
                )
        elif len(fields) != width:
            raise ValueError(
                f"{path.name}, line {lineno}: {len(fields)} columns where earlier rows have {width}."
            )
        rows.append(fields)
    if not rows:
        raise ValueError(f"{path.name}: no numeric data found.")
    data = np.array(rows, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        bad = int(np.argmax(~np.all(np.isfinite(data), axis=1)))
        raise ValueError(f"{path.name}: NaN or infinite value in data row {bad + 1}.")
    where = path.name
    intensity = clip_negatives(data[:, 1], raw=False, where=where)
    sigma = None
    if data.shape[1] == 3:
        sigma = data[:, 2]
        if np.any(sigma < 0):
            raise ValueError(f"{path.name}: negative esd in the third column.")
    wl = resolve_wavelength(wavelength) if wavelength is not None else None
    return PowderProfile(data[:, 0], intensity, wl, sigma, str(path))


def _all_numbers(fields: list[str]) -> bool:
    try:
        for f in fields:
            float(f)
    except ValueError:
        return False
    return True

r"""Reading the measured profile of an IUCr powder CIF (``cif_pd``).

Which data
----------
The measured profile is taken from the first data block (or the block named by ``block``)
that has a measured intensity loop, looked for in this order: ``_pd_meas_counts_total``,
``_pd_meas_intensity_total``, ``_pd_proc_intensity_total``, ``_pd_proc_intensity_net``,
``_pd_meas_intensity_net``, ``_pd_proc_intensity_norm``. Computed intensities
(``_pd_calc_*``) are never read. 2θ comes from ``_pd_proc_2theta_corrected``,
``_pd_meas_2theta_scan`` or ``_pd_meas_angle_2theta`` (preferably in the same loop as the
intensities), else from ``_pd_proc_2theta_range_{min,max,inc}`` (the zero-corrected angles) or
``_pd_meas_2theta_range_{min,max,inc}``, whichever agrees with the number of points. Values
may carry esds in parentheses (``1234(5)``); if every intensity has one, they become
:attr:`PowderProfile.sigma`. ``_pd_proc_ls_weight`` is not used for ``sigma`` (refinement
programs scale it in different ways). Points whose 2θ or intensity is ``.`` or ``?`` (CIF's
"inapplicable"/"unknown") are dropped. Negative intensities follow
:mod:`.negative_intensities` (the first three tags are raw data, the others processed).
Points in decreasing 2θ are reversed; duplicated or backward 2θ values are refused
(:mod:`.profile_checks`). Numbers that overflow (``1e400``) are refused, not read as infinite.

Wavelength
----------
The ``wavelength`` argument wins. Otherwise ``_diffrn_radiation_wavelength`` of the profile's
block; else that of the blocks linked to it (``_pd_block_id`` ↔ ``_pd_block_diffractogram_id``);
else the single distinct value found in the file's other blocks that hold no profile (blocks
holding only computed ``_pd_calc_*`` curves, such as the ``*_simulated_*`` blocks some
collections append, are ignored); then ``_pd_proc_wavelength`` in the same order; then a
radiation name in ``_diffrn_radiation_type`` (``Cu Kα``, ``MoK\a~1~`` …). Where a loop lists
several wavelengths (Kα1 and Kα2), the one with the largest ``_diffrn_radiation_wavelength_wt``
is used, or the first (Kα1) when there are no weights. A wavelength tag whose value is
neither a positive number nor ``.``/``?`` is an error (never skipped in favour of another
source). If no wavelength is found the profile
has ``wavelength=None`` (a warning is logged); mapping it onto the model's axis then needs an
explicit wavelength.

Errors
------
Every problem with the file is raised as :class:`~.errors.PatternFileError` (a
``ValueError``) whose message names the file, the block and the problem.

Readers never write to disk.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.io.errors import PatternFileError
from pymatgen_crystalnet.io.negative_intensities import clip_negatives
from pymatgen_crystalnet.io.profile_checks import checked_profile
from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.physics.units import WAVELENGTHS, resolve_wavelength

__all__ = ["CIF_INTENSITY_TAGS", "read_cif_profile"]

logger = logging.getLogger(__name__)

#: Measured-intensity tags of a powder CIF, in order of preference, with whether the data
#: are raw (no negative value allowed) or processed (small negatives clipped).
CIF_INTENSITY_TAGS: tuple[tuple[str, bool], ...] = (
    ("_pd_meas_counts_total", True),
    ("_pd_meas_intensity_total", True),
    ("_pd_proc_intensity_total", True),
    ("_pd_proc_intensity_net", False),
    ("_pd_meas_intensity_net", False),
    ("_pd_proc_intensity_norm", False),
)

#: 2θ tags given point by point, in order of preference.
_CIF_TWO_THETA_TAGS: tuple[str, ...] = (
    "_pd_proc_2theta_corrected",
    "_pd_meas_2theta_scan",
    "_pd_meas_angle_2theta",
)

_MISSING = (".", "?")
_NUMBER = re.compile(r"^\s*(?P<mant>[-+]?(?:\d+\.?\d*|\.\d+))(?P<exp>[eE][-+]?\d+)?(?:\((?P<esd>\d+)\))?\s*$")


def _parse_cif_numbers(
    values: list[str], tag: str, where: str, path: Path
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.bool_]]:
    """Numbers of a CIF loop column, their esds (if every value has one) and a missing-mask.

    Raises
    ------
    PatternFileError
        On a value that is not a number, or one that overflows (``1e400``) or is NaN.
    """
    n = len(values)
    out = np.full(n, np.nan)
    esd = np.full(n, np.nan)
    missing = np.zeros(n, dtype=bool)
    for i, raw in enumerate(values):
        s = str(raw).strip()
        if s in _MISSING:
            missing[i] = True
            continue
        m = _NUMBER.match(s)
        if m is None:
            raise PatternFileError(
                path, f"non-numeric value {_short(raw)!r} at point {i + 1} of {tag} ({where})."
            )
        mant, exp, e = m.group("mant"), m.group("exp") or "", m.group("esd")
        # float() parses any exponent (an overflow reads as inf); no integer powers of ten
        out[i] = float(mant + exp)
        if e is not None:
            decimals = len(mant.split(".")[1]) if "." in mant else 0
            esd[i] = float(f"{e}e-{decimals}") * (float("1" + exp) if exp else 1.0)
        if not (np.isfinite(out[i]) and (e is None or np.isfinite(esd[i]))):
            raise PatternFileError(
                path,
                f"value {_short(raw)!r} at point {i + 1} of {tag} overflows (beyond ±1.8e308) ({where}).",
            )
    have_esd = ~np.isnan(esd) | missing
    return out, (esd if np.all(have_esd) and np.any(~missing) else None), missing


def _short(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cif_scalar(block_data: dict, tag: str) -> str | None:
    v = block_data.get(tag)
    if v is None:
        return None
    if isinstance(v, list):
        return v[0] if v else None
    return v


def _cif_float(value: str | None) -> float | None:
    """The number in a CIF value (esd ignored), or None if it is missing, not a number or not finite."""
    if value is None:
        return None
    m = _NUMBER.match(str(value).strip())
    if m is None:
        return None
    x = float(m.group("mant") + (m.group("exp") or ""))
    return x if np.isfinite(x) else None


def _lower_keys(block_data: dict) -> dict:
    return {k.lower(): v for k, v in block_data.items()}


def _find_intensity(data: dict) -> tuple[str, bool] | None:
    for tag, raw in CIF_INTENSITY_TAGS:
        v = data.get(tag)
        if isinstance(v, list) and len(v) > 0:
            return tag, raw
    return None


def _block_wavelength(data: dict, tag: str, path: Path) -> float | None:
    """Wavelength (Å) from ``tag`` in a block: the heaviest or first of a list.

    ``.``/``?`` (not given) count as absent; any other value that is not a finite positive
    number is an error (a wavelength is never guessed past a broken one).
    """
    v = data.get(tag)
    if v is None:
        return None
    values = [x for x in (v if isinstance(v, list) else [v]) if str(x).strip() not in _MISSING]
    if not values:
        return None
    numbers = [_cif_float(x) for x in values]
    for raw, x in zip(values, numbers):
        if x is None or x <= 0:
            raise PatternFileError(
                path, f"{tag} is {_short(raw)!r}, not a positive wavelength in Å; fix it or pass wavelength=."
            )
    if len(numbers) > 1 and tag == "_diffrn_radiation_wavelength":
        wts = data.get("_diffrn_radiation_wavelength_wt")
        if isinstance(wts, list) and len(wts) == len(numbers):
            w = [_cif_float(x) for x in wts]
            if all(x is not None for x in w):
                return numbers[int(np.argmax(w))]  # type: ignore[return-value]
    return numbers[0]


def _radiation_name_wavelength(data: dict) -> float | None:
    r"""Return the wavelength named by ``_diffrn_radiation_type``, e.g. ``'Cu K\a~1~'``."""
    v = _cif_scalar(data, "_diffrn_radiation_type")
    if not v:
        return None
    s = re.sub(r"[\s~\\'\"]", "", v).replace("alpha", "a").replace("α", "a")
    m = re.match(r"^([A-Z][a-z]?)K(a|b)([12]?)$", s)
    if m is None:
        return None
    name = f"{m.group(1)}K{m.group(2)}{m.group(3) or ('1' if m.group(2) == 'b' else '')}"
    return WAVELENGTHS.get(name)


def _grid_from_range(data: dict, n: int, prefer_proc: bool) -> tuple[NDArray[np.float64], str] | None:
    """2θ grid from ``_pd_{proc,meas}_2theta_range_{min,max,inc}`` that fits ``n`` points."""
    kinds = ("proc", "meas") if prefer_proc else ("meas", "proc")
    for kind in kinds:
        lo = _cif_float(_cif_scalar(data, f"_pd_{kind}_2theta_range_min"))
        hi = _cif_float(_cif_scalar(data, f"_pd_{kind}_2theta_range_max"))
        inc = _cif_float(_cif_scalar(data, f"_pd_{kind}_2theta_range_inc"))
        if lo is None or inc is None or inc <= 0:
            continue
        end = lo + inc * (n - 1)
        if hi is not None and abs(end - hi) > 0.5 * inc:
            logger.debug(
                "_pd_%s_2theta_range gives %g..%g for %d points, not %g; skipped.",
                kind,
                lo,
                end,
                n,
                hi,
            )
            continue
        return lo + inc * np.arange(n), f"_pd_{kind}_2theta_range_*"
    return None


def read_cif_profile(
    path: str | Path,
    wavelength: float | str | None = None,
    *,
    block: str | None = None,
) -> PowderProfile:
    """Read the measured profile of an IUCr powder CIF (see the module docstring).

    Parameters
    ----------
    path
        The CIF file.
    wavelength
        Wavelength in Å or a name; overrides the file's.
    block
        Name of the data block holding the profile (without ``data_``); default: the first
        block that has a measured intensity loop.

    Raises
    ------
    ValueError
        If ``wavelength`` is not a positive number of Å or a known name.
    PatternFileError
        (a ``ValueError``) If the file is missing or cannot be parsed as CIF, has no measured
        profile, has no usable 2θ values, has non-numeric, overflowing or NaN values, has a
        wavelength that is not a positive number, or fails :class:`PowderProfile`'s checks.
        The message names the file and the block.
    """
    import warnings

    from pymatgen.io.cif import CifFile

    path = Path(path)
    wl_given = resolve_wavelength(wavelength) if wavelength is not None else None
    if not path.is_file():
        raise PatternFileError(path, "no such file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cif = CifFile.from_file(path)
        blocks = {name: _lower_keys(b.data) for name, b in cif.data.items()}
    except Exception as exc:  # pymatgen's CIF parser raises many types on malformed text
        problem = f"cannot be parsed as CIF ({type(exc).__name__}: {_short(exc)})."
        raise PatternFileError(path, problem) from None
    if not blocks:
        raise PatternFileError(path, "no CIF data blocks (an empty file, or not a CIF).")
    with_profile = {name: d for name, d in blocks.items() if _find_intensity(d) is not None}
    if block is not None:
        if block not in blocks:
            raise PatternFileError(path, f"no data block {block!r}; blocks: {', '.join(blocks)}.")
        if block not in with_profile:
            raise PatternFileError(path, f"block {block!r} holds no measured intensity loop.")
        name = block
    elif not with_profile:
        tags = ", ".join(t for t, _ in CIF_INTENSITY_TAGS)
        raise PatternFileError(path, f"no measured powder profile (none of {tags}).")
    else:
        name = next(iter(with_profile))
        if len(with_profile) > 1:
            logger.warning(
                "%s holds %d profiles (blocks %s); reading %r. Pass block= to choose.",
                path.name,
                len(with_profile),
                ", ".join(with_profile),
                name,
            )
    data = blocks[name]
    where = f"block {name!r}"
    y_tag, raw = _find_intensity(data)  # type: ignore[misc]
    y, y_esd, y_missing = _parse_cif_numbers(data[y_tag], y_tag, where, path)
    n = y.size

    tt = None
    tt_tag = ""
    loop = next((lp for lp in cif.data[name].loops if y_tag in (c.lower() for c in lp)), [])
    loop_tags = [c.lower() for c in loop]
    candidates = [t for t in _CIF_TWO_THETA_TAGS if t in loop_tags]
    candidates += [t for t in _CIF_TWO_THETA_TAGS if t not in candidates and t in data]
    tt_missing = np.zeros(n, dtype=bool)
    for tag in candidates:
        values = data[tag]
        if isinstance(values, list) and len(values) == n:
            tt, _, tt_missing = _parse_cif_numbers(values, tag, where, path)
            tt_tag = tag
            break
    if tt is None:
        found = _grid_from_range(data, n, prefer_proc=True)
        if found is None:
            raise PatternFileError(
                path,
                f"no 2θ values for the {n} points of {y_tag} (looked for "
                f"{', '.join(_CIF_TWO_THETA_TAGS)} with {n} values, and consistent _pd_proc/_pd_meas"
                f"_2theta_range_min/max/inc) ({where}).",
            )
        tt, tt_tag = found

    keep = ~(y_missing | tt_missing)
    if not np.all(keep):
        logger.info("%s, %s: dropped %d points with '.' or '?' values.", path.name, where, int((~keep).sum()))
    tt, y = tt[keep], y[keep]
    sigma = y_esd[keep] if y_esd is not None else None
    try:
        y = clip_negatives(y, raw=raw, where=f"{y_tag}, {where}")
    except ValueError as exc:
        raise PatternFileError(path, str(exc)) from None

    wl = wl_given if wl_given is not None else _cif_wavelength(blocks, name, with_profile, path)
    if wl is None:
        logger.warning(
            "%s, %s: no wavelength found (_diffrn_radiation_wavelength, _pd_proc_wavelength, "
            "_diffrn_radiation_type); pass wavelength= to use the profile.",
            path.name,
            where,
        )
    source = f"{path} [block {name}: {tt_tag} / {y_tag}]"
    return checked_profile(tt, y, wl, sigma, source, path, where)


def _cif_wavelength(blocks: dict[str, dict], name: str, with_profile: dict, path: Path) -> float | None:
    """Find the wavelength of the profile in block ``name`` (rules in the module docstring)."""
    own = blocks[name]
    ids = _block_ids(own)

    def linked(d: dict) -> bool:
        return bool(ids & _block_ids(d))

    others = [d for n, d in blocks.items() if n != name and n not in with_profile]
    linked_blocks = [d for d in others if linked(d)]
    # Blocks that only hold computed curves (e.g. appended simulations) say nothing about
    # the measurement.
    unlinked = [d for d in others if not linked(d) and not any(k.startswith("_pd_calc_intensity") for k in d)]
    for tag in ("_diffrn_radiation_wavelength", "_pd_proc_wavelength"):
        wl = _block_wavelength(own, tag, path)
        if wl is not None:
            return wl
        values = {_block_wavelength(d, tag, path) for d in linked_blocks} - {None}
        if len(values) == 1:
            return values.pop()
        if not values:
            values = {_block_wavelength(d, tag, path) for d in unlinked} - {None}
            if len(values) == 1:
                return values.pop()
        if len(values) > 1:
            logger.warning("Several %s values in the file: %s; none chosen.", tag, sorted(values))
    for d in (own, *linked_blocks, *unlinked):
        wl = _radiation_name_wavelength(d)
        if wl is not None:
            return wl
    return None


def _block_ids(data: dict) -> set[str]:
    """``_pd_block_id`` and ``_pd_block_diffractogram_id`` values of a block."""
    ids: set[str] = set()
    for tag in ("_pd_block_id", "_pd_block_diffractogram_id"):
        v = data.get(tag)
        for x in [v] if isinstance(v, str) else (v or []):
            x = x.strip()
            if x and x not in _MISSING:
                ids.add(x)
    return ids

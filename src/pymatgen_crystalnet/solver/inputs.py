"""The pattern enters the solver once: :class:`PreparedPattern`.

Every supported input — a pymatgen ``DiffractionPattern`` (sticks), a measured
:class:`~pymatgen_crystalnet.io.patterns.PowderProfile`, a profile file (``.xy``, ``.xye``,
``.csv``, IUCr powder CIF, …), ``(two_theta, intensity)`` arrays (a profile) or a ready
1024-bin vector on the model's Mo Kα axis — becomes one :class:`PreparedPattern` holding the
peak d-spacings and intensities, the wavelength (resolved here, once), the covered range and
the measured profile where there is one. Indexing reads its 2θ at the measured wavelength,
the model reads :attr:`PreparedPattern.vector` and verification reads
:attr:`PreparedPattern.covered`; all three derive from the same d-spacings.

The wavelength is required: a stick pattern carries none, so ``wavelength=`` must be given;
a profile file may state it (IUCr CIF ``_diffrn_radiation_wavelength``, ``.xy`` header);
a 1024-vector is on the Mo Kα axis by definition. Nothing is assumed silently.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_centres, bin_index, sticks_to_vector
from pymatgen_crystalnet.physics.powder import lorentz_polarisation
from pymatgen_crystalnet.physics.units import MO_KA, resolve_wavelength

if TYPE_CHECKING:
    from pymatgen_crystalnet.io.patterns import PowderProfile

__all__ = ["MAX_WAVELENGTH", "MIN_WAVELENGTH", "PatternInputError", "PreparedPattern", "prepare_pattern"]

logger = logging.getLogger(__name__)

#: Range of wavelengths accepted (Å): hard X-rays from synchrotrons (~0.1 Å) to Cr Kα (2.29 Å)
#: and cold neutrons; a value outside is almost always a unit slip (pm, nm) and is refused.
MIN_WAVELENGTH: float = 0.05
MAX_WAVELENGTH: float = 5.0
#: Uncertainty of stick positions (degrees 2θ) when nothing better is known.
STICK_SIGMA: float = 0.01


class PatternInputError(ValueError):
    """A pattern the solver cannot use; the message names the problem."""


def _two_theta(d: NDArray[np.float64], wavelength: float) -> NDArray[np.float64]:
    s = wavelength / (2.0 * d)
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, np.degrees(2.0 * np.arcsin(np.minimum(s, 1.0))), np.nan)


def _d_spacing(two_theta: NDArray[np.float64], wavelength: float) -> NDArray[np.float64]:
    return wavelength / (2.0 * np.sin(np.radians(two_theta) / 2.0))


@dataclass(frozen=True)
class PreparedPattern:
    """One pattern as indexing, the model and verification read it.

    Attributes
    ----------
    d_spacing
        Peak d-spacings (Å), decreasing (i.e. increasing 2θ).
    intensity
        Peak heights as measured (at ``wavelength``; background removed for a profile).
    wavelength
        The wavelength of the data (Å), resolved once.
    wavelength_source
        ``"given"`` (the caller's), ``"file"`` (read from the profile) or ``"model axis"``
        (a 1024-vector, Mo Kα by definition).
    two_theta_range
        2θ range (degrees, at ``wavelength``) the data cover: a profile's first to last
        point, for sticks ``(0, last line)`` unless given.
    position_sigma
        Standard uncertainty of the peak positions (degrees 2θ).
    kind
        ``"sticks"``, ``"profile"`` or ``"vector"``.
    profile
        The measured profile, where there is one.
    source
        File name or a description of the input.
    notes
        What was done to the input (Kα2 lines dropped, lines beyond 180° on the model axis, …).
    """

    d_spacing: NDArray[np.float64]
    intensity: NDArray[np.float64]
    wavelength: float
    wavelength_source: str
    two_theta_range: tuple[float, float]
    position_sigma: float
    kind: str
    profile: PowderProfile | None = None
    source: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    # --- views at the measured wavelength (indexing) -------------------------------------
    @functools.cached_property
    def two_theta(self) -> NDArray[np.float64]:
        """Peak positions (degrees 2θ at :attr:`wavelength`), increasing."""
        return _two_theta(self.d_spacing, self.wavelength)

    @property
    def d_range(self) -> tuple[float, float]:
        """``(d_min, d_max)`` (Å) the covered 2θ range stands for (``d_max`` may be inf)."""
        lo, hi = self.two_theta_range
        d_max = float(_d_spacing(np.array([lo]), self.wavelength)[0]) if lo > 0 else float("inf")
        return float(_d_spacing(np.array([hi]), self.wavelength)[0]), d_max

    @property
    def position_tolerance(self) -> float:
        """Tolerance (degrees 2θ) of a line position when it is matched to a reflection."""
        return max(0.03, 3.0 * self.position_sigma)

    # --- views on the model's Mo Kα axis (model input, verification) ----------------------
    @functools.cached_property
    def two_theta_model(self) -> NDArray[np.float64]:
        """Peak positions on the model's Mo Kα axis (NaN beyond 180°)."""
        return _two_theta(self.d_spacing, MO_KA)

    @functools.cached_property
    def vector(self) -> NDArray[np.float32]:
        """The model's (1024,) input on the Mo Kα axis, largest bin 1.

        Heights are re-weighted by ``LP(θ_Mo) / LP(θ_measured)``: training patterns carry the
        Lorentz–polarisation factor at Mo Kα angles.
        """
        mo = self.two_theta_model
        keep = np.isfinite(mo)
        heights = self.intensity[keep]
        if self.kind != "vector" and not np.isclose(self.wavelength, MO_KA):
            heights = heights * lorentz_polarisation(mo[keep]) / lorentz_polarisation(self.two_theta[keep])
        good = np.isfinite(heights)
        return sticks_to_vector(mo[keep][good], heights[good])

    @functools.cached_property
    def covered(self) -> NDArray[np.bool_]:
        """(1024,) bool: bins of the Mo Kα axis the data cover."""
        covered = np.zeros(N_BINS, dtype=bool)
        if self.kind == "vector":
            covered[:] = True
            return covered
        d_min, d_max = self.d_range
        lo = 0.0 if not np.isfinite(d_max) else float(_two_theta(np.array([d_max]), MO_KA)[0])
        hi = _two_theta(np.array([d_min]), MO_KA)[0]
        hi = 180.0 if not np.isfinite(hi) else float(hi)
        covered[int(bin_index(lo)) : int(bin_index(hi)) + 1] = True
        return covered

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description (recorded in the solve summary)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "wavelength": self.wavelength,
            "wavelength_source": self.wavelength_source,
            "two_theta_range": [float(v) for v in self.two_theta_range],
            "n_peaks": int(self.d_spacing.size),
            "position_sigma": self.position_sigma,
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------- helpers


def _wavelength(value: float | str, what: str) -> float:
    try:
        lam = resolve_wavelength(value)
    except (ValueError, TypeError) as exc:
        raise PatternInputError(f"Wavelength {value!r}: {exc}") from None
    if not MIN_WAVELENGTH <= lam <= MAX_WAVELENGTH:
        raise PatternInputError(
            f"Wavelength {lam:g} Å ({what}) is outside {MIN_WAVELENGTH}–{MAX_WAVELENGTH} Å, the range of "
            "X-ray and neutron powder diffraction; give it in Å (e.g. 1.5406 or 'CuKa1'), not pm or nm."
        )
    return lam


def _require_wavelength(wavelength: float | str | None, what: str) -> float:
    if wavelength is None:
        raise PatternInputError(
            f"The wavelength of {what} is unknown: pass wavelength= (Å or a name such as 'CuKa1', "
            "'MoKa'); it is never assumed."
        )
    return _wavelength(wavelength, "given")


def _check_positions(tt: NDArray, h: NDArray, what: str) -> None:
    if tt.size == 0:
        raise PatternInputError(f"{what} has no peaks.")
    if tt.shape != h.shape:
        raise PatternInputError(f"{what}: {tt.size} positions but {h.size} intensities.")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(h))):
        raise PatternInputError(f"{what} holds NaN or infinite positions or intensities.")
    if np.any(h < 0):
        raise PatternInputError(f"{what} has negative intensities.")
    inside = (tt > 0) & (tt < 180)
    if not np.any(inside):
        raise PatternInputError(
            f"{what}: every peak lies outside 0°–180° 2θ (found {tt.min():.4g}°–{tt.max():.4g}°); "
            "2θ must be in degrees."
        )
    if not np.all(inside):
        raise PatternInputError(
            f"{what}: {int(np.sum(~inside))} peak(s) lie outside 0°–180° 2θ "
            f"(found {tt.min():.4g}°–{tt.max():.4g}°); 2θ must be in degrees."
        )


def _sticks(
    tt: NDArray, h: NDArray, lam: float, lam_source: str, two_theta_range: tuple[float, float] | None,
    source: str | None,
) -> PreparedPattern:
    _check_positions(tt, h, "The stick pattern")
    if not np.any(h > 0):
        raise PatternInputError("All peak intensities of the stick pattern are zero.")
    order = np.argsort(tt)
    tt, h = tt[order], h[order]
    keep = h > 0
    tt, h = tt[keep], h[keep]
    rng = (0.0, float(min(180.0, tt[-1] + 0.5))) if two_theta_range is None else _range(two_theta_range)
    return PreparedPattern(
        d_spacing=_d_spacing(tt, lam), intensity=h, wavelength=lam, wavelength_source=lam_source,
        two_theta_range=rng, position_sigma=STICK_SIGMA, kind="sticks", source=source,
    )  # fmt: skip


def _range(two_theta_range: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in two_theta_range)
    except (TypeError, ValueError):
        raise PatternInputError(f"two_theta_range must be two numbers, got {two_theta_range!r}.") from None
    if not 0 <= lo < hi <= 180:
        raise PatternInputError(f"two_theta_range must satisfy 0 ≤ min < max ≤ 180°, got ({lo}, {hi}).")
    return lo, hi


def _from_profile(profile: PowderProfile, lam: float, lam_source: str) -> PreparedPattern:
    from pymatgen_crystalnet.indexing.peaks import peaks_from_profile

    tt_grid = np.asarray(profile.two_theta, dtype=float)
    what = f"The profile {profile.source or ''}".rstrip()
    if tt_grid.size < 2 or not np.all(np.isfinite(tt_grid)):
        raise PatternInputError(f"{what} has fewer than two finite points.")
    if tt_grid.max() <= 0 or tt_grid.min() >= 180:
        raise PatternInputError(
            f"{what} lies entirely outside 0°–180° 2θ ({tt_grid.min():.4g}°–{tt_grid.max():.4g}°)."
        )
    try:  # Kα2 companions stripped and blends put on the Kα1 scale for Cu, Mo, … Kα data
        peaks = peaks_from_profile(profile, lam, max_lines=None)
    except ValueError as exc:
        raise PatternInputError(f"{what}: {exc}") from None
    step = float(np.median(np.diff(tt_grid)))
    notes = tuple(peaks.notes)
    if not np.isclose(peaks.wavelength, lam):
        notes += (f"peak positions on the Kα1 scale ({peaks.wavelength:.5f} Å; the data's {lam:.5f} Å)",)
    heights = np.asarray(peaks.intensity, dtype=float)
    return PreparedPattern(
        d_spacing=_d_spacing(np.asarray(peaks.two_theta, dtype=float), peaks.wavelength), intensity=heights,
        wavelength=float(peaks.wavelength), wavelength_source=lam_source,
        two_theta_range=(max(0.0, float(tt_grid.min())), min(180.0, float(tt_grid.max()))),
        position_sigma=max(STICK_SIGMA, step), kind="profile", profile=profile, source=profile.source,
        notes=notes,
    )  # fmt: skip


def _from_vector(arr: NDArray, wavelength: float | str | None) -> PreparedPattern:
    if wavelength is not None and not np.isclose(_wavelength(wavelength, "given"), MO_KA):
        raise PatternInputError(
            "A 1024-bin vector is on the model's Mo Kα axis by definition; do not pass another wavelength."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.max() <= 0:
        raise PatternInputError("The XRD vector must be finite, non-negative and not all zero.")
    nz = np.nonzero(arr)[0]
    tt = bin_centres()[nz]
    return PreparedPattern(
        d_spacing=_d_spacing(tt, MO_KA), intensity=arr[nz] / arr.max(), wavelength=MO_KA,
        wavelength_source="model axis", two_theta_range=(0.0, 180.0),
        position_sigma=180.0 / N_BINS / np.sqrt(12.0), kind="vector", source="1024-bin vector",
    )  # fmt: skip


def prepare_pattern(
    pattern: Any,
    wavelength: float | str | None = None,
    *,
    two_theta_range: tuple[float, float] | None = None,
) -> PreparedPattern:
    """Turn any supported pattern input (see the module docstring) into a :class:`PreparedPattern`.

    Parameters
    ----------
    pattern
        ``DiffractionPattern``, ``PowderProfile``, profile file path, ``(two_theta,
        intensity)`` arrays, an object that already is a ``PreparedPattern``, or a 1024-vector.
    wavelength
        Å or a name (``"CuKa1"``). Required for sticks and arrays; for a file it overrides
        the one the file states.
    two_theta_range
        For sticks only: the 2θ range the list covers (default ``(0, last line + 0.5°)``).

    Raises
    ------
    PatternInputError
        (a ``ValueError``) For an unsupported type, a missing or implausible wavelength, no
        peaks, peaks outside 0°–180°, or a file that cannot be read.
    """
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    from pymatgen_crystalnet.io.patterns import PowderProfile, read_profile

    if isinstance(pattern, PreparedPattern):
        return pattern
    if isinstance(pattern, DiffractionPattern):
        lam = _require_wavelength(wavelength, "a stick pattern (DiffractionPattern)")
        tt = np.asarray(pattern.x, dtype=float).ravel()
        h = np.asarray(pattern.y, dtype=float).ravel()
        return _sticks(tt, h, lam, "given", two_theta_range, "DiffractionPattern")
    if isinstance(pattern, (str, os.PathLike)):
        path = Path(pattern)
        if not path.is_file():
            raise PatternInputError(f"Pattern file {path} does not exist.")
        try:
            pattern = read_profile(path, wavelength=wavelength)
        except ValueError as exc:
            raise PatternInputError(str(exc)) from None
    elif isinstance(pattern, tuple) and len(pattern) == 2:
        lam = _require_wavelength(wavelength, "a (two_theta, intensity) profile")
        x, y = (np.asarray(v, dtype=float).ravel() for v in pattern)
        if x.shape != y.shape or x.size < 2 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise PatternInputError(
                "A (two_theta, intensity) profile needs two finite arrays of equal length."
            )
        if x.max() <= 0 or x.min() >= 180:
            raise PatternInputError(
                f"The profile lies entirely outside 0°–180° 2θ ({x.min():.4g}°–{x.max():.4g}°)."
            )
        try:
            pattern = PowderProfile(x, y, lam)
        except ValueError as exc:
            raise PatternInputError(str(exc)) from None

    if isinstance(pattern, PowderProfile):
        if wavelength is not None:
            return _from_profile(pattern, _wavelength(wavelength, "given"), "given")
        if pattern.wavelength is None:
            raise PatternInputError(
                f"The wavelength of {pattern.source or 'the profile'} is unknown (the file does not "
                "state it): pass wavelength= (Å or a name such as 'CuKa1'); it is never assumed."
            )
        return _from_profile(pattern, _wavelength(pattern.wavelength, "from the file"), "file")

    if not isinstance(pattern, (dict, str, bytes)):
        try:
            arr = np.asarray(pattern, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.shape == (N_BINS,):
            return _from_vector(arr, wavelength)
    raise PatternInputError(
        f"Unsupported pattern input of type {type(pattern).__name__}: give a DiffractionPattern, a "
        "PowderProfile, a profile file path, (two_theta, intensity) arrays or a 1024-bin vector."
    )

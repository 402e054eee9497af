"""``index_pattern``: from peak positions to a ranked list of unit cells.

Kept whole: the staged search (the systems, their order, the time limit and the merging of
equivalent cells) is one procedure that reads best in one place.

Strategy (see ``docs/indexing.md``):

1. Lines are turned into windows in ``Q = 1/d²``: ``2θ ± (tolerance + max_zero_shift)``.
2. For each lattice system, most symmetric first, a successive dichotomy over the
   parameters of its quadratic form (:mod:`~pymatgen_crystalnet.indexing.dichotomy`) finds
   every region of parameter space that explains the first ``n_search`` lines.
3. Each region's centre is refined by least squares together with the zero shift
   (:mod:`~pymatgen_crystalnet.indexing.refine`) against all lines, put into its
   conventional setting, and scored (:mod:`~pymatgen_crystalnet.indexing.evaluate`).
4. Cubic, tetragonal and hexagonal are searched first, as one group, asking for every line
   to be explained, then allowing one more unexplained line at a time up to
   ``max_unindexed``; then orthorhombic and monoclinic, each through the same levels. The
   search stops after the first stage that yields a cell with ``M20 ≥ min_merit`` leaving
   no more lines unindexed than allowed at that stage, unless ``exhaustive``; if that M20 is
   below ``2.5 × min_merit`` the same group is searched one level further first (a
   supercell can index impurity lines that the true cell leaves unexplained).
5. Cells describing the same lattice (same Niggli cell of their primitive cells) are
   merged, keeping the most symmetric description; the rest are ranked by the ranking
   merit with a 5 % preference per step of symmetry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.indexing.dichotomy import SearchDomain, dichotomy_search
from pymatgen_crystalnet.indexing.evaluate import (
    conventional_transform,
    evaluate_cell,
    lattice_parameters,
    transform_gstar,
)
from pymatgen_crystalnet.indexing.forms import FORMS, LatticeForm, reciprocal_metric
from pymatgen_crystalnet.indexing.refine import refine_form, tt_to_q
from pymatgen_crystalnet.indexing.solution import IndexingSolution
from pymatgen_crystalnet.physics.units import resolve_wavelength

__all__ = ["DEFAULT_SYSTEMS", "MIN_LINES", "index_pattern", "same_lattice"]

logger = logging.getLogger(__name__)

#: Lattice systems searched by default, most symmetric first.
DEFAULT_SYSTEMS: tuple[str, ...] = ("cubic", "tetragonal", "hexagonal", "orthorhombic", "monoclinic")
#: Fewest lines ``index_pattern`` accepts.
MIN_LINES = 6
#: Fewest lines for a search of each system (parameters + zero + a few to over-determine).
_MIN_LINES_SYSTEM = {"cubic": 6, "tetragonal": 6, "hexagonal": 6, "orthorhombic": 8, "monoclinic": 10}
#: Default longest cell edge searched (Å).
_MAX_LENGTH = {"cubic": 40.0, "tetragonal": 50.0, "hexagonal": 60.0, "orthorhombic": 30.0, "monoclinic": 25.0}
#: Laue-group order and the largest centring multiplicity of each system (volume bound).
_LAUE = {
    "cubic": (48, 4),
    "tetragonal": (16, 2),
    "hexagonal": (24, 3),
    "orthorhombic": (8, 4),
    "monoclinic": (4, 2),
}
#: Default largest volume searched, in units of the volume estimated from the line count.
_VOLUME_FACTOR = {"cubic": 10.0, "tetragonal": 5.0, "hexagonal": 7.5, "orthorhombic": 4.0, "monoclinic": 4.0}
_MAX_REPRESENTATIVES = 60


def _domain(
    form: LatticeForm, q1_hi: float, qn_hi: float, max_length: float, v_lo: float, v_hi: float
) -> SearchDomain:
    pmin = 1.0 / max_length**2
    s = form.system
    if s == "cubic":
        lo, hi = [pmin], [q1_hi]
    elif s == "hexagonal":
        lo, hi = [4.0 * pmin / 3.0, pmin], [qn_hi, qn_hi]
    elif s == "tetragonal":
        lo, hi = [pmin, pmin], [qn_hi, qn_hi]
    elif s == "orthorhombic":
        lo, hi = [pmin] * 3, [qn_hi, qn_hi, q1_hi]
    else:
        lo, hi = [pmin, pmin, pmin, 0.0], [qn_hi] * 4
    det_max = np.inf if v_lo <= 0 else 1.0 / v_lo**2
    return SearchDomain(np.array(lo, dtype=float), np.array(hi, dtype=float), 1.0 / v_hi**2, det_max, q1_hi)


def _cluster(form: LatticeForm, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.float64]:
    """One representative centre per group of touching final boxes, smallest cells first."""
    centres = 0.5 * (lo + hi)
    width = hi - lo
    det, _ = form.det_bounds(centres, centres)
    order = np.argsort(-det)
    centres, width = centres[order], width[order]
    free = np.ones(centres.shape[0], dtype=bool)
    reps = []
    for i in range(centres.shape[0]):
        if not free[i]:
            continue
        near = np.all(np.abs(centres - centres[i]) <= 2.0 * (width + width[i]), axis=1) & free
        reps.append(centres[i])
        free &= ~near
        if len(reps) >= _MAX_REPRESENTATIVES:
            logger.info("More than %d candidate regions; refining the smallest cells.", _MAX_REPRESENTATIVES)
            break
    return np.array(reps)


def _jacobian(fun: Any, p: NDArray[np.float64]) -> NDArray[np.float64]:
    cols = []
    for j in range(p.size):
        h = 1e-6 * max(abs(p[j]), 1e-4)
        dp = np.zeros_like(p)
        dp[j] = h
        cols.append((fun(p + dp) - fun(p - dp)) / (2 * h))
    return np.stack(cols, axis=1)


def _solution(
    form: LatticeForm,
    params: NDArray[np.float64],
    zero: float,
    cov: NDArray[np.float64],
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
) -> IndexingSolution:
    gstar = reciprocal_metric(form.system, params)
    first = evaluate_cell(gstar, zero, tt, wavelength, tol, form.centrings)
    m, centring = conventional_transform(form.system, gstar, first.centring)
    if np.array_equal(m, np.eye(3)) and centring == first.centring:
        ev = first
        gconv = gstar
    else:
        gconv = transform_gstar(gstar, m)
        ev = evaluate_cell(gconv, zero, tt, wavelength, tol, (centring,))
    pars = lattice_parameters(gconv)

    def to_params(p: NDArray[np.float64]) -> NDArray[np.float64]:
        return lattice_parameters(transform_gstar(reciprocal_metric(form.system, p), m))

    jac = _jacobian(to_params, params)
    npar = form.n_params
    cov_lat = jac @ cov[:npar, :npar] @ jac.T
    esds = np.sqrt(np.clip(np.diag(cov_lat), 0.0, None))
    lattice = Lattice.from_parameters(*pars)
    system = "trigonal" if form.system == "hexagonal" and centring == "R" else form.system
    return IndexingSolution(
        lattice=lattice,
        crystal_system=system,
        centring=centring,
        parameters=tuple(float(x) for x in pars),
        esds=tuple(float(x) for x in esds),
        volume=float(lattice.volume),
        zero_shift=float(zero),
        zero_shift_esd=float(np.sqrt(max(cov[npar, npar], 0.0))),
        m20=ev.m20,
        f_n=ev.f_n,
        f_n_mean_dtt=ev.f_n_mean_dtt,
        f_n_poss=ev.f_n_poss,
        n_lines=int(tt.size),
        n_indexed=int(ev.indexed.sum()),
        unindexed=tuple(int(i) for i in np.flatnonzero(~ev.indexed)),
        two_theta=tt.copy(),
        two_theta_calc=ev.tt_calc,
        hkl=ev.hkl,
        wavelength=wavelength,
        score=ev.score,
    )


def same_lattice(a: Lattice, b: Lattice, ltol: float = 1e-3, atol: float = 0.1) -> bool:
    """Whether two cells generate the same lattice (Niggli cells map within tolerances).

    ``ltol`` is fractional (on lengths), ``atol`` in degrees.
    """
    na, nb = a.get_niggli_reduced_lattice(), b.get_niggli_reduced_lattice()
    if abs(na.volume - nb.volume) > 3 * ltol * max(na.volume, nb.volume):
        return False
    return na.find_mapping(nb, ltol=ltol, atol=atol) is not None


def _search_system(
    form: LatticeForm,
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
    n_search: int,
    max_zero_shift: float,
    max_unindexed: int,
    max_length: float | None,
    max_volume: float | None,
    sigma: NDArray[np.float64] | None,
    min_merit: float,
    deadline: float | None,
) -> list[IndexingSolution]:
    ts = tt[:n_search]
    hw = tol[:n_search] + max_zero_shift
    win_lo = tt_to_q(np.maximum(ts - hw, 1e-3), wavelength)
    win_hi = tt_to_q(np.minimum(ts + hw, 179.9), wavelength)
    win_lo = np.minimum.accumulate(win_lo[::-1])[::-1]
    win_hi = np.maximum.accumulate(win_hi)
    laue, _ = _LAUE[form.system]
    v_est = ts.size * laue / (4.0 * np.pi / 3.0 * win_hi[-1] ** 1.5)
    v_max = max_volume if max_volume is not None else _VOLUME_FACTOR[form.system] * v_est
    shells = [v for v in (2 * v_est, 4 * v_est, 8 * v_est, 16 * v_est) if v < v_max] + [v_max]
    length = max_length if max_length is not None else _MAX_LENGTH[form.system]
    out: list[IndexingSolution] = []
    v_lo = 0.0
    for v_hi in shells:
        domain = _domain(form, float(win_hi[0]), float(win_hi[-1]), length, v_lo, v_hi)
        v_lo = v_hi
        if deadline is not None and time.monotonic() > deadline:
            break
        lo, hi, _ = dichotomy_search(
            form, domain, win_lo, win_hi, max_unindexed=max_unindexed, deadline=deadline
        )
        if lo.shape[0] == 0:
            continue
        if lo.shape[0] > 20_000:  # keep the smallest cells
            det, _ = form.det_bounds(0.5 * (lo + hi), 0.5 * (lo + hi))
            keep = np.argsort(-det)[:20_000]
            lo, hi = lo[keep], hi[keep]
        reps = _cluster(form, lo, hi)
        logger.debug("%s, V ≤ %.0f: %d final boxes, %d regions", form.system, v_hi, lo.shape[0], len(reps))
        seen = np.empty((0, form.n_params))
        for p0 in reps:
            ref = refine_form(form, p0, tt, wavelength, tol, max_zero_shift=max_zero_shift, sigma=sigma)
            if ref is None:
                continue
            if np.any(np.all(np.abs(seen - ref.params) <= 1e-5 * np.abs(ref.params) + 1e-9, axis=1)):
                continue
            seen = np.vstack([seen, ref.params])
            out.append(_solution(form, ref.params, ref.zero, ref.covariance, tt, wavelength, tol))
        if any(s.m20 >= min_merit and s.n_unindexed <= max_unindexed for s in out):
            break
    return out


def _stages(systems: Sequence[str], max_unindexed: int) -> list[tuple[tuple[str, ...], int]]:
    """(systems, allowed unexplained lines) in search order.

    The cheap cubic, tetragonal and hexagonal searches form one group, searched as a whole
    (none unexplained, then one, …), so that a supercell in one of them cannot stop the
    search before the true cell of another is found; orthorhombic and monoclinic follow,
    each through its own relaxation levels.
    """
    high = tuple(s for s in systems if s in ("cubic", "tetragonal", "hexagonal"))
    low = [s for s in systems if s not in high]
    stages = [(high, k) for k in range(max_unindexed + 1)] if high else []
    return stages + [((s,), k) for s in low for k in range(max_unindexed + 1)]


def _rank(solutions: list[IndexingSolution], max_solutions: int) -> list[IndexingSolution]:
    ordered = sorted(solutions, key=lambda s: -s.score)
    kept: list[IndexingSolution] = []
    reduced: list[Lattice] = []
    for sol in ordered:
        niggli = sol.primitive_lattice.get_niggli_reduced_lattice()
        for i, other in enumerate(reduced):
            if abs(niggli.volume - other.volume) > 3e-3 * other.volume:
                continue
            if niggli.find_mapping(other, ltol=1e-3, atol=0.1) is None:
                continue
            if sol.symmetry_rank > kept[i].symmetry_rank and sol.score >= 0.7 * kept[i].score:
                kept[i] = sol
            break
        else:
            kept.append(sol)
            reduced.append(niggli)
    kept.sort(key=lambda s: -s.score * 1.05**s.symmetry_rank)
    return kept[:max_solutions]


def _two_theta_of(peaks: ArrayLike | Any) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    if hasattr(peaks, "two_theta"):
        sig = getattr(peaks, "sigma", None)
        return np.asarray(peaks.two_theta, dtype=float), (None if sig is None else np.asarray(sig, float))
    return np.asarray(peaks, dtype=float), None


def index_pattern(
    peaks: ArrayLike | Any,
    wavelength: float | str,
    *,
    sigma: ArrayLike | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    tolerance: float = 0.04,
    max_zero_shift: float = 0.06,
    n_search: int = 20,
    max_unindexed: int = 2,
    max_length: float | None = None,
    max_volume: float | None = None,
    min_merit: float = 20.0,
    exhaustive: bool = False,
    max_solutions: int = 10,
    max_seconds: float | None = None,
) -> list[IndexingSolution]:
    """Find unit cells that index a list of powder peak positions.

    Parameters
    ----------
    peaks
        Peak positions, 2θ in degrees (any order), or an object with ``two_theta`` (and
        optionally ``sigma``) such as :class:`~pymatgen_crystalnet.indexing.peaks.PeakList`.
        Use 20–30 well-measured lines from the low-angle end of the pattern.
    wavelength
        Wavelength (Å or a name such as ``"CuKa1"``) at which the positions were measured.
    sigma
        Standard uncertainties of the positions (degrees). A line's tolerance is then
        ``max(tolerance, 3σ)`` and the refinement weights are ``1/σ²``.
    systems
        Lattice systems to search, from ``cubic``, ``tetragonal``, ``hexagonal`` (also
        finds rhombohedral lattices, in hexagonal axes), ``orthorhombic``, ``monoclinic``.
    tolerance
        Largest 2θ discrepancy (degrees) of an indexed line after the zero correction.
    max_zero_shift
        Largest zero shift (degrees) the search allows for.
    n_search
        Lines used by the search (the first ones); all lines are used in refinement and merits.
    max_unindexed
        Most lines among the first ``n_search`` a cell may leave unexplained (impurities).
        The search asks for none first, then relaxes one line at a time (see the
        module docstring for the order of stages).
    max_length, max_volume
        Longest cell edge (Å) and largest volume (Å³) searched; defaults depend on the
        system and on the data (see ``docs/indexing.md``).
    min_merit
        ``M20`` at which a cell ends the search (less symmetric systems are then not
        searched). Cells of lower merit are still returned when nothing better is found.
    exhaustive
        Search every system and relaxation level regardless of earlier successes.
    max_solutions
        Length of the returned list.
    max_seconds
        Wall-clock limit of the search; when reached, the best cells found so far are
        returned (a warning is logged: the search was not exhaustive).

    Returns
    -------
    list of IndexingSolution
        Best first; empty when nothing indexes the lines.

    Raises
    ------
    ValueError
        On fewer than ``MIN_LINES`` distinct positions, positions outside (0°, 180°), an
        unknown system or a bad wavelength or tolerance.
    """
    tt, sig_attr = _two_theta_of(peaks)
    lam = resolve_wavelength(getattr(peaks, "wavelength", None) or wavelength)
    if sigma is None:
        sigma = sig_attr
    tt = tt.ravel()
    if not np.all(np.isfinite(tt)) or np.any((tt <= 0) | (tt >= 180)):
        raise ValueError("Peak positions must be finite 2θ values in degrees within (0, 180).")
    order = np.argsort(tt)
    tt = tt[order]
    sig = None if sigma is None else np.asarray(sigma, dtype=float).ravel()[order]
    if sig is not None and (sig.size != tt.size or not np.all(np.isfinite(sig)) or np.any(sig <= 0)):
        raise ValueError("sigma must hold one positive, finite uncertainty per peak.")
    keep = np.concatenate([[True], np.diff(tt) > 1e-4])
    tt = tt[keep]
    sig = None if sig is None else sig[keep]
    if tt.size < MIN_LINES:
        raise ValueError(
            f"Indexing needs at least {MIN_LINES} distinct peak positions (20 or more for a "
            f"reliable low-symmetry cell); got {tt.size}."
        )
    if not (tolerance > 0 and max_zero_shift >= 0):
        raise ValueError("tolerance must be positive and max_zero_shift non-negative.")
    unknown = [s for s in systems if s not in FORMS]
    if unknown:
        raise ValueError(f"Unknown lattice system(s) {unknown}; choose from {sorted(FORMS)}.")
    tol = np.full(tt.size, float(tolerance)) if sig is None else np.maximum(tolerance, 3 * sig)
    n_s = min(n_search, tt.size)
    deadline = None if max_seconds is None else time.monotonic() + float(max_seconds)
    found: list[IndexingSolution] = []
    pending: tuple[str, ...] | None = None  # group that succeeded without convincing merit
    for group, k in _stages(systems, max_unindexed):
        if pending is not None and group != pending:
            break
        best = 0.0
        for system in group:
            if tt.size < _MIN_LINES_SYSTEM[system]:
                logger.info("Too few lines (%d) for a %s search; skipped.", tt.size, system)
                continue
            sols = _search_system(
                FORMS[system],
                tt,
                lam,
                tol,
                n_s,
                max_zero_shift,
                k,
                max_length,
                max_volume,
                sig,
                min_merit,
                deadline,
            )
            found.extend(s for s in sols if s.n_unindexed <= max_unindexed + 2)
            best = max([best] + [s.m20 for s in sols if s.n_unindexed <= k])
        if deadline is not None and time.monotonic() > deadline:
            break
        if exhaustive or best < min_merit:
            continue
        # a modest merit may be a supercell that indexes impurity lines: look one level further
        if pending is None and best < 2.5 * min_merit:
            pending = group
            continue
        break
    return _rank(found, max_solutions)

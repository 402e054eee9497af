"""One lattice system's dichotomy search, by volume shells, with refinement of what it finds.

The volume range of a system (up to a multiple of the volume ``V_est`` at which the number
of calculated lines equals the number observed) is cut into shells of 2, 4, 8, 16 ×
``V_est``; each shell has its own resumable
:class:`~pymatgen_crystalnet.indexing.dichotomy.DichotomySearch`, and the shells are searched
smallest first until one yields a convincing cell. The final boxes of a shell are thinned to
representatives (:mod:`~pymatgen_crystalnet.indexing.regions`), refined by least squares with
the zero shift (:mod:`~pymatgen_crystalnet.indexing.refine`) and scored.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.cells import make_solution
from pymatgen_crystalnet.indexing.dichotomy import DichotomySearch, SearchDomain
from pymatgen_crystalnet.indexing.evaluate import evaluate_cell
from pymatgen_crystalnet.indexing.forms import LatticeForm, reciprocal_metric
from pymatgen_crystalnet.indexing.refine import Refinement, refine_form, tt_to_q
from pymatgen_crystalnet.indexing.regions import representatives
from pymatgen_crystalnet.indexing.solution import IndexingSolution

__all__ = ["LAUE", "MAX_LENGTH", "VOLUME_FACTOR", "search_system"]

logger = logging.getLogger(__name__)

#: Default longest cell edge searched (Å).
MAX_LENGTH = {
    "cubic": 40.0,
    "tetragonal": 50.0,
    "hexagonal": 60.0,
    "orthorhombic": 30.0,
    "monoclinic": 30.0,
    "triclinic": 30.0,
}
#: Laue-group order and the largest centring multiplicity of each system (volume bound).
LAUE = {
    "cubic": (48, 4),
    "tetragonal": (16, 2),
    "hexagonal": (24, 3),
    "orthorhombic": (8, 4),
    "monoclinic": (4, 2),
    "triclinic": (2, 1),
}
#: Default largest volume searched, in units of the volume estimated from the line count.
VOLUME_FACTOR = {
    "cubic": 10.0,
    "tetragonal": 5.0,
    "hexagonal": 6.0,
    "orthorhombic": 4.0,
    "monoclinic": 4.0,
    "triclinic": 4.0,
}
#: Regions refined per shell and call.
_MAX_REPRESENTATIVES = 30
#: Boxes one dichotomy call may examine (about 5–10 µs each); beyond it the search of that
#: volume shell is not exhaustive (logged).
_MAX_BOXES = {
    "cubic": 200_000,
    "tetragonal": 300_000,
    "hexagonal": 300_000,
    "orthorhombic": 600_000,
    "monoclinic": 1_000_000,
}
#: Final-box precision of the dichotomy, in half-windows (refinement takes it from there).
_PRECISION = 1.0


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


def _with_centring(
    form: LatticeForm,
    ref: Refinement,
    sol: IndexingSolution,
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
    max_zero_shift: float,
    sigma: NDArray[np.float64] | None,
) -> IndexingSolution:
    """The solution refined again with only the reflections its centring allows, if better.

    The first refinement assigns lines among all reflections of the primitive form; for a
    centred cell some of those are absent, and a line drawn to one of them spoils the fit.
    """
    gstar = reciprocal_metric(form.system, ref.params)
    centring = evaluate_cell(gstar, ref.zero, tt, wavelength, tol, form.centrings).centring
    if centring in ("P", "R", "Rrev"):
        return sol
    again = refine_form(
        form, ref.params, tt, wavelength, tol, max_zero_shift=max_zero_shift, sigma=sigma, centring=centring
    )
    if again is None:
        return sol
    better = make_solution(form, again.params, again.zero, again.covariance, tt, wavelength, tol)
    return better if better.score >= sol.score else sol


def search_system(
    form: LatticeForm,
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
    n_search: int,
    max_zero_shift: float,
    max_unindexed: int,
    max_unindexed_total: int,
    max_length: float | None,
    max_volume: float | None,
    sigma: NDArray[np.float64] | None,
    min_merit: float,
    deadline: float | None,
    searches: dict[tuple[str, int], DichotomySearch],
) -> list[IndexingSolution]:
    """Search (or resume the searches of) one system's volume shells at one relaxation level.

    ``searches`` holds the dichotomy of each (system, shell) across calls, so a call with a
    larger ``max_unindexed`` resumes from the boxes the earlier calls set aside.
    """
    ts = tt[:n_search]
    hw = tol[:n_search] + max_zero_shift
    win_lo = tt_to_q(np.maximum(ts - hw, 1e-3), wavelength)
    win_hi = tt_to_q(np.minimum(ts + hw, 179.9), wavelength)
    win_lo = np.minimum.accumulate(win_lo[::-1])[::-1]
    win_hi = np.maximum.accumulate(win_hi)
    laue, _ = LAUE[form.system]
    v_est = ts.size * laue / (4.0 * np.pi / 3.0 * win_hi[-1] ** 1.5)
    v_max = max_volume if max_volume is not None else VOLUME_FACTOR[form.system] * v_est
    shells = [v for v in (2 * v_est, 4 * v_est, 8 * v_est, 16 * v_est) if v < v_max] + [v_max]
    length = max_length if max_length is not None else MAX_LENGTH[form.system]
    out: list[IndexingSolution] = []
    v_lo = 0.0
    for i_shell, v_hi in enumerate(shells):
        key = (form.system, i_shell)
        if key not in searches:
            domain = _domain(form, float(win_hi[0]), float(win_hi[-1]), length, v_lo, v_hi)
            searches[key] = DichotomySearch(
                form, domain, win_lo, win_hi, max_unindexed_total=max_unindexed_total, precision=_PRECISION
            )
        v_lo = v_hi
        if deadline is not None and time.monotonic() > deadline:
            break
        # the relaxed levels (lines left unexplained) get half the budget: they rarely find
        # what the strict level missed, and their boxes multiply
        budget = _MAX_BOXES[form.system] // (2 if max_unindexed else 1)
        lo, hi, _ = searches[key].run(max_unindexed, deadline, budget)
        if lo.shape[0] == 0:
            continue
        search = searches[key]
        reps = representatives(
            form,
            lo,
            hi,
            search.features,
            search.win_lo,
            search.win_hi,
            float(tt_to_q(ts[-1:], wavelength)[0]),
            max_unindexed,
            _MAX_REPRESENTATIVES,
        )
        logger.debug("%s, V ≤ %.0f: %d final boxes, %d refined", form.system, v_hi, lo.shape[0], len(reps))
        seen = np.empty((0, form.n_params))
        for p0 in reps:
            ref = refine_form(form, p0, tt, wavelength, tol, max_zero_shift=max_zero_shift, sigma=sigma)
            if ref is None:
                continue
            if np.any(np.all(np.abs(seen - ref.params) <= 1e-5 * np.abs(ref.params) + 1e-9, axis=1)):
                continue
            seen = np.vstack([seen, ref.params])
            sol = make_solution(form, ref.params, ref.zero, ref.covariance, tt, wavelength, tol)
            out.append(_with_centring(form, ref, sol, tt, wavelength, tol, max_zero_shift, sigma))
        if any(s.m20 >= min_merit and s.n_unindexed <= max_unindexed for s in out):
            break
    return out

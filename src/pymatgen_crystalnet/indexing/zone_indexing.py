"""Indexing by zones (Ito's method): the search for monoclinic and triclinic cells.

Steps (see ``docs/indexing.md``):

1. The zero shift is not known yet, so the search runs on a few *zero slices*: the lines
   are corrected by ``z`` = the centres of slices 0.03° wide covering
   ``± max_zero_shift``, and the windows are the tolerance plus half a slice.
2. In each slice, zones are proposed by Ito's relation and ranked
   (:func:`~pymatgen_crystalnet.indexing.zones.find_zones`); each zone and its index-2 and
   index-4 superzones is completed to a lattice with one more observed row
   (:func:`~pymatgen_crystalnet.indexing.zone_search.metrics_from_zones`), and the trial
   metrics are ranked by the lines they index beyond chance.
3. The best trial metrics of all slices are fitted together with a zero shift and scored
   (:func:`~pymatgen_crystalnet.indexing.metric_fit.fit_metrics`).
4. The best distinct cells are refined as triclinic cells against all lines; the Bravais
   lattices of higher symmetry each is close to
   (:func:`~pymatgen_crystalnet.indexing.metric_symmetry.higher_symmetry_settings`) are
   refined with their own quadratic forms. All of them are returned; the caller ranks them
   (a triclinic description loses to a more symmetric one of the same lattice of nearly
   the same merit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.indexing.cells import make_solution
from pymatgen_crystalnet.indexing.forms import FORMS, form_parameters
from pymatgen_crystalnet.indexing.metric_fit import fit_metrics
from pymatgen_crystalnet.indexing.metric_symmetry import higher_symmetry_settings
from pymatgen_crystalnet.indexing.refine import dq_dtt, refine_form, tt_to_q
from pymatgen_crystalnet.indexing.solution import IndexingSolution
from pymatgen_crystalnet.indexing.zone_search import metrics_from_zones, score_metrics
from pymatgen_crystalnet.indexing.zones import find_zones, superzones, suppress_duplicates

__all__ = ["SLICE_WIDTH", "zone_search"]

logger = logging.getLogger(__name__)

#: Width (degrees) of the zero-shift slices.
SLICE_WIDTH = 0.03
#: Zones taken per slice, trial metrics kept per slice, cells refined.
_N_ZONES = 20
_N_TRIAL = 150
_N_CELLS = 12


def _slices(max_zero_shift: float) -> NDArray[np.float64]:
    n = max(1, int(np.ceil(2 * max_zero_shift / SLICE_WIDTH - 1e-9)))
    return (np.arange(n) - (n - 1) / 2) * SLICE_WIDTH


def _distinct_cells(gstar: NDArray[np.float64], limit: int) -> list[int]:
    """Indices of the first ``limit`` metrics that describe different lattices."""
    kept: list[int] = []
    reduced: list[Lattice] = []
    for i in range(gstar.shape[0]):
        try:
            lat = Lattice(np.linalg.cholesky(np.linalg.inv(gstar[i]))).get_niggli_reduced_lattice()
        except (np.linalg.LinAlgError, ValueError):
            continue
        if any(
            abs(lat.volume - r.volume) <= 1e-2 * r.volume
            and lat.find_mapping(r, ltol=5e-3, atol=0.5) is not None
            for r in reduced
        ):
            continue
        kept.append(i)
        reduced.append(lat)
        if len(kept) >= limit:
            break
    return kept


def zone_search(
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
    *,
    max_zero_shift: float,
    n_search: int,
    v_max: float,
    min_q: float,
    systems: Sequence[str],
    sigma: NDArray[np.float64] | None = None,
    deadline: float | None = None,
) -> list[IndexingSolution]:
    """Cells of any symmetry from zones, refined in every lattice system they are close to.

    Parameters
    ----------
    tt, tol, sigma
        All observed lines (2θ, sorted), their tolerances and uncertainties (degrees).
    wavelength
        Wavelength (Å).
    max_zero_shift
        Largest zero shift (degrees) allowed for.
    n_search
        Lines used by the search (the first ones); refinement uses all.
    v_max
        Largest primitive-cell volume (Å³) searched.
    min_q
        Smallest ``Q`` (Å⁻²) of a zone's basis row (``1 / longest edge²``).
    systems
        Systems reported: ``triclinic`` cells only if listed, and the higher-symmetry
        refinements of the systems listed.
    """
    ts, tols = tt[:n_search], tol[:n_search]
    slope = dq_dtt(ts, wavelength)
    det_min = 1.0 / v_max**2
    pool = []
    for z in _slices(max_zero_shift):
        if deadline is not None and time.monotonic() > deadline:
            break
        q = tt_to_q(ts - z, wavelength)
        dq = (tols + 0.5 * SLICE_WIDTH) * slope
        zones = find_zones(q, dq, max_zones=_N_ZONES, min_q=min_q)
        if len(zones) == 0:
            continue
        a, b, f, _ = superzones(zones.q1, zones.q2, zones.phi)
        keep = suppress_duplicates(a, b, f, 2e-3)
        g = metrics_from_zones(a[keep], b[keep], f[keep], q, dq, det_min=det_min)
        if g.shape[0] == 0:
            continue
        _, _, quick = score_metrics(g, q, dq)
        pool.append(g[np.argsort(-quick, kind="stable")[:_N_TRIAL]])
    if not pool:
        return []
    g = np.concatenate(pool)
    fit = fit_metrics(g, ts, wavelength, tols, max_zero_shift, det_min=det_min)
    order = np.argsort(-fit.score, kind="stable")
    order = order[fit.valid[order] & (fit.score[order] > 0)]
    best = order[_distinct_cells(fit.gstar[order], _N_CELLS)]
    logger.debug("Zone search: %d trial cells, best merits %s", g.shape[0], np.round(fit.score[best][:5], 1))
    out: list[IndexingSolution] = []
    tric = FORMS["triclinic"]
    for i in best:
        if deadline is not None and time.monotonic() > deadline:
            break
        ref = refine_form(
            tric,
            form_parameters("triclinic", fit.gstar[i]),
            tt,
            wavelength,
            tol,
            max_zero_shift=max_zero_shift,
            sigma=sigma,
        )
        if ref is None:
            continue
        sol = make_solution(tric, ref.params, ref.zero, ref.covariance, tt, wavelength, tol)
        if "triclinic" in systems:
            out.append(sol)
        for system, p0, centring in higher_symmetry_settings(sol.lattice):
            if system not in systems:
                continue
            ref_s = refine_form(
                FORMS[system],
                p0,
                tt,
                wavelength,
                tol,
                max_zero_shift=max_zero_shift,
                sigma=sigma,
                centring=centring,
            )
            if ref_s is not None:
                out.append(
                    make_solution(
                        FORMS[system], ref_s.params, ref_s.zero, ref_s.covariance, tt, wavelength, tol
                    )
                )
    return out

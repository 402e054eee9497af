"""From refined form parameters to an :class:`IndexingSolution` in the conventional setting."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.indexing.evaluate import (
    conventional_transform,
    evaluate_cell,
    lattice_parameters,
    transform_gstar,
)
from pymatgen_crystalnet.indexing.forms import LatticeForm, reciprocal_metric
from pymatgen_crystalnet.indexing.solution import IndexingSolution

__all__ = ["make_solution"]


def _jacobian(fun: Any, p: NDArray[np.float64]) -> NDArray[np.float64]:
    cols = []
    for j in range(p.size):
        h = 1e-6 * max(abs(p[j]), 1e-4)
        dp = np.zeros_like(p)
        dp[j] = h
        cols.append((fun(p + dp) - fun(p - dp)) / (2 * h))
    return np.stack(cols, axis=1)


def make_solution(
    form: LatticeForm,
    params: NDArray[np.float64],
    zero: float,
    cov: NDArray[np.float64],
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
) -> IndexingSolution:
    """An :class:`IndexingSolution` from refined parameters of ``form`` and their covariance.

    The cell is indexed and its centring guessed (:func:`evaluate_cell`), put into its
    conventional setting (:func:`conventional_transform`), indexed again in that setting,
    and the covariance of ``(p, zero)`` is propagated to ``(a, b, c, α, β, γ)`` through a
    numerical Jacobian.
    """
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

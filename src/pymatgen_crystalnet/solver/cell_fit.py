"""How well a given cell indexes a pattern: centring, zero shift and figures of merit.

A user's lattice is not refined (it is the user's statement); it is scored against the
pattern's lines with the indexer's own figures of merit
(:func:`pymatgen_crystalnet.indexing.evaluate.evaluate_cell`: de Wolff M20 and Smith–Snyder
F_N) after the best zero shift within ±``MAX_ZERO_SHIFT``° is found by a scan. The centring
is the most restrictive one under which every indexed line keeps an allowed reflection,
among those the cell's metric allows (:data:`CENTRINGS_OF_SYSTEM`: P, I, F for a cubic cell,
P, I tetragonal, P, R (obverse or reverse) hexagonal, P, C, A, B, I, F orthorhombic, P, C, A,
I monoclinic, P otherwise), so an accidental absence pattern cannot turn the lattice into
another one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.solver.inputs import PreparedPattern

__all__ = ["CENTRINGS_OF_SYSTEM", "MAX_LINES", "MAX_ZERO_SHIFT", "fit_given_cell", "metric_system"]

#: Zero shift (degrees 2θ) scanned for a given cell.
MAX_ZERO_SHIFT: float = 0.1
#: Lines (lowest angles first) used to judge a given cell.
MAX_LINES: int = 30


CENTRINGS_OF_SYSTEM: dict[str, tuple[str, ...]] = {
    "cubic": ("P", "I", "F"),
    "tetragonal": ("P", "I"),
    "hexagonal": ("P", "R", "Rrev"),
    "trigonal": ("P",),
    "orthorhombic": ("P", "C", "A", "B", "I", "F"),
    "monoclinic": ("P", "C", "A", "I"),
    "triclinic": ("P",),
}


def metric_system(lattice: Lattice) -> str:
    """Lattice system of the metric of ``lattice`` as given (one lattice point per cell)."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    dummy = Structure(lattice, ["H"], [[0.0, 0.0, 0.0]])
    return str(SpacegroupAnalyzer(dummy, symprec=1e-3 * min(lattice.abc)).get_crystal_system())


def fit_given_cell(lattice: Lattice, prepared: PreparedPattern) -> dict[str, Any]:
    """Score ``lattice`` against the lines of ``prepared``.

    Returns
    -------
    dict
        ``centring`` and ``merit`` (``m20``, ``f_n``, ``f_n_mean_dtt``, ``f_n_poss``,
        ``n_lines``, ``n_indexed``, ``n_indexed_first20``, ``unindexed_two_theta``,
        ``zero_shift``, ``tolerance``).
    """
    from pymatgen_crystalnet.indexing.evaluate import evaluate_cell

    tt = np.sort(prepared.two_theta[np.isfinite(prepared.two_theta)])[:MAX_LINES]
    tol = np.full(tt.size, prepared.position_tolerance)
    gstar = np.asarray(lattice.reciprocal_lattice_crystallographic.metric_tensor, dtype=float)
    centrings = CENTRINGS_OF_SYSTEM[metric_system(lattice)]
    best = None
    for zero in np.arange(-MAX_ZERO_SHIFT, MAX_ZERO_SHIFT + 1e-9, 0.005):
        ev = evaluate_cell(gstar, float(zero), tt, prepared.wavelength, tol, centrings)
        key = (int(ev.indexed.sum()), ev.score)
        if best is None or key > best[0]:
            best = (key, float(zero), ev)
    assert best is not None
    _, zero, ev = best
    n20 = min(20, tt.size)
    merit = {
        "m20": float(ev.m20),
        "f_n": float(ev.f_n),
        "f_n_mean_dtt": float(ev.f_n_mean_dtt),
        "f_n_poss": int(ev.f_n_poss),
        "n_lines": int(tt.size),
        "n_indexed": int(ev.indexed.sum()),
        "n_indexed_first20": int(ev.indexed[:n20].sum()),
        "n_first20": int(n20),
        "unindexed_two_theta": [round(float(v), 4) for v in tt[~ev.indexed]],
        "zero_shift": zero,
        "tolerance": float(prepared.position_tolerance),
        "input_kind": prepared.kind,
    }
    return {"centring": ev.centring, "merit": merit}

"""Judging a cell: hkl assignment, centring from absences, figures of merit, conventional setting.

Everything here works on a reciprocal metric tensor ``G*`` in any basis, so the same code
scores cells of every lattice system.

Figures of merit (first ``N`` observed lines, zero-corrected):

- de Wolff ``M20 = Q20 / (2 ε̄ N20)``: ``Q20`` is ``1/d²`` of the 20th line, ``ε̄`` the mean
  ``|Q_obs − Q_calc|`` of the indexed lines among the first 20, ``N20`` the number of distinct
  calculated ``Q`` (allowed by the centring) up to ``Q20`` (or up to the reflection indexing
  the 20th line, if that lies a little higher).
- Smith–Snyder ``F_N = (1 / |Δ2θ|‾) · N / N_poss`` over all ``N`` lines: ``|Δ2θ|‾`` the mean
  absolute 2θ discrepancy of the indexed lines, ``N_poss`` the distinct calculated lines up
  to the N-th observed line.

The *ranking* merit is ``M20`` with every unindexed line among the first 20 counted with a
discrepancy of twice its tolerance, so a cell that leaves lines unexplained loses to one that
explains them unless it is much simpler.

The centring is the most restrictive one (fewest calculated lines) under which every indexed
line still has an allowed reflection within its tolerance.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.refine import dq_dtt, q_to_tt, tt_to_q

__all__ = [
    "CENTRING_VECTORS",
    "CellEvaluation",
    "centring_mask",
    "conventional_transform",
    "enumerate_reflections",
    "evaluate_cell",
    "lattice_parameters",
]

#: Centring vectors in fractional coordinates of the conventional cell.
CENTRING_VECTORS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "P": (),
    "C": ((0.5, 0.5, 0.0),),
    "A": ((0.0, 0.5, 0.5),),
    "B": ((0.5, 0.0, 0.5),),
    "I": ((0.5, 0.5, 0.5),),
    "F": ((0.0, 0.5, 0.5), (0.5, 0.0, 0.5), (0.5, 0.5, 0.0)),
    "R": ((2 / 3, 1 / 3, 1 / 3), (1 / 3, 2 / 3, 2 / 3)),
    "Rrev": ((1 / 3, 2 / 3, 1 / 3), (2 / 3, 1 / 3, 2 / 3)),
}


def centring_mask(hkl: NDArray[np.int64], centring: str) -> NDArray[np.bool_]:
    """Reflections allowed by a lattice centring (``exp(2πi h·t) = 1`` for every vector t)."""
    ok = np.ones(hkl.shape[0], dtype=bool)
    for t in CENTRING_VECTORS[centring]:
        phase = hkl @ np.asarray(t)
        ok &= np.abs(phase - np.round(phase)) < 1e-6
    return ok


def enumerate_reflections(
    gstar: NDArray[np.float64], q_max: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """All ``hkl`` (one of each Friedel pair) with ``0 < Q ≤ q_max``, sorted by Q."""
    lengths = np.sqrt(np.diag(np.linalg.inv(gstar)))
    n = [int(np.sqrt(q_max) * x) + 1 for x in lengths]
    grids = [np.arange(-m, m + 1) for m in n]
    hkl = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, 3)
    first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    hkl = hkl[first > 0]
    q = np.einsum("ij,jk,ik->i", hkl, gstar, hkl)
    keep = q <= q_max
    hkl, q = hkl[keep], q[keep]
    order = np.argsort(q, kind="stable")
    return hkl[order], q[order]


def lattice_parameters(gstar: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(a, b, c, α, β, γ)`` (Å, degrees) of a reciprocal metric tensor."""
    g = np.linalg.inv(gstar)
    abc = np.sqrt(np.diag(g))
    cos = [g[1, 2] / (abc[1] * abc[2]), g[0, 2] / (abc[0] * abc[2]), g[0, 1] / (abc[0] * abc[1])]
    return np.concatenate([abc, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))])


def _distinct(q: NDArray[np.float64], scale: float) -> int:
    return int(np.unique(np.round(q / scale, 7)).size)


@dataclass(frozen=True)
class CellEvaluation:
    """Assignment and merit of one cell against the observed lines (see module docstring)."""

    centring: str
    hkl: NDArray[np.int64]
    tt_calc: NDArray[np.float64]
    indexed: NDArray[np.bool_]
    m20: float
    n20_calc: int
    f_n: float
    f_n_mean_dtt: float
    f_n_poss: int
    score: float


def evaluate_cell(
    gstar: NDArray[np.float64],
    zero: float,
    two_theta: NDArray[np.float64],
    wavelength: float,
    tolerance: NDArray[np.float64],
    centrings: tuple[str, ...],
    *,
    n_m20: int = 20,
) -> CellEvaluation:
    """Index the lines with a cell, guess its centring and compute the figures of merit."""
    tt = np.asarray(two_theta, dtype=np.float64) - zero
    n = tt.size
    q_obs = tt_to_q(tt, wavelength)
    q_max = float(tt_to_q(np.array([min(tt[-1] + 2 * float(tolerance.max()) + 0.5, 179.9)]), wavelength)[0])
    hkl, q = enumerate_reflections(gstar, q_max)
    tt_calc = q_to_tt(q, wavelength)
    diff = np.abs(tt[:, None] - tt_calc[None, :])
    within = diff <= tolerance[:, None]
    indexed_p = within.any(axis=1)
    best, best_count = "P", None
    for centring in centrings:
        mask = centring_mask(hkl, centring)
        if not np.all(within[indexed_p][:, mask].any(axis=1)):
            continue
        count = _distinct(q[mask & (q <= q_obs[-1])], q_obs[-1])
        if best_count is None or count < best_count:
            best, best_count = centring, count
    mask = centring_mask(hkl, best)
    hkl_a, q_a, tt_a = hkl[mask], q[mask], tt_calc[mask]
    nearest = np.argmin(np.abs(tt[:, None] - tt_a[None, :]), axis=1)
    dtt = tt - tt_a[nearest]
    indexed = np.abs(dtt) <= tolerance
    eps = np.abs(q_obs - q_a[nearest])
    n20 = min(n_m20, n)
    q20 = q_obs[n20 - 1]
    # count calculated lines up to the 20th line, including the reflection it is indexed by
    q20_count = max(q20, q_a[nearest[n20 - 1]]) if indexed[n20 - 1] else q20
    n20_calc = max(1, _distinct(q_a[q_a <= q20_count * (1 + 1e-9)], q20))
    first = indexed[:n20]
    m20 = float(q20 / (2 * eps[:n20][first].mean() * n20_calc)) if first.any() else 0.0
    pen = np.where(first, eps[:n20], 2 * tolerance[:n20] * dq_dtt(tt[:n20], wavelength))
    # floor: discrepancies below 0.002° of 2θ are not meaningful (and exact data would divide by 0)
    floor = 0.002 * float(dq_dtt(np.array([tt[n20 - 1]]), wavelength)[0])
    score = float(q20 / (2 * max(pen.mean(), floor) * n20_calc))
    if indexed.any():
        mean_dtt = float(np.abs(dtt[indexed]).mean())
        tt_last = max(tt[-1], tt_a[nearest[-1]]) if indexed[-1] else tt[-1]
        n_poss = max(1, _distinct(q_a[tt_a <= tt_last + 1e-9], q_obs[-1]))
        f_n = float(n / (n_poss * max(mean_dtt, 1e-6)))
    else:
        mean_dtt, n_poss, f_n = float("inf"), 0, 0.0
    return CellEvaluation(
        centring=best,
        hkl=hkl_a[nearest],
        tt_calc=tt_a[nearest] + zero,
        indexed=indexed,
        m20=m20,
        n20_calc=n20_calc,
        f_n=f_n,
        f_n_mean_dtt=mean_dtt,
        f_n_poss=n_poss,
        score=score,
    )


def _frac_mod(t: NDArray[np.float64]) -> NDArray[np.float64]:
    f = np.mod(t, 1.0)
    return np.where(np.abs(f - 1.0) < 1e-6, 0.0, f)


def _monoclinic_transform(gstar: NDArray[np.float64], centring: str) -> tuple[NDArray[np.int64], str]:
    """Basis change within the ac-net: C (or P) centring, β ≥ 90° as close to 90° as possible."""
    g = np.linalg.inv(gstar)
    vectors = np.asarray(CENTRING_VECTORS[centring]) if centring != "P" else np.empty((0, 3))
    target = "P" if centring == "P" else "C"
    best: tuple[float, float] | None = None
    best_m = np.eye(3, dtype=np.int64)
    for p, q, r, t in itertools.product(range(-2, 3), repeat=4):
        for s in (1, -1):
            m = np.array([[p, 0, q], [0, s, 0], [r, 0, t]], dtype=np.int64)
            if round(np.linalg.det(m)) != 1:
                continue
            if vectors.size:
                new = _frac_mod(vectors @ np.linalg.inv(m))
                if not np.allclose(new, [[0.5, 0.5, 0.0]], atol=1e-6):
                    continue
            gn = m @ g @ m.T
            cos_b = gn[0, 2] / np.sqrt(gn[0, 0] * gn[2, 2])
            if cos_b > 1e-9:
                continue
            key = (round(abs(cos_b), 9), float(gn[0, 0] + gn[2, 2]))
            if best is None or key < best:
                best, best_m = key, m
    if best is None:
        return np.eye(3, dtype=np.int64), centring
    return best_m, target


def _triclinic_transform(gstar: NDArray[np.float64]) -> NDArray[np.int64]:
    """Basis change to the Niggli-reduced cell (right-handed)."""
    from pymatgen.core import Lattice

    g = np.linalg.inv(gstar)
    lattice = Lattice(np.linalg.cholesky(g))
    niggli = lattice.get_niggli_reduced_lattice()
    m = np.rint(niggli.matrix @ np.linalg.inv(lattice.matrix)).astype(np.int64)
    det = round(np.linalg.det(m))
    if abs(det) != 1:
        return np.eye(3, dtype=np.int64)
    return m if det > 0 else -m


def conventional_transform(
    system: str, gstar: NDArray[np.float64], centring: str
) -> tuple[NDArray[np.int64], str]:
    """Integer matrix ``M`` (new direct basis = ``M`` · old) to the conventional setting.

    Orthorhombic A/B centring is permuted to C; reverse rhombohedral is turned obverse;
    monoclinic cells get b unique, C (or P) centring and β ≥ 90° closest to 90°; triclinic
    cells are Niggli-reduced.

    Returns the matrix and the centring letter in the new setting.
    """
    eye = np.eye(3, dtype=np.int64)
    if system == "orthorhombic" and centring == "A":
        return np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]]), "C"
    if system == "orthorhombic" and centring == "B":
        return np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]]), "C"
    if system == "hexagonal" and centring == "Rrev":
        return np.diag([-1, -1, 1]), "R"
    if system == "monoclinic":
        return _monoclinic_transform(gstar, centring)
    if system == "triclinic":
        return _triclinic_transform(gstar), centring
    return eye, centring


def transform_gstar(gstar: NDArray[np.float64], m: NDArray[np.int64]) -> NDArray[np.float64]:
    """``G*`` in the basis ``M`` · old (``G*' = M⁻ᵀ G* M⁻¹``)."""
    mi = np.linalg.inv(m.astype(np.float64))
    return mi.T @ gstar @ mi

"""Quadratic forms of the lattice systems: ``Q(hkl) = 1/d² = Σ_j p_j f_j(hkl)``.

Every lattice system searched by the indexer writes the squared reciprocal-lattice vector as a
linear form in a few parameters ``p`` (elements of the reciprocal metric tensor ``G*``) times
integer features ``f(hkl)``:

============  ==========================  ==========================================
system        parameters ``p``            features ``f(hkl)``
============  ==========================  ==========================================
cubic         ``A = a*²``                 ``h² + k² + l²``
tetragonal    ``A = a*², C = c*²``        ``h² + k², l²``
hexagonal     ``A = a*², C = c*²``        ``h² + hk + k², l²``
orthorhombic  ``A, B, C``                 ``h², k², l²``
monoclinic    ``A, B, C, D = 2a*c*cosβ*``  ``h², k², l², hl`` (b unique)
triclinic     ``A, B, C, D, E, F``        ``h², k², l², kl, hl, hk``
============  ==========================  ==========================================

Because ``Q`` is linear in ``p``, the range of ``Q(hkl)`` over a box of parameters is exact:
each term takes its extreme at one end of its interval. That is what makes the dichotomy
search (:mod:`pymatgen_crystalnet.indexing.dichotomy`) rigorous.

Search domains remove the trivial equivalences: orthorhombic cells are searched with
``A ≥ B ≥ C`` (a ≤ b ≤ c); monoclinic cells with a reduced reciprocal ac-net,
``0 ≤ D ≤ A ≤ C`` (any 2-D lattice has a basis with ``|2 a*·c*| ≤ a*² ≤ c*²``; the sign of D
is fixed by the choice of ±c*, which makes β ≥ 90°). The triclinic form is only refined
(its cells come from zones, :mod:`pymatgen_crystalnet.indexing.zone_search`), never
searched by dichotomy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FORMS",
    "LatticeForm",
    "centring_allows",
    "feature_table",
    "form_parameters",
    "reciprocal_metric",
]


@dataclass(frozen=True)
class LatticeForm:
    """One lattice system's quadratic form.

    Attributes
    ----------
    system
        Lattice-system name (``"cubic"``, ``"tetragonal"``, ``"hexagonal"``,
        ``"orthorhombic"``, ``"monoclinic"``).
    n_params
        Number of parameters ``p``.
    names
        Parameter names, for logs.
    signed
        Which features can be negative (only ``hl`` of the monoclinic form).
    centrings
        Lattice centrings the system admits in its conventional setting, most restrictive
        last is irrelevant; evaluated by :mod:`pymatgen_crystalnet.indexing.evaluate`.
    """

    system: str
    n_params: int
    names: tuple[str, ...]
    signed: tuple[bool, ...]
    centrings: tuple[str, ...]

    def features(self, hkl: NDArray[np.int64]) -> NDArray[np.float64]:
        """Feature vectors ``f(hkl)``, shape ``(n, n_params)``."""
        h, k, l = (hkl[:, i].astype(np.float64) for i in range(3))  # noqa: E741
        if self.system == "cubic":
            return (h * h + k * k + l * l)[:, None]
        if self.system == "tetragonal":
            return np.stack([h * h + k * k, l * l], axis=1)
        if self.system == "hexagonal":
            return np.stack([h * h + h * k + k * k, l * l], axis=1)
        if self.system == "orthorhombic":
            return np.stack([h * h, k * k, l * l], axis=1)
        if self.system == "monoclinic":
            return np.stack([h * h, k * k, l * l, h * l], axis=1)
        return np.stack([h * h, k * k, l * l, k * l, h * l, h * k], axis=1)

    def feasible(self, lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether a box ``[lo, hi]`` (shape ``(n, n_params)``) meets the domain's ordering."""
        ok = np.ones(lo.shape[0], dtype=bool)
        if self.system == "orthorhombic":  # A >= B >= C
            ok &= (hi[:, 0] >= lo[:, 1]) & (hi[:, 1] >= lo[:, 2])
        elif self.system == "monoclinic":  # 0 <= D <= A <= C
            ok &= (hi[:, 0] >= lo[:, 3]) & (hi[:, 2] >= lo[:, 0])
        return ok

    def tighten(
        self, lo: NDArray[np.float64], hi: NDArray[np.float64], det_min: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Shrink boxes using the domain ordering and ``det G* ≥ det_min`` (volume ≤ V_max).

        Returns new arrays; a box with some ``lo > hi`` is empty.
        """
        lo, hi = lo.copy(), hi.copy()
        s = self.system
        if s == "cubic":
            lo[:, 0] = np.maximum(lo[:, 0], det_min ** (1 / 3))
        elif s in ("tetragonal", "hexagonal"):
            f = 0.75 if s == "hexagonal" else 1.0
            lo[:, 0] = np.maximum(lo[:, 0], np.sqrt(det_min / (f * hi[:, 1])))
            lo[:, 1] = np.maximum(lo[:, 1], det_min / (f * hi[:, 0] ** 2))
        else:
            if s == "orthorhombic":  # A >= B >= C
                lo[:, 1] = np.maximum(lo[:, 1], lo[:, 2])
                lo[:, 0] = np.maximum(lo[:, 0], lo[:, 1])
                hi[:, 1] = np.minimum(hi[:, 1], hi[:, 0])
                hi[:, 2] = np.minimum(hi[:, 2], hi[:, 1])
            else:  # 0 <= D <= A <= C
                hi[:, 3] = np.minimum(hi[:, 3], hi[:, 0])
                hi[:, 0] = np.minimum(hi[:, 0], hi[:, 2])
                lo[:, 2] = np.maximum(lo[:, 2], lo[:, 0])
            # det G* <= A B C for both forms
            lo[:, 0] = np.maximum(lo[:, 0], det_min / (hi[:, 1] * hi[:, 2]))
            lo[:, 1] = np.maximum(lo[:, 1], det_min / (hi[:, 0] * hi[:, 2]))
            lo[:, 2] = np.maximum(lo[:, 2], det_min / (hi[:, 0] * hi[:, 1]))
        return lo, hi

    def det_bounds(
        self, lo: NDArray[np.float64], hi: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Lower and upper bounds of ``det G*`` (= 1/V²) over boxes."""
        if self.system == "cubic":
            return lo[:, 0] ** 3, hi[:, 0] ** 3
        if self.system == "tetragonal":
            return lo[:, 0] ** 2 * lo[:, 1], hi[:, 0] ** 2 * hi[:, 1]
        if self.system == "hexagonal":
            return 0.75 * lo[:, 0] ** 2 * lo[:, 1], 0.75 * hi[:, 0] ** 2 * hi[:, 1]
        if self.system == "orthorhombic":
            return lo.prod(axis=1), hi.prod(axis=1)
        dmin = lo[:, 1] * (lo[:, 0] * lo[:, 2] - 0.25 * hi[:, 3] ** 2)
        dmax = hi[:, 1] * (hi[:, 0] * hi[:, 2] - 0.25 * lo[:, 3] ** 2)
        return dmin, dmax

    def valid(self, p: NDArray[np.float64]) -> bool:
        """Whether parameters describe a real lattice (positive-definite ``G*``)."""
        g = reciprocal_metric(self.system, p)
        return bool(np.all(np.isfinite(g)) and np.all(np.linalg.eigvalsh(g) > 0))


def reciprocal_metric(system: str, p: NDArray[np.float64]) -> NDArray[np.float64]:
    """The reciprocal metric tensor ``G*`` (Å⁻²) of parameters ``p`` of ``system``."""
    p = np.asarray(p, dtype=np.float64)
    if system == "cubic":
        return np.diag([p[0]] * 3)
    if system == "tetragonal":
        return np.diag([p[0], p[0], p[1]])
    if system == "hexagonal":
        return np.array([[p[0], p[0] / 2, 0.0], [p[0] / 2, p[0], 0.0], [0.0, 0.0, p[1]]])
    if system == "orthorhombic":
        return np.diag(p[:3])
    if system == "monoclinic":
        return np.array([[p[0], 0.0, p[3] / 2], [0.0, p[1], 0.0], [p[3] / 2, 0.0, p[2]]])
    if system == "triclinic":
        return np.array([[p[0], p[5] / 2, p[4] / 2], [p[5] / 2, p[1], p[3] / 2], [p[4] / 2, p[3] / 2, p[2]]])
    raise ValueError(f"Unknown lattice system {system!r}.")


FORMS: dict[str, LatticeForm] = {
    "cubic": LatticeForm("cubic", 1, ("A",), (False,), ("P", "I", "F")),
    "tetragonal": LatticeForm("tetragonal", 2, ("A", "C"), (False, False), ("P", "I")),
    "hexagonal": LatticeForm("hexagonal", 2, ("A", "C"), (False, False), ("P", "R", "Rrev")),
    "orthorhombic": LatticeForm(
        "orthorhombic", 3, ("A", "B", "C"), (False,) * 3, ("P", "C", "A", "B", "I", "F")
    ),
    "monoclinic": LatticeForm(
        "monoclinic", 4, ("A", "B", "C", "D"), (False, False, False, True), ("P", "C", "A", "I")
    ),
    "triclinic": LatticeForm(
        "triclinic", 6, ("A", "B", "C", "D", "E", "F"), (False, False, False, True, True, True), ("P",)
    ),
}


def form_parameters(system: str, gstar: NDArray[np.float64]) -> NDArray[np.float64]:
    """Parameters ``p`` of ``system``'s form for a reciprocal metric in that system's setting.

    The inverse of :func:`reciprocal_metric` (off-diagonal terms a setting fixes to zero, or
    to relations such as ``a* = b*``, are read from the matching entries).
    """
    g = np.asarray(gstar, dtype=np.float64)
    if system == "cubic":
        return np.array([np.trace(g) / 3])
    if system == "tetragonal":
        return np.array([(g[0, 0] + g[1, 1]) / 2, g[2, 2]])
    if system == "hexagonal":
        return np.array([(g[0, 0] + g[1, 1]) / 2, g[2, 2]])
    if system == "orthorhombic":
        return np.diag(g).copy()
    if system == "monoclinic":
        return np.array([g[0, 0], g[1, 1], g[2, 2], 2 * g[0, 2]])
    if system == "triclinic":
        return np.array([g[0, 0], g[1, 1], g[2, 2], 2 * g[1, 2], 2 * g[0, 2], 2 * g[0, 1]])
    raise ValueError(f"Unknown lattice system {system!r}.")


def centring_allows(system: str, feats: NDArray[np.float64], centring: str) -> NDArray[np.bool_]:
    """Which feature vectors the reflection conditions of a centring allow.

    Parities of the indices follow from the features (``h² ≡ h`` mod 2; for the cubic
    ``s = h² + k² + l²``: I needs ``s`` even, F needs ``s ≡ 0 (mod 4)`` or ``s ≡ 3 (mod 8)``).
    Rhombohedral conditions (``−h + k + l = 3n``) cannot be read from the hexagonal features:
    all are allowed.
    """
    f = np.rint(feats).astype(np.int64)
    n = f.shape[0]
    if centring == "P" or system == "hexagonal" or centring.startswith("R"):
        return np.ones(n, dtype=bool)
    if system == "cubic":
        s = f[:, 0]
        return (s % 2 == 0) if centring == "I" else ((s % 4 == 0) | (s % 8 == 3))
    if system == "tetragonal":
        return (f[:, 0] + f[:, 1]) % 2 == 0  # I
    h, k, l = f[:, 0] % 2, f[:, 1] % 2, f[:, 2] % 2  # noqa: E741
    rules = {
        "C": (h + k) % 2 == 0,
        "A": (k + l) % 2 == 0,
        "B": (h + l) % 2 == 0,
        "I": (h + k + l) % 2 == 0,
        "F": (h == k) & (k == l),
    }
    return rules[centring]


@lru_cache(maxsize=128)
def feature_table(form: LatticeForm, hmax: int, kmax: int, lmax: int) -> NDArray[np.float64]:
    """Distinct feature vectors of all ``hkl`` with ``|h| ≤ hmax`` etc. (000 excluded).

    Only distinct vectors matter for the search (equal features give equal ``Q`` for every
    parameter set), which shrinks the table by the Laue multiplicity. Results are cached and
    read-only.
    """
    if form.system in ("cubic", "tetragonal", "orthorhombic"):
        h = np.arange(0, hmax + 1)
        k = np.arange(0, kmax + 1)
    elif form.system in ("hexagonal", "triclinic"):
        h = np.arange(-hmax, hmax + 1)
        k = np.arange(0, kmax + 1) if form.system == "hexagonal" else np.arange(-kmax, kmax + 1)
    else:
        h = np.arange(0, hmax + 1)
        k = np.arange(0, kmax + 1)
    signed_l = form.system in ("monoclinic", "triclinic")
    l = np.arange(-lmax, lmax + 1) if signed_l else np.arange(0, lmax + 1)  # noqa: E741
    hkl = np.stack(np.meshgrid(h, k, l, indexing="ij"), axis=-1).reshape(-1, 3)
    if form.system == "triclinic":  # one of each Friedel pair
        first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
        hkl = hkl[first > 0]
    hkl = hkl[np.any(hkl != 0, axis=1)]
    feats = np.unique(form.features(hkl), axis=0)
    feats.flags.writeable = False  # cached: shared between calls
    return feats

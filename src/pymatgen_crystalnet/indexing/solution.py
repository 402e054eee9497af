"""The result of indexing: one cell with its figures of merit and line assignment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Lattice

__all__ = ["LATTICE_POINTS", "SYMMETRY_RANK", "IndexingSolution"]

#: Higher is more symmetric; used to prefer the more symmetric of equivalent cells.
SYMMETRY_RANK: dict[str, int] = {
    "cubic": 6,
    "hexagonal": 5,
    "trigonal": 5,
    "tetragonal": 4,
    "orthorhombic": 3,
    "monoclinic": 2,
    "triclinic": 1,
}

_LATTICE_LETTER = {
    "cubic": "c",
    "hexagonal": "h",
    "trigonal": "h",
    "tetragonal": "t",
    "orthorhombic": "o",
    "monoclinic": "m",
    "triclinic": "a",
}


#: Rows: primitive basis vectors in fractional coordinates of the conventional cell.
_TO_PRIMITIVE: dict[str, tuple[tuple[float, float, float], ...]] = {
    "P": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "I": ((-0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.5, 0.5, -0.5)),
    "F": ((0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)),
    "C": ((0.5, 0.5, 0), (-0.5, 0.5, 0), (0, 0, 1)),
    "A": ((1, 0, 0), (0, 0.5, 0.5), (0, -0.5, 0.5)),
    "B": ((0.5, 0, 0.5), (0, 1, 0), (-0.5, 0, 0.5)),
    "R": ((2 / 3, 1 / 3, 1 / 3), (-1 / 3, 1 / 3, 1 / 3), (-1 / 3, -2 / 3, 1 / 3)),
}

#: Lattice points per conventional cell of each centring.
LATTICE_POINTS: dict[str, int] = {"P": 1, "I": 2, "F": 4, "C": 2, "A": 2, "B": 2, "R": 3}


@dataclass
class IndexingSolution:
    """One indexed cell.

    Attributes
    ----------
    lattice
        The cell in its conventional setting (pymatgen ``Lattice``; rhombohedral cells in
        hexagonal axes, obverse; monoclinic with b unique and β ≥ 90°).
    crystal_system
        ``cubic``, ``tetragonal``, ``hexagonal`` (a hexagonal P lattice, which trigonal P
        crystals share), ``trigonal`` (rhombohedral R lattice), ``orthorhombic`` or
        ``monoclinic``. This is the lattice's metric symmetry; the crystal's may be lower.
    centring
        ``P``, ``I``, ``F``, ``C`` or ``R``: the most restrictive centring whose reflection
        conditions every indexed line obeys. A guess: glide planes and screw axes, or weak
        lines that were not observed, can mimic centring absences.
    parameters, esds
        Refined ``(a, b, c, α, β, γ)`` (Å, degrees) and their standard uncertainties (from
        the least-squares covariance scaled by the goodness of fit; 0 for parameters fixed
        by symmetry).
    volume
        Cell volume (Å³).
    zero_shift, zero_shift_esd
        Refined zero shift (degrees; ``2θ_obs = 2θ_true + zero``).
    m20
        de Wolff M(20) (over the first 20 lines, or all of them if fewer; see
        :mod:`pymatgen_crystalnet.indexing.evaluate`).
    f_n, f_n_mean_dtt, f_n_poss
        Smith–Snyder F_N over all N lines, written ``F_N = value (mean |Δ2θ|, N_poss)``.
    n_lines, n_indexed
        Lines given and lines indexed within the tolerance.
    unindexed
        Indices (into the sorted input) of the lines left unindexed.
    two_theta, two_theta_calc
        Observed and calculated 2θ (degrees, the calculated ones including the zero shift).
    hkl
        Indices assigned to each line (nearest allowed reflection; for unindexed lines the
        nearest one all the same), shape ``(n_lines, 3)``.
    wavelength
        Wavelength used (Å).
    score
        Ranking merit (``M20`` with unindexed lines penalised, see ``evaluate``).
    z
        With a formula given to ``index_pattern``: the formula units in the conventional
        cell (the likely ``Z`` of the primitive cell times the lattice points per cell,
        :mod:`~pymatgen_crystalnet.physics.formula_units`); None without a formula, or when
        no ``Z`` gives a plausible volume per atom (a note then says so).
    """

    lattice: Lattice
    crystal_system: str
    centring: str
    parameters: tuple[float, ...]
    esds: tuple[float, ...]
    volume: float
    zero_shift: float
    zero_shift_esd: float
    m20: float
    f_n: float
    f_n_mean_dtt: float
    f_n_poss: int
    n_lines: int
    n_indexed: int
    unindexed: tuple[int, ...]
    two_theta: np.ndarray
    two_theta_calc: np.ndarray
    hkl: np.ndarray
    wavelength: float
    score: float
    notes: list[str] = field(default_factory=list)
    z: int | None = None

    @property
    def n_unindexed(self) -> int:
        """Number of lines left unindexed."""
        return self.n_lines - self.n_indexed

    @property
    def bravais(self) -> str:
        """Pearson-style Bravais symbol such as ``cF``, ``hP``, ``hR``, ``oC`` or ``mP``."""
        return _LATTICE_LETTER[self.crystal_system] + self.centring

    @property
    def primitive_lattice(self) -> Lattice:
        """The primitive cell of the lattice (the conventional cell reduced by its centring)."""
        return Lattice(np.asarray(_TO_PRIMITIVE[self.centring]) @ self.lattice.matrix)

    @property
    def lattice_points(self) -> int:
        """Lattice points per conventional cell (1 for P, 2 for I and C, 3 for R, 4 for F)."""
        return LATTICE_POINTS[self.centring]

    @property
    def symmetry_rank(self) -> int:
        """Higher for more symmetric lattice systems."""
        return SYMMETRY_RANK[self.crystal_system]

    def summary(self) -> str:
        """One line: Bravais lattice, cell, merits."""
        a, b, c, al, be, ga = self.parameters
        return (
            f"{self.bravais:3s} a={a:.5f} b={b:.5f} c={c:.5f} α={al:.3f} β={be:.3f} γ={ga:.3f} "
            f"V={self.volume:.2f} M20={self.m20:.1f} F{self.n_lines}={self.f_n:.1f}"
            f"({self.f_n_mean_dtt:.4f},{self.f_n_poss}) indexed {self.n_indexed}/{self.n_lines} "
            f"zero={self.zero_shift:+.4f}" + ("" if self.z is None else f" Z={self.z}")
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (``from_dict`` reads it back)."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "lattice": self.lattice.as_dict(),
            "crystal_system": self.crystal_system,
            "centring": self.centring,
            "bravais": self.bravais,
            "parameters": [float(x) for x in self.parameters],
            "esds": [float(x) for x in self.esds],
            "volume": float(self.volume),
            "zero_shift": float(self.zero_shift),
            "zero_shift_esd": float(self.zero_shift_esd),
            "m20": float(self.m20),
            "f_n": float(self.f_n),
            "f_n_mean_dtt": float(self.f_n_mean_dtt),
            "f_n_poss": int(self.f_n_poss),
            "n_lines": int(self.n_lines),
            "n_indexed": int(self.n_indexed),
            "unindexed": [int(i) for i in self.unindexed],
            "two_theta": [float(x) for x in self.two_theta],
            "two_theta_calc": [float(x) for x in self.two_theta_calc],
            "hkl": [[int(v) for v in row] for row in self.hkl],
            "wavelength": float(self.wavelength),
            "score": float(self.score),
            "notes": list(self.notes),
            "z": None if self.z is None else int(self.z),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndexingSolution:
        """Inverse of :meth:`as_dict`."""
        kw = {k: v for k, v in d.items() if not k.startswith("@") and k != "bravais"}
        kw["lattice"] = Lattice.from_dict(d["lattice"])
        for key in ("parameters", "esds", "unindexed"):
            kw[key] = tuple(kw[key])
        for key in ("two_theta", "two_theta_calc"):
            kw[key] = np.asarray(kw[key], dtype=float)
        kw["hkl"] = np.asarray(kw["hkl"], dtype=int).reshape(-1, 3)
        return cls(**kw)

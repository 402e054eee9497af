"""A tiny synthetic data set of toy crystals, for tests, benchmarks and smoke runs.

Each toy crystal is a cubic cell (a = 4 Å) holding one to three "atoms": isotropic Gaussian
electron clouds of Z electrons (width 0.3 Å), the first at the origin. Its XRD vector is the
powder pattern of those clouds for Mo Kα (structure factors binned on the 1024-bin 2θ axis,
largest bin = 1) and its composition vector holds the atomic fractions, so the inputs really
determine the density and a network can learn it. Items follow the training-data contract of
the trainer (see :mod:`pymatgen_crystalnet.training.trainer`):

``{"xrd": (1024,), "composition": (118,), "points": (P, 3), "density": (P,), "volume": float,
"electrons": float, "index": int}``

and, with ``cell_inputs``, the cell inputs of a network that reads the cell (``lattice``,
``hkl``, ``amplitude``; computed once, from the toy patterns on the cubic cell).

with P = ``n_strata³`` stratified random points (one uniform point in each cell of an
``n_strata³`` partition, redrawn every epoch, reproducibly) or, with ``grid=n``, the n³
points of the regular grid in C order (for validation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pymatgen_crystalnet.featurize.reflections import CellInputSpec

__all__ = ["SyntheticCrystals", "stratified_points"]

_MO_KA = 0.71073


def stratified_points(n_strata: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform random point in each cell of an n³ partition of [0, 1)³: ``(n³, 3)``."""
    idx = np.stack(np.meshgrid(*[np.arange(n_strata)] * 3, indexing="ij"), -1).reshape(-1, 3)
    return ((idx + rng.random(idx.shape)) / n_strata).astype(np.float32)


def _grid(n: int) -> np.ndarray:
    axis = np.arange(n) / n
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


class SyntheticCrystals(Dataset):
    """Toy crystals with exact densities at any point.

    Parameters
    ----------
    n_crystals
        Number of crystals.
    n_strata
        Training points per item: ``n_strata³`` stratified points.
    grid
        If given, every item holds the n³ regular grid instead (validation).
    seed
        Seed of the crystals and of the point sampling.
    elements
        Atomic numbers the toy atoms are drawn from.
    max_atoms
        Atoms per cell, drawn uniformly from 1 … max_atoms.
    lattice
        Cubic lattice parameter in Å.
    width
        Gaussian width of each atom in Å.
    cell_inputs
        Cell inputs the items carry (None: none).
    """

    def __init__(
        self,
        n_crystals: int,
        *,
        n_strata: int = 4,
        grid: int | None = None,
        seed: int = 0,
        elements: Sequence[int] = (6, 8, 14, 26),
        max_atoms: int = 3,
        lattice: float = 4.0,
        width: float = 0.3,
        cell_inputs: CellInputSpec | None = None,
    ) -> None:
        self.n_crystals = n_crystals
        self.n_strata = n_strata
        self.grid = grid
        self.seed = seed
        self.lattice = lattice
        self.width = width
        self.epoch = 0
        self.sites: list[tuple[np.ndarray, np.ndarray]] = []
        self.xrd = np.zeros((n_crystals, 1024), dtype=np.float32)
        self.composition = np.zeros((n_crystals, 118), dtype=np.float32)
        for i in range(n_crystals):
            rng = np.random.default_rng([seed, i])
            n_atoms = int(rng.integers(1, max_atoms + 1))
            z = rng.choice(np.asarray(elements), size=n_atoms)
            frac = rng.random((n_atoms, 3))
            frac[0] = 0.0
            self.sites.append((frac, z.astype(float)))
            self.xrd[i] = self._pattern(frac, z)
            for el in z:
                self.composition[i, el - 1] += 1.0 / n_atoms
        cells = np.broadcast_to(np.eye(3) * lattice, (n_crystals, 3, 3))
        self.cell_arrays = {} if cell_inputs is None else cell_inputs.arrays(self.xrd, cells)
        self.metadata: dict[str, Any] = {
            "source": "synthetic",
            "n_crystals": n_crystals,
            "seed": seed,
            "elements": [int(e) for e in elements],
            "lattice": lattice,
            "width": width,
        }

    def _pattern(self, frac: np.ndarray, z: np.ndarray) -> np.ndarray:
        hmax = int(2 * self.lattice / _MO_KA)
        r = np.arange(-hmax, hmax + 1)
        hkl = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
        hkl = hkl[np.any(hkl != 0, axis=1)]
        g = np.linalg.norm(hkl, axis=1) / self.lattice
        sin_theta = _MO_KA * g / 2
        keep = sin_theta < 1
        hkl, g, sin_theta = hkl[keep], g[keep], sin_theta[keep]
        form = np.exp(-2 * math.pi**2 * self.width**2 * g**2)
        phases = np.exp(2j * math.pi * hkl @ frac.T)
        intensity = np.abs((phases * z).sum(axis=1) * form) ** 2
        two_theta = np.degrees(2 * np.arcsin(sin_theta))
        bins = np.minimum((1024 * two_theta / 180).astype(int), 1023)
        out = np.zeros(1024)
        np.add.at(out, bins, intensity)
        return (out / out.max()).astype(np.float32)

    def set_epoch(self, epoch: int) -> None:
        """Redraw the stratified points of every item for this epoch (called by the trainer)."""
        self.epoch = epoch

    def density_at(self, index: int, points: np.ndarray) -> np.ndarray:
        """Exact density (e/Å³) of crystal ``index`` at fractional ``points (P, 3)``."""
        frac, z = self.sites[index]
        shifts = np.stack(np.meshgrid(*[np.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
        d = points[:, None, None, :] - frac[None, :, None, :] - shifts[None, None, :, :]
        r2 = (self.lattice**2) * (d**2).sum(-1)
        norm = z / (2 * math.pi * self.width**2) ** 1.5
        return (norm[None, :, None] * np.exp(-r2 / (2 * self.width**2))).sum((1, 2))

    def __len__(self) -> int:
        return self.n_crystals

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.grid is not None:
            points = _grid(self.grid)
        else:
            rng = np.random.default_rng([self.seed, index, self.epoch, 7])
            points = stratified_points(self.n_strata, rng)
        return {
            "xrd": torch.from_numpy(self.xrd[index]),
            "composition": torch.from_numpy(self.composition[index]),
            "points": torch.from_numpy(points.astype(np.float32)),
            "density": torch.from_numpy(self.density_at(index, points).astype(np.float32)),
            "volume": float(self.lattice**3),
            "electrons": float(self.sites[index][1].sum()),
            "index": index,
            **{key: torch.from_numpy(arr[index]) for key, arr in self.cell_arrays.items()},
        }

"""A torch ``Dataset`` over an exported dataset: inputs plus density at sampled points.

Each item is a dict of tensors::

    {"xrd": (1024,) float32,          # XRD vector (max 1)
     "composition": (118,) float32,   # in the chosen ablation mode
     "points": (P, 3) float32,        # fractional coordinates in [0, 1)
     "density": (P,) float32,         # e/Å³ at the points
     "volume": float,                 # cell volume, Å³
     "electrons": float,              # electrons in the cell, Σ Z · occupancy
     "index": int}                    # row in the (sub)set

and, for a network that reads the cell (``cell_inputs``, see
:class:`~pymatgen_crystalnet.featurize.reflections.CellInputSpec`)::

     "lattice": (3, 3) float32        # the canonical cell (rows, Å)
     "hkl": (K, 3) int16              # with reflections: the cell's first K reflections
     "amplitude": (K,) float32        #   and their amplitudes read from the XRD vector

computed once for all crystals when the dataset is made (:func:`cell_arrays`), not per item.

Points are stratified as in the paper: one uniform point in each cell of a
``points_per_axis``³ partition of the unit cell (10³ = 1000 by default). The density is the
exact IAM value at each point (from the exported structure arrays and form-factor table, B as
exported) or, for crystals with a stored DFT grid, its periodic trilinear interpolation.

Randomness is reproducible and independent of DataLoader workers: item ``i`` in epoch ``e``
draws from ``numpy.random.default_rng([seed, e, i])`` (call :meth:`set_epoch` each epoch);
with ``fixed_points=True`` the draw ignores the epoch (validation).

Only numpy and torch are needed: no pymatgen or xraydb. For training,
:class:`~pymatgen_crystalnet.data.bank_batches.BankedCrystals` reads the same crystals far
faster (densities prepared once on a grid, whole batches by array operations).
"""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from pymatgen_crystalnet.data.density_bank import cell_electrons, cell_volumes
from pymatgen_crystalnet.data.reader import (
    CompositionMode,
    ExportedDataset,
    apply_composition_mode,
    load_export,
    stratified_points,
    trilinear_periodic,
)
from pymatgen_crystalnet.featurize.reflections import CellInputSpec

__all__ = ["CrystalDensityDataset", "cell_arrays", "load_split"]

TargetKind = Literal["auto", "iam", "grid", "none"]
_BELOW_ONE = np.nextafter(np.float32(1.0), np.float32(0.0))


class CrystalDensityDataset(Dataset):
    """Crystals of an export as training items.

    Parameters
    ----------
    data
        An :class:`ExportedDataset` or the path of an export.
    split
        Keep only this split (or these splits); None keeps all.
    points_per_axis
        Stratification: ``points_per_axis``³ query points per crystal.
    composition_mode
        ``full``, ``no_ratios``, ``drop_element`` or ``none`` (docs/science.md, 'The composition vector').
    seed
        Seed of the point sampling and of ``drop_element``.
    fixed_points
        Draw the same points for an item in every epoch.
    target
        ``auto`` (grid where stored, else IAM), ``iam``, ``grid`` (error for crystals without
        one) or ``none`` (no ``density`` key: the caller computes it, e.g. on the GPU).
    cell_inputs
        The cell inputs the network reads (``CrystalNetConfig.cell_inputs``); None or an
        empty spec: none.
    """

    def __init__(
        self,
        data: ExportedDataset | str | os.PathLike,
        split: str | list[str] | None = None,
        *,
        points_per_axis: int = 10,
        composition_mode: CompositionMode = "full",
        seed: int = 0,
        fixed_points: bool = False,
        target: TargetKind = "auto",
        cell_inputs: CellInputSpec | None = None,
    ) -> None:
        data = data if isinstance(data, ExportedDataset) else load_export(data)
        self.data = data.subset(split) if split is not None else data
        if len(self.data) == 0:
            raise ValueError(f"No crystals in split {split!r}.")
        if points_per_axis < 1:
            raise ValueError(f"points_per_axis must be at least 1, got {points_per_axis}.")
        if composition_mode not in ("full", "no_ratios", "drop_element", "none"):
            raise ValueError(f"Unknown composition mode {composition_mode!r}.")
        if target not in ("auto", "iam", "grid", "none"):
            raise ValueError(f"Unknown target {target!r}; use auto, iam, grid or none.")
        if target == "grid" and np.any(self.data.grid_index < 0):
            raise ValueError("target='grid' but some crystals have no stored density grid.")
        self.points_per_axis = int(points_per_axis)
        self.composition_mode: CompositionMode = composition_mode
        self.seed = int(seed)
        self.fixed_points = fixed_points
        self.target: TargetKind = target
        self.epoch = 0
        self.cell_arrays = cell_arrays(self.data, cell_inputs)
        self.volume = cell_volumes(self.data)
        self.electrons = cell_electrons(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch`` (new points each epoch unless ``fixed_points``)."""
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        key = [self.seed, index] if self.fixed_points else [self.seed, self.epoch, index]
        return np.random.default_rng(key)

    def density_at(self, index: int, points: np.ndarray) -> np.ndarray:
        """Target density (e/Å³) of crystal ``index`` at fractional points (P, 3)."""
        grid = self.data.grid(index) if self.target in ("auto", "grid") else None
        if grid is not None:
            return trilinear_periodic(grid, points)
        return self.data.iam_density(index, points)

    def density_grid(self, index: int, n: int = 50) -> np.ndarray:
        """Target density (e/Å³) of crystal ``index`` on the n³ grid (C order, (i, j, k)/n).

        A stored grid of that size is returned as is, another size is interpolated; the IAM
        uses the fast grid path (for validation and evaluation on the full grid).
        """
        grid = self.data.grid(index) if self.target in ("auto", "grid") else None
        if grid is None:
            return self.data.iam_grid(index, n)
        if grid.shape == (n, n, n):
            return np.asarray(grid, dtype=np.float64)
        axis = np.arange(n, dtype=np.float64) / n
        pts = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
        return trilinear_periodic(grid, pts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} crystals")
        index = int(index) % len(self)
        rng = self._rng(index)
        # float32 points strictly below 1; targets are computed at exactly these points
        points = np.minimum(stratified_points(rng, self.points_per_axis).astype(np.float32),
                            _BELOW_ONE)
        comp = apply_composition_mode(self.data.composition[index], self.composition_mode, rng)
        item: dict[str, Any] = {
            "xrd": torch.from_numpy(self.data.xrd[index].astype(np.float32)),
            "composition": torch.from_numpy(comp),
            "points": torch.from_numpy(points),
            "volume": float(self.volume[index]),
            "electrons": float(self.electrons[index]),
            "index": index,
        }
        if self.target != "none":
            density = self.density_at(index, points.astype(np.float64))
            item["density"] = torch.from_numpy(density.astype(np.float32))
        item.update({key: torch.from_numpy(arr[index]) for key, arr in self.cell_arrays.items()})
        return item


# ---------------------------------------------------------------- cell inputs (one hook)
def cell_arrays(data: ExportedDataset, spec: CellInputSpec | None) -> dict[str, np.ndarray]:
    """The per-crystal cell inputs of every crystal of ``data``, computed once.

    ``lattice (N, 3, 3) float32`` and, with reflections, ``hkl (N, K, 3) int16`` and
    ``amplitude (N, K) float32`` (read from the export's XRD vectors on its canonical cells);
    ``{}`` when ``spec`` is None or asks for nothing. Items carry row ``index`` of each array.
    """
    if spec is None or not spec.needed:
        return {}
    return spec.arrays(data.xrd, data.lattice)


def load_split(
    path: str | os.PathLike | ExportedDataset, split: str | list[str], **kwargs: Any
) -> CrystalDensityDataset:
    """The :class:`CrystalDensityDataset` of one split (or several) of an export.

    ``kwargs`` go to :class:`CrystalDensityDataset` (``points_per_axis``,
    ``composition_mode``, ``seed``, ``fixed_points``, ``target``, ``cell_inputs``).
    """
    return CrystalDensityDataset(path, split, **kwargs)

"""Open the training and validation splits the trainer needs from a ``--data`` argument.

``--data`` is either the path of a dataset export (``crystalnet data export``) or
``synthetic[:N]`` (N toy crystals of :mod:`.synthetic`, for smoke runs). Only the ``train``
and ``val`` splits are opened; the test split is never read by training.

The training split of an export is prepared once (:class:`~pymatgen_crystalnet.data.
bank_batches.BankedCrystals`: densities on a ``point_grid``³ grid per crystal, cached in the
folder ``<export stem>.cache`` beside the export, batches by array operations); with
``point_grid = 0`` it is the item-by-item :class:`~pymatgen_crystalnet.data.torch_dataset.
CrystalDensityDataset` with exact densities at every point.

Validation needs densities on a regular grid: :class:`GridDensitySet` wraps a dataset of the
validation split and replaces its sampled points by the n³ grid (in C order, point (i, j, k)
at (i/n, j/n, k/n)), computing and caching the density there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import grid_points
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.synthetic import SyntheticCrystals

__all__ = ["GridDensitySet", "open_datasets"]

logger = logging.getLogger(__name__)


class GridDensitySet(Dataset):
    """A validation view of a point dataset: the same crystals on the n×n×n grid.

    Parameters
    ----------
    base
        Dataset whose items have ``xrd`` and ``composition`` and which offers
        ``density_grid(index, n) -> (n, n, n)`` (C order, as ``CrystalDensityDataset``) or
        ``density_at(index, points (P, 3)) -> (P,)`` in e/Å³ (as :class:`SyntheticCrystals`).
    n
        Grid points per axis.
    """

    def __init__(self, base: Any, n: int) -> None:
        self.base = base
        self.n = n
        self.points = grid_points(n)
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.base[index])
        if index not in self._cache:
            if hasattr(self.base, "density_grid"):  # fast n³ path of CrystalDensityDataset
                rho = np.asarray(self.base.density_grid(index, self.n)).reshape(-1)
            else:
                rho = self.base.density_at(index, self.points.numpy().astype(np.float64))
            self._cache[index] = torch.as_tensor(np.asarray(rho), dtype=torch.float32)
        item["points"] = self.points
        item["density"] = self._cache[index]
        return item


def open_datasets(
    data: str, model_config: CrystalNetConfig, config: TrainingConfig
) -> tuple[Dataset, Dataset | None, dict[str, Any]]:
    """Return ``(train, val, description)`` for a ``--data`` argument.

    Parameters
    ----------
    data
        Path of an export, or ``synthetic`` / ``synthetic:N``.
    model_config
        Its ``composition_mode`` selects the composition ablation of the inputs; its
        ``cell_inputs`` the per-crystal cell inputs the items carry (computed once here).
    config
        ``n_strata`` (points per crystal), ``point_grid``, ``val_grid`` and ``seed`` are used.

    Raises
    ------
    ValueError
        If the argument names neither an existing file nor ``synthetic[:N]``, or the export
        has no training crystals.
    """
    if data.startswith("synthetic"):
        _, _, count = data.partition(":")
        try:
            n = int(count) if count else 256
        except ValueError:
            raise ValueError(f"Use synthetic:N with an integer N, got {data!r}.") from None
        cells = model_config.cell_inputs
        train = SyntheticCrystals(n, n_strata=config.n_strata, seed=config.seed, cell_inputs=cells)
        val_base = SyntheticCrystals(max(4, n // 8), seed=config.seed + 1, cell_inputs=cells)
        val = GridDensitySet(val_base, config.val_grid)
        return train, val, dict(train.metadata)

    path = Path(data)
    if not path.is_file():
        raise ValueError(f"--data {data!r} is neither an export file nor 'synthetic[:N]'.")
    from pymatgen_crystalnet.data.bank_batches import BankedCrystals
    from pymatgen_crystalnet.data.reader import load_export
    from pymatgen_crystalnet.data.torch_dataset import CrystalDensityDataset

    export = load_export(path)
    splits = set(np.unique(export.split).tolist())
    if "train" not in splits:
        raise ValueError(f"{path} has no training split (splits: {sorted(splits)}).")
    mode = model_config.composition_mode
    cells = model_config.cell_inputs  # one hook: the cell inputs, computed once per crystal
    train: Dataset
    if config.point_grid:
        train = BankedCrystals(
            export.subset("train"),
            grid_n=config.point_grid,
            points_per_axis=config.n_strata,
            composition_mode=mode,
            seed=config.seed,
            cache_dir=path.parent / f"{path.stem}.cache",
            cell_inputs=cells,
        )
    else:
        train = CrystalDensityDataset(
            export, "train", points_per_axis=config.n_strata, composition_mode=mode, seed=config.seed,
            cell_inputs=cells,
        )
    val = None
    if "val" in splits:
        base = CrystalDensityDataset(
            export, "val", points_per_axis=1, composition_mode=mode, seed=config.seed, fixed_points=True,
            cell_inputs=cells,
        )
        val = GridDensitySet(base, config.val_grid)
    else:
        logger.warning("%s has no validation split: the last epoch's weights will be kept.", path)
    manifest = export.manifest
    description = {
        "source": "export",
        "path": str(path.resolve()),
        "sha256": sha256_file(path),
        "n_train": len(train),
        "n_val": 0 if val is None else len(val),
        "composition_mode": mode,
        "point_grid": config.point_grid,
        **{k: manifest.get(k) for k in ("cell", "b_factor", "wavelength", "counts", "density_sources")},
    }
    return train, val, description

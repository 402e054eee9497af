"""Density grids of an export's crystals, computed once and kept on disk for fast training.

Training draws a few hundred query points per crystal per epoch; evaluating the exact IAM at
each of them (a plan per crystal and a sum over atom images, in Python per crystal) costs more
than the network's step on a CPU. Instead each crystal's density is computed once on an
n × n × n grid of its fractional cell (the fast grid path of the IAM, or the stored DFT grid),
stored as float16 e/Å³, and the training points are read from it by array operations
(:mod:`.bank_batches`).

The grids of a set of crystals are cached in a ``.npy`` file named after a SHA-256 of
everything they depend on (lattices, atoms, form factors, B, stored grids, n), so another run
on the same data reuses them, and a changed export never reads a stale cache. The file is
written atomically and opened memory-mapped, so several processes share one copy.

float16 keeps 11 significant bits (a relative error ≤ 2⁻¹¹ ≈ 5·10⁻⁴ of ρ, ≤ 5·10⁻⁴ in
log(1 + ρ)); densities above its largest value (65,504 e/Å³, far above any IAM peak at
B = 1 Å²) are clipped with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.atomic import atomic_path
from pymatgen_crystalnet.data.reader import ExportedDataset, trilinear_periodic

__all__ = ["BANK_VERSION", "bank_key", "cell_electrons", "cell_volumes", "density_bank"]

logger = logging.getLogger(__name__)

#: Version of the bank's contents; part of the cache key.
BANK_VERSION = 1
_F16_MAX = float(np.finfo(np.float16).max)


def cell_volumes(data: ExportedDataset) -> NDArray[np.float64]:
    """Cell volume (Å³) of every crystal of ``data``."""
    return np.abs(np.linalg.det(np.asarray(data.lattice, dtype=np.float64)))


def cell_electrons(data: ExportedDataset) -> NDArray[np.float64]:
    """Electrons in the cell of every crystal: Σ Z · occupancy over its atoms."""
    per_atom = data.atomic_numbers.astype(np.float64) * data.occupancies.astype(np.float64)
    sums = np.concatenate([[0.0], np.cumsum(per_atom)])
    return sums[data.atom_offsets[1:]] - sums[data.atom_offsets[:-1]]


def bank_key(data: ExportedDataset, n: int) -> str:
    """SHA-256 (hex) of everything the grids of ``data`` at size ``n`` depend on."""
    h = hashlib.sha256()
    h.update(f"bank-v{BANK_VERSION}-n{n}-b{data.b_factor!r}".encode())
    for arr in (data.lattice, data.atom_offsets, data.frac_coords, data.atomic_numbers,
                data.occupancies, data.form_factors, data.grid_index):
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    if data.grids is not None and np.any(data.grid_index >= 0):
        h.update(np.ascontiguousarray(data.grids).tobytes())
    return h.hexdigest()


def _grid_of(data: ExportedDataset, i: int, n: int) -> NDArray[np.float64]:
    stored = data.grid(i)
    if stored is None:
        return data.iam_grid(i, n)
    if stored.shape == (n, n, n):
        return np.asarray(stored, dtype=np.float64)
    axis = np.arange(n, dtype=np.float64) / n
    pts = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1)
    return trilinear_periodic(stored, pts)


def _compute(data: ExportedDataset, n: int, out: NDArray[np.float16]) -> None:
    t0, last = time.perf_counter(), time.perf_counter()
    clipped = 0
    for i in range(len(data)):
        g = np.maximum(_grid_of(data, i, n), 0.0)
        clipped += int(np.count_nonzero(g > _F16_MAX))
        out[i] = np.minimum(g, _F16_MAX).astype(np.float16)
        if time.perf_counter() - last > 30:
            last = time.perf_counter()
            logger.info("Density grids: %d of %d crystals (%.0f s).", i + 1, len(data), last - t0)
    if clipped:
        logger.warning("%d grid values above %.0f e/Å³ were clipped to float16's maximum.", clipped, _F16_MAX)
    logger.info("Density grids of %d crystals at %d³ computed in %.1f s.", len(data), n,
                time.perf_counter() - t0)


def density_bank(
    data: ExportedDataset,
    n: int,
    *,
    cache_dir: str | os.PathLike | None = None,
) -> NDArray[np.float16]:
    """The ``(N, n, n, n)`` float16 densities (e/Å³) of the crystals of ``data`` on their n³ grids.

    Point (i, j, k) of crystal c is at fractional (i/n, j/n, k/n) (C order, as everywhere in the
    package). IAM crystals use the fast grid path (:meth:`ExportedDataset.iam_grid`); crystals
    with a stored DFT grid use it (trilinearly resampled when its size is not n). Negative
    values (DFT noise) are set to 0.

    Parameters
    ----------
    data
        The crystals (e.g. the training split of an export).
    n
        Grid points per axis.
    cache_dir
        Folder of the cache file ``density-bank-n{n}-{key}.npy``; it is read memory-mapped
        when present and written (atomically) otherwise. None, or a folder that cannot be
        written (a warning says so), computes the grids in memory.

    Raises
    ------
    ValueError
        If ``n`` is below 2 or ``data`` is empty.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"The density grid size must be an integer of at least 2, got {n!r}.")
    if len(data) == 0:
        raise ValueError("No crystals to compute density grids for.")
    shape = (len(data), n, n, n)
    if cache_dir is None:
        bank = np.empty(shape, dtype=np.float16)
        _compute(data, n, bank)
        return bank
    folder = Path(cache_dir)
    path = folder / f"density-bank-n{n}-{bank_key(data, n)[:20]}.npy"
    if path.is_file():
        bank = np.load(path, mmap_mode="c")
        if bank.shape == shape and bank.dtype == np.float16:
            logger.info("Density grids read from the cache %s.", path)
            return bank
        logger.warning("Ignoring the cache %s: it holds %s %s, not %s float16.", path, bank.shape,
                       bank.dtype, shape)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, suffix=".npy") as tmp:
            mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
            _compute(data, n, mm)
            mm.flush()
            del mm
    except OSError as exc:
        logger.warning("Cannot write the density cache in %s (%s); computing the grids in memory.",
                       folder, exc)
        bank = np.empty(shape, dtype=np.float16)
        _compute(data, n, bank)
        return bank
    logger.info("Density grids cached in %s (%.0f MB).", path, path.stat().st_size / 1e6)
    return np.load(path, mmap_mode="c")

"""Read an exported dataset (``.npz``) with numpy only: no pymatgen, xraydb, maggma or torch.

Format (``format_version`` 1): one ``.npz`` archive (``numpy.savez_compressed``, read with
``allow_pickle=False``):

=======================  ===============  ===========================================
array                    shape, dtype     meaning
=======================  ===============  ===========================================
``manifest``             (), str          JSON: format_version, counts, settings (below)
``material_id``          (N,), str        ids
``formula``              (N,), str        reduced formulas
``split``                (N,), str        ``train`` / ``val`` / ``test``
``crystal_system``       (N,), str        lower case
``spacegroup_number``    (N,), int16
``e_above_hull``         (N,), float32    eV/atom; NaN where unknown
``density_source``       (N,), str        ``iam`` or ``dft``
``xrd``                  (N, 1024), f16   XRD vectors (max 1), Mo Kα, 2θ 0–180°
``composition``          (N, 118), f32    atomic fractions, index = Z − 1
``lattice``              (N, 3, 3), f64   rows = lattice vectors, Å (canonical cell)
``atom_offsets``         (N + 1,), int64  CSR: atoms of crystal i are rows
                                          ``atom_offsets[i]:atom_offsets[i+1]``
``frac_coords``          (A, 3), f64      fractional coordinates in [0, 1)
``atomic_numbers``       (A,), int16
``occupancies``          (A,), float32
``form_factors``         (99, 11), f64    Waasmaier–Kirfel table, row Z = a1..a5, b1..b5, c
``grid_index``           (N,), int32      row of ``grids`` for crystal i, or −1
``grids``                (M, n, n, n) f32 optional: densities e/Å³, point (i,j,k) at (i,j,k)/n
=======================  ===============  ===========================================

Manifest keys: ``format_version``, ``created``, ``package_version``, ``n_crystals``,
``n_atoms``, ``cell``, ``b_factor``, ``symprec``, ``wavelength``, ``grid_n``, ``xrd_dtype``,
``counts`` (``{system: {split: n}}``), ``density_sources`` (``{source: n}``),
``build_config``, ``split_config``, ``source_store``.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.data.errors import DataFileError

__all__ = [
    "FORMAT_VERSION",
    "REQUIRED_ARRAYS",
    "ExportedDataset",
    "apply_composition_mode",
    "load_export",
    "stratified_points",
    "trilinear_periodic",
]

#: Version of the export format written and read by this module.
FORMAT_VERSION: int = 1
#: Arrays every export holds.
REQUIRED_ARRAYS: tuple[str, ...] = (
    "manifest", "material_id", "formula", "split", "crystal_system", "spacegroup_number",
    "e_above_hull", "density_source", "xrd", "composition", "lattice", "atom_offsets",
    "frac_coords", "atomic_numbers", "occupancies", "form_factors", "grid_index",
)

CompositionMode = Literal["full", "no_ratios", "drop_element", "none"]


@dataclass
class ExportedDataset:
    """An exported dataset held in memory (see the module docstring for the arrays).

    Build one with :func:`load_export`; :meth:`subset` selects crystals.
    """

    manifest: dict[str, Any]
    material_id: NDArray[np.str_]
    formula: NDArray[np.str_]
    split: NDArray[np.str_]
    crystal_system: NDArray[np.str_]
    spacegroup_number: NDArray[np.int16]
    e_above_hull: NDArray[np.float32]
    density_source: NDArray[np.str_]
    xrd: NDArray[np.float16]
    composition: NDArray[np.float32]
    lattice: NDArray[np.float64]
    atom_offsets: NDArray[np.int64]
    frac_coords: NDArray[np.float64]
    atomic_numbers: NDArray[np.int16]
    occupancies: NDArray[np.float32]
    form_factors: NDArray[np.float64]
    grid_index: NDArray[np.int32]
    grids: NDArray[np.float32] | None = None
    path: Path | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return int(self.material_id.shape[0])

    @property
    def b_factor(self) -> float:
        """Debye–Waller factor B (Å²) of patterns and IAM densities."""
        return float(self.manifest["b_factor"])

    @property
    def cell(self) -> str:
        """Canonical cell choice (``primitive`` or ``conventional``)."""
        return str(self.manifest["cell"])

    def atoms(self, i: int) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        """``(frac_coords (a, 3), atomic_numbers (a,), occupancies (a,))`` of crystal ``i``."""
        lo, hi = int(self.atom_offsets[i]), int(self.atom_offsets[i + 1])
        return (self.frac_coords[lo:hi], self.atomic_numbers[lo:hi].astype(np.int64),
                self.occupancies[lo:hi].astype(np.float64))

    def grid(self, i: int) -> NDArray[np.float32] | None:
        """The stored density grid of crystal ``i`` (e/Å³), or None."""
        row = int(self.grid_index[i])
        if row < 0 or self.grids is None:
            return None
        return self.grids[row]

    def iam_density(self, i: int, frac_points: NDArray) -> NDArray[np.float64]:
        """Exact IAM density (e/Å³) of crystal ``i`` at fractional points (..., 3)."""
        from pymatgen_crystalnet.physics.iam import iam_density_from_arrays

        frac, zs, occ = self.atoms(i)
        return iam_density_from_arrays(
            self.lattice[i], frac, zs, frac_points, occupancies=occ,
            b_factor=self.b_factor, coefficients=self.form_factors,
        )

    def iam_grid(self, i: int, n: int = 50) -> NDArray[np.float64]:
        """IAM density (e/Å³) of crystal ``i`` on the n³ grid, point (i, j, k) at (i, j, k)/n.

        The fast grid path (real-space stencils and one FFT), much quicker than
        :meth:`iam_density` at n³ points.
        """
        from pymatgen_crystalnet.physics.iam import iam_grid_from_arrays

        frac, zs, occ = self.atoms(i)
        return iam_grid_from_arrays(
            self.lattice[i], frac, zs, n, occupancies=occ,
            b_factor=self.b_factor, coefficients=self.form_factors,
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Crystals by crystal system and split."""
        out: dict[str, Counter] = {}
        for system, split in zip(self.crystal_system.tolist(), self.split.tolist()):
            out.setdefault(system, Counter())[split] += 1
        return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}

    def subset(
        self,
        split: str | list[str] | None = None,
        *,
        crystal_systems: str | list[str] | None = None,
        indices: NDArray | list[int] | None = None,
    ) -> ExportedDataset:
        """The crystals of some splits / systems / indices, as a new dataset (arrays copied)."""
        mask = np.ones(len(self), dtype=bool)
        if split is not None:
            mask &= np.isin(self.split, [split] if isinstance(split, str) else list(split))
        if crystal_systems is not None:
            systems = [crystal_systems] if isinstance(crystal_systems, str) else crystal_systems
            mask &= np.isin(self.crystal_system, [s.lower() for s in systems])
        idx = np.flatnonzero(mask)
        if indices is not None:
            idx = idx[np.isin(idx, np.asarray(indices, dtype=np.int64))]
        return self.take(idx)

    def take(self, idx: NDArray | list[int]) -> ExportedDataset:
        """The crystals at ``idx`` (in that order)."""
        idx = np.asarray(idx, dtype=np.int64)
        starts, stops = self.atom_offsets[idx], self.atom_offsets[idx + 1]
        counts = stops - starts
        atom_rows = (np.concatenate([np.arange(a, b) for a, b in zip(starts, stops)])
                     if idx.size else np.zeros(0, dtype=np.int64))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        grid_rows = self.grid_index[idx]
        grids, new_index = None, np.full(idx.size, -1, dtype=np.int32)
        if self.grids is not None and np.any(grid_rows >= 0):
            used = np.flatnonzero(grid_rows >= 0)
            grids = self.grids[grid_rows[used]]
            new_index[used] = np.arange(used.size, dtype=np.int32)
        per = {name: getattr(self, name)[idx] for name in (
            "material_id", "formula", "split", "crystal_system", "spacegroup_number",
            "e_above_hull", "density_source", "xrd", "composition", "lattice")}
        return replace(
            self, **per, atom_offsets=offsets, frac_coords=self.frac_coords[atom_rows],
            atomic_numbers=self.atomic_numbers[atom_rows],
            occupancies=self.occupancies[atom_rows], grid_index=new_index, grids=grids,
            manifest={**self.manifest, "n_crystals": int(idx.size), "subset_of": self.manifest.get(
                "subset_of", str(self.path) if self.path else None)},
        )


def load_export(path: str | os.PathLike) -> ExportedDataset:
    """Read an export written by :func:`pymatgen_crystalnet.data.export.export_dataset`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataFileError
        (a ``ValueError``) If it is not an export, is truncated or corrupt (the message names
        the array that could not be read), has another ``format_version``, or its arrays
        disagree.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No dataset export at {path}.")
    arrays = _read_arrays(path)
    missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise DataFileError(path, f"not a dataset export: it lacks {', '.join(missing)}.")
    try:
        manifest = json.loads(str(arrays.pop("manifest")))
    except ValueError as exc:
        raise DataFileError(path, f"the manifest is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict):
        raise DataFileError(path, f"the manifest is a JSON {type(manifest).__name__}, not an object.")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise DataFileError(path, f"export format_version {version!r}; this version reads {FORMAT_VERSION}.")
    data = ExportedDataset(manifest=manifest, path=path, grids=arrays.pop("grids", None),
                           **{k: v for k, v in arrays.items() if k in REQUIRED_ARRAYS})
    _check(data, path)
    return data


#: What numpy and zipfile raise on a truncated or corrupted ``.npz``.
_BROKEN_NPZ = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


def _read_arrays(path: Path) -> dict[str, NDArray]:
    """Every array of an ``.npz``, or :class:`DataFileError` naming what broke."""
    size = path.stat().st_size
    try:
        npz = np.load(path, allow_pickle=False)
    except _BROKEN_NPZ as exc:
        raise DataFileError(
            path,
            f"not a dataset export that numpy can open ({size} bytes: truncated, corrupt or another "
            f"kind of file; {type(exc).__name__}: {str(exc).rstrip('.')}).",
        ) from None
    if not hasattr(npz, "files"):  # np.load read a single .npy array
        raise DataFileError(path, "a single .npy array, not a dataset export (.npz).")
    arrays: dict[str, NDArray] = {}
    with npz:
        for name in npz.files:
            try:
                arrays[name] = npz[name]
            except _BROKEN_NPZ as exc:
                raise DataFileError(
                    path,
                    f"array {name!r} cannot be read ({type(exc).__name__}: {str(exc).rstrip('.')}); "
                    f"the file is truncated or corrupt ({size} bytes). Export it again.",
                ) from None
    return arrays


def _check(data: ExportedDataset, path: Path) -> None:
    n = len(data)
    per_crystal = {"formula": (n,), "split": (n,), "crystal_system": (n,), "xrd": (n, 1024),
                   "composition": (n, 118), "lattice": (n, 3, 3), "atom_offsets": (n + 1,),
                   "grid_index": (n,), "density_source": (n,), "form_factors": (99, 11)}
    for name, shape in per_crystal.items():
        if getattr(data, name).shape != shape:
            raise DataFileError(path, f"{name} has shape {getattr(data, name).shape}, expected {shape}.")
    n_atoms = int(data.atom_offsets[-1]) if n else 0
    for name in ("frac_coords", "atomic_numbers", "occupancies"):
        if getattr(data, name).shape[0] != n_atoms:
            raise DataFileError(path, f"{name} does not hold the {n_atoms} atoms the offsets give.")
    if np.any(np.diff(data.atom_offsets) <= 0):
        raise DataFileError(path, "a crystal has no atoms (atom_offsets not increasing).")
    if data.grids is not None and np.any(data.grid_index >= data.grids.shape[0]):
        raise DataFileError(path, "grid_index points past the stored grids.")


def stratified_points(rng: np.random.Generator, per_axis: int = 10) -> NDArray[np.float64]:
    """One uniform point in each cell of a ``per_axis``³ partition of the unit cube.

    Returns
    -------
    numpy.ndarray
        (per_axis³, 3) fractional coordinates in [0, 1), cells in C order.
    """
    if per_axis < 1:
        raise ValueError(f"per_axis must be at least 1, got {per_axis}.")
    axis = np.arange(per_axis, dtype=np.float64)
    cells = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    pts = (cells + rng.random(cells.shape)) / per_axis
    return np.minimum(pts, np.nextafter(1.0, 0.0))


def trilinear_periodic(grid: NDArray, frac_points: NDArray) -> NDArray[np.float64]:
    """Trilinear interpolation of a periodic grid (point (i, j, k) at (i, j, k)/n).

    Parameters
    ----------
    grid
        (n0, n1, n2) values.
    frac_points
        (..., 3) fractional coordinates (wrapped into the cell).
    """
    g = np.asarray(grid, dtype=np.float64)
    dims = np.array(g.shape)
    x = np.mod(np.asarray(frac_points, dtype=np.float64), 1.0) * dims
    i0 = np.floor(x).astype(np.int64)
    t = x - i0
    i0 %= dims
    i1 = (i0 + 1) % dims
    out = np.zeros(x.shape[:-1])
    for corner in range(8):
        bits = [(corner >> k) & 1 for k in range(3)]
        idx = tuple(np.where(b, i1[..., k], i0[..., k]) for k, b in enumerate(bits))
        w = np.prod([np.where(b, t[..., k], 1.0 - t[..., k]) for k, b in enumerate(bits)], axis=0)
        out += w * g[idx]
    return out


def apply_composition_mode(
    fractions: NDArray, mode: CompositionMode, rng: np.random.Generator | None = None
) -> NDArray[np.float32]:
    """Turn a stored composition vector (atomic fractions) into an ablation mode's input.

    Same rules and random draws as
    :func:`pymatgen_crystalnet.featurize.composition.composition_vector`: ``full`` (as
    stored), ``no_ratios`` (1 per element present), ``drop_element`` (``no_ratios``, then one
    present element, drawn with ``rng.choice`` over the sorted atomic numbers, set to 0 unless
    it is the only one), ``none`` (zeros).
    """
    vec = np.asarray(fractions, dtype=np.float32)
    if mode == "full":
        return vec.copy()
    if mode == "none":
        return np.zeros_like(vec)
    if mode not in ("no_ratios", "drop_element"):
        raise ValueError(
            f"Unknown composition mode {mode!r}; choose full, no_ratios, drop_element or none."
        )
    out = (vec > 0).astype(np.float32)
    if mode == "drop_element":
        zs = np.flatnonzero(out) + 1
        if zs.size > 1:
            gen = rng if rng is not None else np.random.default_rng()
            out[gen.choice(zs) - 1] = 0.0
    return out

"""The documents the pipeline stores, as pydantic models.

=================  ===============  ====================================================
collection         model            one document per
=================  ===============  ====================================================
``structures``     StructureRecord  input structure (as ingested from a source)
``crystals``       CrystalDoc       input structure, built (or failed)
``dataset``        DatasetEntry     built crystal: kept or duplicate, and its split
``grids``          GridDoc          crystal with a DFT density on its canonical cell
``dft_grids``      GridDoc          crystal with a DFT density on the cell as downloaded
=================  ===============  ====================================================

Arrays are stored as nested lists (small ones) or as zlib-compressed, base64-encoded bytes
(grids, see :func:`encode_array`), which every store backend keeps as is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from datetime import datetime, timezone
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "CrystalDoc",
    "DatasetEntry",
    "DensitySource",
    "GridDoc",
    "Split",
    "StructureRecord",
    "content_hash",
    "decode_array",
    "encode_array",
    "utcnow",
]

DensitySource = Literal["iam", "dft"]
Split = Literal["train", "val", "test"]


def utcnow() -> datetime:
    """The current time (UTC, millisecond precision, as BSON keeps it)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def content_hash(payload: dict[str, Any]) -> str:
    """Stable SHA-256 of a JSON-serialisable mapping (key order does not matter)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def encode_array(array: NDArray, dtype: str = "float32") -> dict[str, Any]:
    """Pack an array as ``{"dtype", "shape", "zlib_b64"}`` (lossless at ``dtype``)."""
    arr = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    return {
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "zlib_b64": base64.b64encode(zlib.compress(arr.tobytes(), 6)).decode("ascii"),
    }


def decode_array(packed: dict[str, Any]) -> NDArray:
    """Inverse of :func:`encode_array`."""
    raw = zlib.decompress(base64.b64decode(packed["zlib_b64"]))
    return np.frombuffer(raw, dtype=np.dtype(packed["dtype"])).reshape(packed["shape"]).copy()


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StructureRecord(_Doc):
    """An input structure with what its source says about it.

    Exactly one of ``cif`` (text) and ``structure`` (pymatgen ``Structure.as_dict()``) is set.
    ``crystal_system`` and ``spacegroup_number`` are the source's claims, used only to select
    records before the build; the build recomputes symmetry.
    """

    material_id: str = Field(min_length=1)
    formula: str | None = None
    cif: str | None = None
    structure: dict[str, Any] | None = None
    crystal_system: str | None = None
    spacegroup_number: int | None = None
    nsites: int | None = None
    e_above_hull: float | None = None
    formation_energy_per_atom: float | None = None
    seed_split: str | None = None
    source: str | None = None
    has_dft_density: bool = False
    content_hash: str = ""
    last_updated: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _one_structure(self) -> StructureRecord:
        if (self.cif is None) == (self.structure is None):
            raise ValueError(f"{self.material_id}: give exactly one of 'cif' and 'structure'.")
        if not self.content_hash:
            self.content_hash = content_hash(self.model_dump(exclude={"last_updated", "content_hash"}))
        return self

    def to_structure(self) -> Any:
        """The pymatgen ``Structure`` (parsed from the CIF or the dict)."""
        from pymatgen.core import Structure

        if self.structure is not None:
            return Structure.from_dict(self.structure)
        return Structure.from_str(self.cif, fmt="cif")


class CrystalDoc(_Doc):
    """A built crystal: what training needs, on the canonical cell.

    Density: ``lattice`` (rows are lattice vectors, Å), ``frac_coords``, ``atomic_numbers``
    and ``occupancies`` (one entry per species on a site, so disordered sites give several)
    let the IAM density be evaluated at any point with ``b_factor``; a DFT density, where the
    source has one, is in the ``grids`` collection (``density_source="dft"``).
    Pattern: the 1024-bin XRD vector, stored sparsely (``xrd_bins``, ``xrd_values``).
    Composition: atomic fractions by atomic number (``composition_z``, ``composition_fractions``).
    """

    material_id: str
    state: Literal["successful", "failed"] = "successful"
    error: str | None = None
    config_fingerprint: str | None = None
    formula: str | None = None
    spacegroup_number: int | None = None
    spacegroup_symbol: str | None = None
    crystal_system: str | None = None
    cell: Literal["primitive", "conventional"] | None = None
    symprec: float | None = None
    b_factor: float | None = None
    wavelength: float | None = None
    nsites: int | None = None
    volume: float | None = None
    lattice: list[list[float]] | None = None
    frac_coords: list[list[float]] | None = None
    atomic_numbers: list[int] | None = None
    occupancies: list[float] | None = None
    xrd_bins: list[int] | None = None
    xrd_values: list[float] | None = None
    composition_z: list[int] | None = None
    composition_fractions: list[float] | None = None
    density_source: DensitySource | None = None
    grid_n: int | None = None
    e_above_hull: float | None = None
    formation_energy_per_atom: float | None = None
    seed_split: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _complete_when_successful(self) -> CrystalDoc:
        if self.state == "successful":
            needed = ("formula", "spacegroup_number", "crystal_system", "lattice", "frac_coords",
                      "atomic_numbers", "xrd_bins", "composition_z", "density_source")
            missing = [k for k in needed if getattr(self, k) is None]
            if missing:
                raise ValueError(f"{self.material_id}: successful document lacks {missing}.")
            n = len(self.atomic_numbers or [])
            if len(self.frac_coords or []) != n or len(self.occupancies or []) != n:
                raise ValueError(f"{self.material_id}: atom arrays differ in length.")
        return self

    @property
    def group_key(self) -> str:
        """The de-duplication key: reduced formula and space group number."""
        return f"{self.formula}|{self.spacegroup_number}"


class DatasetEntry(_Doc):
    """One built crystal's place in the dataset.

    ``kept`` is False for a duplicate (``duplicate_of`` names the crystal kept instead) and for
    a crystal outside the dataset's crystal systems. ``split`` is None where the crystal is not
    in the dataset; ``reason`` says why.
    """

    material_id: str
    formula: str
    spacegroup_number: int
    crystal_system: str
    group_key: str
    kept: bool
    duplicate_of: str | None = None
    split: Split | None = None
    split_rule: Literal["seed", "hash"] | None = None
    stable: bool | None = None
    reason: str | None = None
    last_updated: datetime = Field(default_factory=utcnow)


class GridDoc(_Doc):
    """A density grid (e/Å³) on ``lattice``: point (i, j, k) at fractional (i/n, j/n, k/n)."""

    material_id: str
    n: int
    cell: str
    lattice: list[list[float]]
    source: DensitySource = "dft"
    electrons: float
    grid: dict[str, Any]
    last_updated: datetime = Field(default_factory=utcnow)

    def array(self) -> NDArray[np.float32]:
        """The grid as an (n, n, n) float32 array."""
        return decode_array(self.grid).astype(np.float32, copy=False)

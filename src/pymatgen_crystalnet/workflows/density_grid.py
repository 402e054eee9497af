""":class:`DensityGrid`: a density on the n×n×n grid of a cell, packed losslessly in a document."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field

from pymatgen_crystalnet.workflows.provenance import Document

if TYPE_CHECKING:
    from pymatgen.core import Lattice
    from pymatgen.io.common import VolumetricData

__all__ = ["DensityGrid"]


class DensityGrid(Document):
    """A CMED on the n×n×n fractional grid of a cell, stored compactly and losslessly.

    Point (i, j, k) is at fractional (i/n, j/n, k/n); values in e/Å³ (float32, zlib, base64).

    Attributes
    ----------
    n
        Grid points per axis.
    lattice
        Rows = lattice vectors (Å).
    electrons
        Mean density × cell volume.
    sha256
        SHA-256 of the raw float32 C-order bytes.
    packed
        ``{"dtype", "shape", "zlib_b64"}`` (see ``data.schema.encode_array``).
    """

    n: int
    lattice: list[list[float]]
    units: Literal["e/Å^3"] = "e/Å^3"
    electrons: float
    sha256: str
    packed: dict[str, Any] = Field(repr=False)

    @classmethod
    def from_array(cls, grid: ArrayLike, lattice: Lattice | ArrayLike) -> DensityGrid:
        """Pack an (n, n, n) grid on ``lattice``."""
        from pymatgen_crystalnet.data.schema import encode_array
        from pymatgen_crystalnet.physics.cells import grid_electrons

        arr = np.ascontiguousarray(np.asarray(grid, dtype=np.float32))
        if arr.ndim != 3 or len(set(arr.shape)) != 1:
            raise ValueError(f"A density grid must be n×n×n, got shape {arr.shape}.")
        matrix = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
        volume = abs(float(np.linalg.det(matrix)))
        return cls(
            n=int(arr.shape[0]),
            lattice=matrix.tolist(),
            electrons=grid_electrons(arr, volume),
            sha256=hashlib.sha256(arr.tobytes()).hexdigest(),
            packed=encode_array(arr),
        )

    def array(self) -> NDArray[np.float32]:
        """The grid as an (n, n, n) float32 array."""
        from pymatgen_crystalnet.data.schema import decode_array

        return decode_array(self.packed).astype(np.float32, copy=False)

    def to_volumetric(self) -> VolumetricData:
        """The density as pymatgen ``VolumetricData`` (data = ρ × V)."""
        from pymatgen.core import Lattice

        from pymatgen_crystalnet.physics.cells import grid_to_volumetric

        return grid_to_volumetric(self.array(), Lattice(self.lattice))

"""The model's candidate densities on the solver's cells, with the inputs the model reads.

A network of the ``paper`` or ``small`` presets reads the pattern and the composition only: its
densities live on the fractional grid of whatever cell, so they are predicted once and
verified on every cell. A network that reads the cell (``lattice_dim > 0`` or
``n_reflections > 0``, see ``model/cell_inputs.py``) is asked once per cell, with that cell
(the canonical one the grid lives on) and, where it reads reflections, the amplitudes of that
cell's reflections read from the user's pattern (:attr:`PreparedPattern.vector`, restricted
to the bins the data cover) — never from anything but the input pattern. Every cell draws the
same latent noise (the generator is re-seeded per cell), so candidate i on two cells differ
only by what the cell changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch

    from pymatgen_crystalnet.model.crystalnet import CrystalNet
    from pymatgen_crystalnet.solver.inputs import PreparedPattern
    from pymatgen_crystalnet.solver.lattice import SolveCell

__all__ = ["cell_model_inputs", "predict_on_cells"]


def cell_model_inputs(
    model: CrystalNet, prepared: PreparedPattern, lattice: NDArray[np.float64], device: torch.device
) -> dict[str, torch.Tensor]:
    """The cell inputs (``lattice``, ``hkl``, ``amplitude``) of one cell, batch of 1; ``{}`` if none."""
    import torch

    spec = model.config.cell_inputs
    arrays = spec.arrays(prepared.vector[None], np.asarray(lattice, dtype=np.float64)[None], prepared.covered)
    return {key: torch.from_numpy(value).to(device) for key, value in arrays.items()}


def predict_on_cells(
    model: CrystalNet,
    prepared: PreparedPattern,
    cells: Sequence[SolveCell],
    composition: NDArray[np.float32],
    *,
    grid: int,
    k: int,
    deterministic: bool,
    seed: int,
    device: torch.device,
    temperature: float = 1.0,
) -> list[NDArray[np.float32]]:
    """``(k, n, n, n)`` candidate densities (e/Å³) for each cell, in the order of ``cells``.

    For a model that does not read the cell every entry is the same array (one prediction).
    ``temperature`` scales the latent noise (see ``CrystalNet.predict_points``).
    """
    import torch

    xrd = torch.as_tensor(prepared.vector, device=device)[None]
    comp = torch.as_tensor(composition, device=device)[None]
    gen = torch.Generator(device=device)

    def predict(extra: dict[str, torch.Tensor]) -> NDArray[np.float32]:
        gen.manual_seed(seed)
        out = model.predict_grid(
            xrd, comp, n=grid, k=k, deterministic=deterministic, generator=gen, temperature=temperature,
            **extra,
        )
        return out[:, 0].cpu().numpy()

    if not model.config.uses_cell:
        shared = predict({})
        return [shared] * len(cells)
    return [predict(cell_model_inputs(model, prepared, c.lattice.matrix, device)) for c in cells]

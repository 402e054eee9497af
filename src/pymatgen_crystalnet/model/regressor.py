"""The density regressor: an MLP with skip connections from the modulated embedding.

``regressor_blocks`` blocks of ``regressor_layers_per_block`` × (Linear → BatchNorm → ReLU),
``regressor_hidden`` wide. The first block reads the FiLM output P; every later block reads
the concatenation [h, P] of the previous block's output and P again (the DeepSDF/NeRF skip
connection). A final Linear gives one value per point, in the training space of the target
transform. A network that reads reflections (``cell_inputs.py``) appends its
``reflection_channels`` to P, so the regressor reads ``embed_dim + reflection_channels`` values.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.layers import linear_bn_relu

__all__ = ["Regressor"]


class Regressor(nn.Module):
    """Modulated embeddings ``(N, embed_dim [+ reflection_channels])`` → one value per point ``(N,)``.

    BatchNorm runs over all N = crystals × points rows of a batch.
    """

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        e, w, n = config.embed_dim, config.regressor_hidden, config.regressor_layers_per_block
        if config.n_reflections > 0:
            e += config.reflection_channels
        blocks = []
        for b in range(config.regressor_blocks):
            widths = [e if b == 0 else w + e] + [w] * n
            blocks.append(nn.Sequential(*(linear_bn_relu(p, q) for p, q in pairwise(widths))))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Linear(w, 1)

    def forward(self, modulated: torch.Tensor) -> torch.Tensor:
        """``modulated (N, n_in)`` → ``(N,)``."""
        h = self.blocks[0](modulated)
        for block in self.blocks[1:]:
            h = block(torch.cat([h, modulated], dim=-1))
        return self.out(h).squeeze(-1)

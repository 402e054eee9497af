"""Fusion of the two latent codes into FiLM parameters γ and β.

The XRD code and the composition code are concatenated (``2·latent_dim``, 1024 in the paper)
and fed to two MLPs of ``fusion_layers`` layers each — (Linear → BatchNorm → ReLU) for all but
the last, which is a plain Linear to ``embed_dim`` — one giving γ, the other β. The
positional embedding p(x) of every query point of a crystal is then modulated as
P = γ ⊙ p(x) + β (feature-wise linear modulation, Perez et al. 2018).

γ is parameterised as 1 + MLP(z), so an untrained network starts near the identity
modulation instead of near zero.

A network that reads the cell (``lattice_dim > 0``, ``cell_inputs.py``) appends its lattice
code to the concatenation: the fusion MLPs then read ``2·latent_dim + lattice_dim`` values.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.layers import linear_bn_relu

__all__ = ["FiLM"]


def _fusion_mlp(config: CrystalNetConfig, bias: bool) -> nn.Sequential:
    n_in = 2 * config.latent_dim + config.lattice_dim
    widths = [n_in] + [config.fusion_hidden] * (config.fusion_layers - 1)
    layers: list[nn.Module] = [linear_bn_relu(a, b) for a, b in pairwise(widths)]
    layers.append(nn.Linear(widths[-1], config.embed_dim, bias=bias))
    return nn.Sequential(*layers)


class FiLM(nn.Module):
    """Latent codes → (γ, β); and the modulation of positional embeddings by them."""

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        self.gamma = _fusion_mlp(config, bias=True)
        # A constant shift of P is cancelled by the regressor's BatchNorms: β needs no bias.
        self.beta = _fusion_mlp(config, bias=False)

    def forward(
        self, z_xrd: torch.Tensor, z_composition: torch.Tensor, lattice_code: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``z_xrd, z_composition (B, latent_dim)``, ``lattice_code (B, lattice_dim)`` → ``γ, β (B, E)``.

        ``lattice_code`` is None for a network that does not read the cell.
        """
        parts = [z_xrd, z_composition] if lattice_code is None else [z_xrd, z_composition, lattice_code]
        z = torch.cat(parts, dim=-1)
        return 1.0 + self.gamma(z), self.beta(z)

    @staticmethod
    def modulate(embedding: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """P = γ ⊙ p + β.

        ``embedding (B, P, E)`` (or ``(P, E)``, shared by all crystals), ``gamma, beta (B, E)``
        → ``(B, P, E)``.
        """
        return gamma.unsqueeze(-2) * embedding + beta.unsqueeze(-2)

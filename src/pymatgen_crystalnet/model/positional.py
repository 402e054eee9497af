"""Positional encoding of fractional coordinates: Fourier features, then a small MLP.

p(x) = MLP([sin 2πBx', cos 2πBx']) with x' the coordinates centred to [−0.5, 0.5] and
B ∈ R^{F×3} a fixed (non-trainable, but saved) matrix of frequency vectors:

``gaussian``
    B_ij ~ N(0, s²) (Tancik et al. random Fourier features; s = 3 in the paper).
``periodic``
    B_ij = round(N(0, s²)) integers (no all-zero row), applied to coordinates first wrapped
    into [0, 1). Every feature then has period 1 along each cell axis, so the network's
    prediction obeys ρ(x) = ρ(x + e_i) by construction.

The MLP is Linear → BatchNorm → ReLU → Linear, to ``embed_dim``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.layers import BatchNorm

__all__ = ["FourierFeatures", "make_frequencies"]


def make_frequencies(config: CrystalNetConfig) -> torch.Tensor:
    """Return the ``(n_frequencies, 3)`` frequency matrix B for ``config`` (seeded, on CPU)."""
    gen = torch.Generator().manual_seed(config.frequency_seed)
    b = torch.randn(config.n_frequencies, 3, generator=gen) * config.frequency_scale
    if config.positional_encoding == "periodic":
        b = torch.round(b)
        for _ in range(1000):
            zero = (b == 0).all(dim=1)
            if not zero.any():
                break
            redraw = torch.randn(int(zero.sum()), 3, generator=gen) * config.frequency_scale
            b[zero] = torch.round(redraw)
        else:
            raise ValueError(
                f"frequency_scale {config.frequency_scale} is too small for periodic "
                "encoding: integer frequency vectors keep rounding to zero."
            )
    return b


class FourierFeatures(nn.Module):
    """Encode fractional coordinates ``(..., 3)`` as features ``(..., embed_dim)``."""

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        self.periodic = config.positional_encoding == "periodic"
        self.register_buffer("frequencies", make_frequencies(config))
        n_features = 2 * config.n_frequencies
        self.mlp = nn.Sequential(
            nn.Linear(n_features, config.embed_dim, bias=False),
            BatchNorm(config.embed_dim),
            nn.ReLU(),
            nn.Linear(config.embed_dim, config.embed_dim),
        )

    def fourier(self, points: torch.Tensor) -> torch.Tensor:
        """The raw features ``[sin 2πBx', cos 2πBx']``: ``(..., 3)`` → ``(..., 2F)``."""
        # Always in float32: under bf16 autocast the angles (tens of radians) would lose
        # their fractional part.
        with torch.autocast(device_type=points.device.type, enabled=False):
            x = points.float()
            if self.periodic:
                x = x - torch.floor(x)
            angles = (2 * math.pi) * ((x - 0.5) @ self.frequencies.float().T)
            return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """``points (..., 3)`` fractional coordinates → ``(..., embed_dim)``."""
        lead = points.shape[:-1]
        features = self.fourier(points).reshape(-1, 2 * self.frequencies.shape[0])
        return self.mlp(features).reshape(*lead, -1)

"""The two variational encoders: XRD pattern → (μ, σ) and composition → (μ, σ).

Both end in a Gaussian head: a ``Linear + BatchNorm`` for the mean and another, followed by
``softplus`` (plus a small floor), for the standard deviation, so σ is always positive.
Latent codes are then drawn by reparameterisation, z = μ + σ·ε (see ``crystalnet.py``).
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.layers import BatchNorm, linear_bn_relu

__all__ = ["CompositionEncoder", "GaussianHead", "XRDEncoder"]


class GaussianHead(nn.Module):
    """Map features ``(B, n_in)`` to a mean ``(B, d)`` and a positive std ``(B, d)``."""

    def __init__(self, n_in: int, latent_dim: int, min_sigma: float) -> None:
        super().__init__()
        # No Linear biases: the BatchNorm that follows would cancel them (zero gradient).
        self.mean = nn.Sequential(nn.Linear(n_in, latent_dim, bias=False), BatchNorm(latent_dim))
        self.sigma = nn.Sequential(nn.Linear(n_in, latent_dim, bias=False), BatchNorm(latent_dim))
        self.min_sigma = min_sigma

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(mu, sigma)``, each ``(B, latent_dim)``, with ``sigma > 0``."""
        return self.mean(h), F.softplus(self.sigma(h)) + self.min_sigma


class _ConvNormReLU(nn.Sequential):
    """``Conv1d → LayerNorm over (channels, length) → ReLU``.

    The LayerNorm is ``GroupNorm`` with one group: it normalises each pattern over all its
    channels and positions (as ``nn.LayerNorm([C, L])``) with a per-channel affine, which
    keeps the encoder independent of the pattern length.
    """

    def __init__(self, n_in: int, n_out: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv1d(n_in, n_out, kernel_size, padding=kernel_size // 2, bias=False),
            nn.GroupNorm(1, n_out),
            nn.ReLU(),
        )


class _DenseBlock(nn.Module):
    """Densely connected convolutions: each sees the concatenation of all earlier outputs."""

    def __init__(self, n_in: int, growth_rate: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            _ConvNormReLU(n_in + i * growth_rate, growth_rate, 3) for i in range(n_layers)
        )
        self.n_out = n_in + n_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, n_in, L)`` → ``(B, n_in + n_layers·growth_rate, L)``."""
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class XRDEncoder(nn.Module):
    """1-D DenseNet on the 1024-bin pattern, regressing the XRD code's mean and std.

    stem conv (1 → ``xrd_stem_channels``) → [dense block → transition (1×1 conv, norm,
    ReLU, average pool ÷2)] × (``xrd_blocks`` − 1) → dense block → 1×1 conv to one channel →
    flatten (``n_xrd_bins / 2**(xrd_blocks − 1)`` values) → Gaussian head (Linear+BatchNorm).

    Shapes: ``xrd (B, n_xrd_bins)`` → ``mu, sigma (B, latent_dim)``.
    """

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        c = config
        layers: list[nn.Module] = [_ConvNormReLU(1, c.xrd_stem_channels, 3)]
        channels = c.xrd_stem_channels
        for block in range(c.xrd_blocks):
            dense = _DenseBlock(channels, c.xrd_growth_rate, c.xrd_layers_per_block)
            layers.append(dense)
            channels = dense.n_out
            if block < c.xrd_blocks - 1:
                layers += [_ConvNormReLU(channels, c.xrd_transition_channels, 1), nn.AvgPool1d(2)]
                channels = c.xrd_transition_channels
        layers.append(nn.Conv1d(channels, 1, kernel_size=1, bias=False))  # head BatchNorm follows
        self.features = nn.Sequential(*layers)
        self.n_flat = c.n_xrd_bins // 2 ** (c.xrd_blocks - 1)
        self.head = GaussianHead(self.n_flat, c.latent_dim, c.min_sigma)

    def forward(self, xrd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``xrd (B, n_xrd_bins)`` → ``(mu, sigma)``, each ``(B, latent_dim)``."""
        h = self.features(xrd.unsqueeze(1)).flatten(1)
        return self.head(h)


class CompositionEncoder(nn.Module):
    """MLP on the 118-vector, regressing the composition code's mean and std.

    ``composition_layers`` × (Linear → BatchNorm → ReLU) of width ``composition_hidden``,
    then the Gaussian head. Shapes: ``composition (B, n_elements)`` → ``mu, sigma
    (B, latent_dim)``.
    """

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        c = config
        widths = [c.n_elements] + [c.composition_hidden] * c.composition_layers
        self.trunk = nn.Sequential(*(linear_bn_relu(a, b) for a, b in pairwise(widths)))
        self.head = GaussianHead(widths[-1], c.latent_dim, c.min_sigma)

    def forward(self, composition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``composition (B, n_elements)`` → ``(mu, sigma)``, each ``(B, latent_dim)``."""
        return self.head(self.trunk(composition))

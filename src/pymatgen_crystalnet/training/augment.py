"""The paper's input augmentations, in torch, on a whole batch at once.

Applied in this order: a random integer shift of each XRD pattern by k ∈ [−K, K] bins (bins
moving in from the edge are empty), then Gaussian noise N(0, σ²) on the XRD and composition
vectors, then ReLU (docs/science.md, 'Training').
"""

from __future__ import annotations

import torch

__all__ = ["add_noise_relu", "shift_patterns"]


def shift_patterns(xrd: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Shift each pattern by an integer number of bins.

    Parameters
    ----------
    xrd
        ``(B, L)`` patterns.
    shifts
        ``(B,)`` integer shifts; positive moves peaks to higher bins (larger 2θ).

    Returns
    -------
    torch.Tensor
        ``(B, L)``; ``out[b, i] = xrd[b, i − shifts[b]]``, zero where that index is outside.
    """
    n = xrd.shape[-1]
    source = torch.arange(n, device=xrd.device).unsqueeze(0) - shifts.long().unsqueeze(1)
    inside = (source >= 0) & (source < n)
    out = torch.gather(xrd, 1, source.clamp(0, n - 1))
    return torch.where(inside, out, torch.zeros_like(out))


def add_noise_relu(x: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
    """``relu(x + sigma · noise)`` with ``noise`` standard normal of the same shape."""
    if sigma == 0:
        return x
    return torch.relu(x + sigma * noise)

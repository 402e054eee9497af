"""Posterior-collapse diagnostics of the two encoders, accumulated over validation crystals.

For each encoder (XRD, composition) and each latent dimension d, over the crystals x of the
validation subset (the encoders in eval mode, on the inputs without augmentation):

- the KL of the code, KL_d = E_x[½(μ_d² + σ_d² − 1) − log σ_d] (nats);
- the mean σ_d, the noise a latent sample adds;
- the spread of μ_d across crystals, sd_x(μ_d), the signal that tells crystals apart.

A dimension is *active* when Var_x(μ_d) > 0.01 (Burda et al., 2016). When the mean σ is close
to 1 and sd(μ) is small, a latent sample is mostly the prior's noise: the decoder cannot read
the input through it, and candidates of one crystal differ more from each other than from
those of another crystal.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

__all__ = ["ACTIVE_VARIANCE", "LatentStats"]

#: Var_x(μ_d) above which a latent dimension counts as active.
ACTIVE_VARIANCE = 0.01


class LatentStats:
    """Sums over crystals of one encoder's μ, μ², σ and KL per dimension.

    Parameters
    ----------
    dim
        Latent dimensions D.
    device
        Where the sums live.
    """

    def __init__(self, dim: int, device: torch.device) -> None:
        # rows: count (in column 0), Σμ, Σμ², Σσ, ΣKL
        self.sums = torch.zeros(5, dim, device=device, dtype=torch.float64)

    def add(self, mu: torch.Tensor, sigma: torch.Tensor) -> None:
        """Add a batch of codes, ``mu`` and ``sigma`` of shape ``(B, D)``."""
        mu, sigma = mu.double(), sigma.double()
        kl = 0.5 * (mu**2 + sigma**2 - 1.0) - torch.log(sigma)
        self.sums[0, 0] += mu.shape[0]
        self.sums[1] += mu.sum(0)
        self.sums[2] += (mu**2).sum(0)
        self.sums[3] += sigma.sum(0)
        self.sums[4] += kl.sum(0)

    def all_reduce(self) -> None:
        """Sum over the processes of a process group (no-op without one)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.sums)

    def kl_per_dim(self) -> list[float]:
        """Mean KL of each dimension over the crystals (nats)."""
        n = max(self.sums[0, 0].item(), 1.0)
        return (self.sums[4] / n).tolist()

    def summary(self, prefix: str) -> dict[str, float]:
        """The diagnostics of the crystals added so far, named ``{prefix}_…``.

        ``{prefix}_kl`` (mean over dimensions of the per-dimension KL), ``{prefix}_sigma``
        (mean σ), ``{prefix}_mu_spread`` (sd of μ across crystals, averaged over dimensions),
        ``{prefix}_active`` (dimensions with Var(μ) > :data:`ACTIVE_VARIANCE`).
        """
        n = self.sums[0, 0].item()
        if n < 1:
            nan = math.nan
            return {f"{prefix}_kl": nan, f"{prefix}_sigma": nan, f"{prefix}_mu_spread": nan,
                    f"{prefix}_active": nan}
        mean = self.sums[1] / n
        var = (self.sums[2] / n - mean**2).clamp_min(0.0) * (n / max(n - 1.0, 1.0))
        return {
            f"{prefix}_kl": (self.sums[4] / n).mean().item(),
            f"{prefix}_sigma": (self.sums[3] / n).mean().item(),
            f"{prefix}_mu_spread": var.sqrt().mean().item(),
            f"{prefix}_active": int((var > ACTIVE_VARIANCE).sum().item()),
        }

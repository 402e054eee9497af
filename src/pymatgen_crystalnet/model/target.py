"""The training-space transform of densities, and the loss of the model: L1 + β·(KL_x + KL_c).

IAM densities span orders of magnitude (near zero between atoms, up to ~10³ e/Å³ at heavy
nuclei), so the network may regress a compressed target y = T(ρ). Every prediction the
package hands out is mapped back to e/Å³ by :func:`target_to_density`.
"""

from __future__ import annotations

import torch

from pymatgen_crystalnet.model.config import CrystalNetConfig

__all__ = ["density_to_target", "kl_divergence", "l1_loss", "loss_terms", "target_to_density"]


def density_to_target(density: torch.Tensor, config: CrystalNetConfig) -> torch.Tensor:
    """Map densities (e/Å³) to the training space: log(1 + ρ/s) or ρ/s (any shape)."""
    scaled = density / config.target_scale
    if config.target_transform == "log1p":
        return torch.log1p(scaled.clamp_min(0.0))
    return scaled


def target_to_density(target: torch.Tensor, config: CrystalNetConfig) -> torch.Tensor:
    """Map network outputs back to densities in e/Å³ (any shape); clamps at 0 if configured."""
    if config.target_transform == "log1p":
        density = config.target_scale * torch.expm1(target)
    else:
        density = config.target_scale * target
    return density.clamp_min(0.0) if config.nonnegative else density


def kl_divergence(mu: torch.Tensor, sigma: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per crystal.

    Parameters
    ----------
    mu, sigma
        ``(B, D)`` means and (positive) standard deviations of the latent code.
    reduction
        ``"mean"`` or ``"sum"`` over the D latent dimensions.

    Returns
    -------
    torch.Tensor
        ``(B,)``: ½ Σ_d (μ_d² + σ_d² − 1 − 2 log σ_d), or that sum divided by D.
    """
    per_dim = 0.5 * (mu.float() ** 2 + sigma.float() ** 2 - 1.0) - torch.log(sigma.float())
    return per_dim.mean(-1) if reduction == "mean" else per_dim.sum(-1)


def l1_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over all points of all crystals (a scalar)."""
    return (prediction.float() - target.float()).abs().mean()


def loss_terms(
    output: dict[str, torch.Tensor], density: torch.Tensor, config: CrystalNetConfig
) -> dict[str, torch.Tensor]:
    """The training objective of one batch (docs/science.md, 'Training').

    Parameters
    ----------
    output
        :meth:`CrystalNet.forward` output (``density`` in training space, ``kl_xrd``,
        ``kl_composition`` per crystal).
    density
        ``(B, P)`` true densities in e/Å³.
    config
        The model config (target transform, β).

    Returns
    -------
    dict
        Scalars ``loss`` = ``l1`` + β·(``kl_xrd`` + ``kl_composition``), where ``l1`` is the
        mean absolute error in training space over all points and the KL terms are averaged
        over the crystals.
    """
    l1 = l1_loss(output["density"], density_to_target(density, config))
    kl_x = output["kl_xrd"].float().mean()
    kl_c = output["kl_composition"].float().mean()
    return {"loss": l1 + config.beta_kl * (kl_x + kl_c), "l1": l1, "kl_xrd": kl_x, "kl_composition": kl_c}

"""The training objective with the study's KL options: warm-up of β and free bits.

Without them (``kl_warmup_epochs = 0``, ``free_bits = 0``, the defaults) the objective is the
model's own :func:`~pymatgen_crystalnet.model.target.loss_terms`, L1 + β·(KL_x + KL_c), to
the bit. With them:

- **warm-up**: β_t = β · min(1, t / ``kl_warmup_epochs``), t the fractional epoch of the step;
- **free bits**: each latent dimension's KL, averaged over the batch, counts as
  max(KL_d, λ) with λ = ``free_bits`` nats, then the dimensions are reduced as the model's
  ``kl_reduction`` says (mean or sum). A dimension whose KL is below λ is not pushed further
  towards the prior, which keeps the optimiser from collapsing it for a small gain.

The reported ``kl_xrd`` / ``kl_composition`` are always the plain KL (without the floor), so
runs with and without free bits can be compared.

- **electron count** (``electron_weight`` λ > 0): λ · mean over crystals of
  |log((ρ̄_pred + ε) / (ρ̄_true + ε))|, ρ̄ the mean density (e/Å³) over the crystal's
  stratified query points, an estimate of its electrons per volume from the same points for
  the prediction and the truth (:func:`electron_term`; reported as ``electrons``).
"""

from __future__ import annotations

import torch

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.target import density_to_target, l1_loss, loss_terms, target_to_density
from pymatgen_crystalnet.training.config import TrainingConfig

__all__ = ["electron_term", "kl_per_dimension", "kl_weight", "training_loss"]

#: Floor (e/Å³) added to both mean densities of the electron-count term.
ELECTRON_EPS: float = 1e-3


def kl_weight(model_config: CrystalNetConfig, config: TrainingConfig, progress: float) -> float:
    """β at fractional epoch ``progress`` (β · min(1, progress / kl_warmup_epochs))."""
    if config.kl_warmup_epochs <= 0:
        return model_config.beta_kl
    return model_config.beta_kl * min(1.0, max(0.0, progress) / config.kl_warmup_epochs)


def kl_per_dimension(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) of each latent dimension of each crystal, ``(B, D)`` (nats)."""
    mu, sigma = mu.float(), sigma.float()
    return 0.5 * (mu**2 + sigma**2 - 1.0) - torch.log(sigma)


def electron_term(
    prediction: torch.Tensor, density: torch.Tensor, model_config: CrystalNetConfig
) -> torch.Tensor:
    """Mean over crystals of |log((ρ̄_pred + ε) / (ρ̄_true + ε))| over their query points.

    Parameters
    ----------
    prediction
        ``(B, P)`` the model's output in training space (``output["density"]``).
    density
        ``(B, P)`` true densities (e/Å³) at the same points.
    model_config
        The target transform.
    """
    predicted = target_to_density(prediction.float(), model_config).mean(dim=-1)
    true = density.float().mean(dim=-1)
    return torch.log((predicted + ELECTRON_EPS) / (true + ELECTRON_EPS)).abs().mean()


def _floored(per_dim: torch.Tensor, floor: float, reduction: str) -> torch.Tensor:
    batch_mean = per_dim.mean(0).clamp_min(floor)
    return batch_mean.mean() if reduction == "mean" else batch_mean.sum()


def training_loss(
    output: dict[str, torch.Tensor],
    density: torch.Tensor,
    model_config: CrystalNetConfig,
    config: TrainingConfig,
    progress: float,
) -> dict[str, torch.Tensor]:
    """The objective of one batch (scalars ``loss``, ``l1``, ``kl_xrd``, ``kl_composition``;
    ``electrons`` too with an electron-count term).

    Parameters
    ----------
    output
        :meth:`CrystalNet.forward` output.
    density
        ``(B, P)`` true densities (e/Å³).
    model_config
        β, ``kl_reduction``, the target transform.
    config
        ``kl_warmup_epochs``, ``free_bits``, ``electron_weight``.
    progress
        Fractional epoch of the step (epoch + step / steps), for the warm-up.
    """
    terms = _kl_objective(output, density, model_config, config, progress)
    if config.electron_weight > 0:
        electrons = electron_term(output["density"], density, model_config)
        terms = {**terms, "loss": terms["loss"] + config.electron_weight * electrons, "electrons": electrons}
    return terms


def _kl_objective(
    output: dict[str, torch.Tensor],
    density: torch.Tensor,
    model_config: CrystalNetConfig,
    config: TrainingConfig,
    progress: float,
) -> dict[str, torch.Tensor]:
    """L1 + β·KL with the warm-up and free bits (the model's own loss when both are off)."""
    if config.kl_warmup_epochs <= 0 and config.free_bits <= 0:
        return loss_terms(output, density, model_config)
    beta = kl_weight(model_config, config, progress)
    l1 = l1_loss(output["density"], density_to_target(density, model_config))
    kl_x = output["kl_xrd"].float().mean()
    kl_c = output["kl_composition"].float().mean()
    if config.free_bits > 0:
        reduction = model_config.kl_reduction
        pen_x = _floored(kl_per_dimension(output["mu_xrd"], output["sigma_xrd"]), config.free_bits, reduction)
        if model_config.uses_composition:
            pen_c = _floored(
                kl_per_dimension(output["mu_composition"], output["sigma_composition"]),
                config.free_bits,
                reduction,
            )
        else:
            pen_c = torch.zeros_like(pen_x)
    else:
        pen_x, pen_c = kl_x, kl_c
    return {"loss": l1 + beta * (pen_x + pen_c), "l1": l1, "kl_xrd": kl_x, "kl_composition": kl_c}

"""CrystalNet: a variational, query-based network from (XRD, composition) to electron density.

The network is a conditional implicit neural representation (docs/science.md, 'The network')::

    xrd (B, 1024)        ──XRDEncoder──────────►  μ_x, σ_x (B, D) ─┐  z_x = μ_x + σ_x·ε_x
    composition (B, 118) ──CompositionEncoder──►  μ_c, σ_c (B, D) ─┤  z_c = μ_c + σ_c·ε_c
                                                                   ▼
                                              FiLM([z_x, z_c]) → γ, β (B, E)
    points (B, P, 3) ──FourierFeatures──► p (B, P, E) ──► γ⊙p + β ──► Regressor ──► (B, P)

with D = ``latent_dim`` and E = ``embed_dim``. The encoders and the fusion run once per
crystal; only the positional encoding and the regressor run per query point, so a crystal's
P points share its codes. The regressor's output lives in the training space of the target
transform (``target.py``); the ``predict_*`` methods return e/Å³.

With ``composition_mode == "none"`` the network has no composition encoder and z_c ≡ 0.

Optional inputs from the known cell (``cell_inputs.py``; off in the ``paper`` and ``small``
presets): with ``lattice_dim > 0`` the cell ``lattice (B, 3, 3)`` becomes a code that joins
[z_x, z_c] at the FiLM input; with ``n_reflections > 0`` the observed amplitudes of the cell's
reflections (``hkl (B, K, 3)``, ``amplitude (B, K)``) become ``reflection_channels`` learnt
Fourier syntheses per query point, concatenated to γ⊙p + β before the regressor. Every method
that evaluates the network takes them as the keyword arguments ``lattice``, ``hkl`` and
``amplitude`` (:attr:`CrystalNetConfig.cell_inputs` says which, and computes them from
patterns and cells).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from pymatgen_crystalnet.model.cell_inputs import CellEncoder
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.encoders import CompositionEncoder, XRDEncoder
from pymatgen_crystalnet.model.film import FiLM
from pymatgen_crystalnet.model.positional import FourierFeatures
from pymatgen_crystalnet.model.regressor import Regressor
from pymatgen_crystalnet.model.target import kl_divergence, target_to_density

__all__ = ["CrystalNet", "grid_points"]

logger = logging.getLogger(__name__)


def grid_points(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Fractional coordinates of an n×n×n grid, ``(n³, 3)``, C order.

    Row ``(i·n + j)·n + k`` is the point (i/n, j/n, k/n), so ``values.reshape(n, n, n)``
    puts the value at (i/n, j/n, k/n) at index ``[i, j, k]``.
    """
    if n < 1:
        raise ValueError(f"Grid size must be at least 1, got {n}.")
    axis = torch.arange(n, dtype=torch.float32, device=device) / n
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


class CrystalNet(nn.Module):
    """The CrystalNet model. Build it from a :class:`CrystalNetConfig`.

    Parameters
    ----------
    config
        Hyperparameters; ``CrystalNetConfig.from_preset("small")`` for example.
    """

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        self.config = config
        self.xrd_encoder = XRDEncoder(config)
        self.composition_encoder = CompositionEncoder(config) if config.uses_composition else None
        self.positional = FourierFeatures(config)
        self.film = FiLM(config)
        self.regressor = Regressor(config)
        # inputs from the known cell; absent (no parameters) in the paper's network
        self.cell = CellEncoder(config) if config.uses_cell else None

    # ------------------------------------------------------------------ building blocks
    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of (trainable) parameters; the Fourier frequencies are a buffer, not counted."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _check_inputs(self, xrd: torch.Tensor, composition: torch.Tensor) -> None:
        c = self.config
        if xrd.dim() != 2 or xrd.shape[1] != c.n_xrd_bins:
            raise ValueError(f"xrd must have shape (B, {c.n_xrd_bins}), got {tuple(xrd.shape)}.")
        if composition.dim() != 2 or composition.shape != (xrd.shape[0], c.n_elements):
            raise ValueError(
                f"composition must have shape ({xrd.shape[0]}, {c.n_elements}), "
                f"got {tuple(composition.shape)}."
            )

    def encode_cell(
        self,
        batch: int,
        lattice: torch.Tensor | None = None,
        hkl: torch.Tensor | None = None,
        amplitude: torch.Tensor | None = None,
    ) -> dict[str, Any] | None:
        """The per-crystal code of the cell inputs (:class:`~.cell_inputs.CellEncoder`); None without them."""
        if self.cell is None:
            return None
        dtype = self.positional.frequencies.dtype
        return self.cell(batch, lattice, hkl, amplitude, dtype=dtype)

    def encode(self, xrd: torch.Tensor, composition: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run both encoders.

        Parameters
        ----------
        xrd
            ``(B, n_xrd_bins)`` XRD vectors.
        composition
            ``(B, n_elements)`` composition vectors (ignored when the model has no
            composition branch).

        Returns
        -------
        dict
            ``mu_xrd, sigma_xrd, mu_composition, sigma_composition``, each ``(B, latent_dim)``;
            without a composition branch the last two are zeros.
        """
        self._check_inputs(xrd, composition)
        dtype = self.positional.frequencies.dtype  # float32 inputs whatever the caller passed
        xrd, composition = xrd.to(dtype), composition.to(dtype)
        mu_x, sigma_x = self.xrd_encoder(xrd)
        if self.composition_encoder is not None:
            mu_c, sigma_c = self.composition_encoder(composition)
        else:
            mu_c = sigma_c = torch.zeros_like(mu_x)
        return {
            "mu_xrd": mu_x,
            "sigma_xrd": sigma_x,
            "mu_composition": mu_c,
            "sigma_composition": sigma_c,
        }

    @staticmethod
    def reparameterise(
        mu: torch.Tensor, sigma: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Z = μ + σ·ε with ε ~ N(0, 1) (drawn from the global RNG when not given)."""
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + sigma * eps

    def decode(
        self,
        z_xrd: torch.Tensor,
        z_composition: torch.Tensor,
        points: torch.Tensor,
        cell: dict[str, Any] | None = None,
    ) -> torch.Tensor:
        """Evaluate the density field of each latent pair at query points.

        Parameters
        ----------
        z_xrd, z_composition
            ``(..., latent_dim)`` latent codes, leading shape S (e.g. ``(B,)`` or ``(k, B)``).
        points
            ``(P, 3)`` fractional coordinates shared by all codes, or per-crystal points whose
            leading shape broadcasts against S, e.g. ``(B, P, 3)``.
        cell
            :meth:`encode_cell` of the B crystals (needed when the network reads the cell).

        Returns
        -------
        torch.Tensor
            ``(*S, P)`` values in the training space of the target transform.
        """
        lead = z_xrd.shape[:-1]
        lattice_code = None if cell is None else cell["lattice"]
        if lattice_code is not None:
            lattice_code = lattice_code.expand(*lead, lattice_code.shape[-1])
        gamma, beta = self.film(
            z_xrd.reshape(-1, z_xrd.shape[-1]),
            z_composition.reshape(-1, z_xrd.shape[-1]),
            None if lattice_code is None else lattice_code.reshape(-1, lattice_code.shape[-1]),
        )
        gamma = gamma.reshape(*lead, -1)
        beta = beta.reshape(*lead, -1)
        modulated = FiLM.modulate(self.positional(points), gamma, beta)
        if self.cell is not None and self.cell.reflections is not None:
            if cell is None:
                raise ValueError("This model reads reflections: decode needs cell=encode_cell(...).")
            parts = [z_xrd, z_composition] + ([] if lattice_code is None else [lattice_code])
            channels = self.cell.reflections(points, cell["reflections"], torch.cat(parts, dim=-1))
            modulated = torch.cat([modulated, channels.to(modulated.dtype)], dim=-1)
        out = self.regressor(modulated.reshape(-1, modulated.shape[-1]))
        return out.reshape(modulated.shape[:-1])

    # ------------------------------------------------------------------ training forward
    def forward(
        self,
        xrd: torch.Tensor,
        composition: torch.Tensor,
        points: torch.Tensor,
        sample: bool = True,
        eps: tuple[torch.Tensor, torch.Tensor] | None = None,
        *,
        lattice: torch.Tensor | None = None,
        hkl: torch.Tensor | None = None,
        amplitude: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Training/inference pass on one batch of crystals.

        Parameters
        ----------
        xrd
            ``(B, n_xrd_bins)``.
        composition
            ``(B, n_elements)``.
        points
            ``(B, P, 3)`` fractional coordinates of the query points (or ``(P, 3)`` shared).
        sample
            Draw z = μ + σ·ε (training); ``False`` uses z = μ.
        eps
            Optional ``(eps_xrd, eps_composition)``, each ``(B, latent_dim)``, standard normal
            noise to use instead of the global RNG (the trainer uses this to make distributed
            runs draw exactly the noise of a single-process run).
        lattice, hkl, amplitude
            The cell inputs (see :meth:`encode_cell`), for a network that reads them.

        Returns
        -------
        dict
            ``density`` ``(B, P)`` in training space; ``mu_xrd``, ``sigma_xrd``,
            ``mu_composition``, ``sigma_composition`` ``(B, latent_dim)``; ``kl_xrd``,
            ``kl_composition`` ``(B,)`` (zero without a composition branch).
        """
        enc = self.encode(xrd, composition)
        cell = self.encode_cell(xrd.shape[0], lattice, hkl, amplitude)
        if sample:
            e_x, e_c = eps if eps is not None else (None, None)
            z_x = self.reparameterise(enc["mu_xrd"], enc["sigma_xrd"], e_x)
            z_c = self.reparameterise(enc["mu_composition"], enc["sigma_composition"], e_c)
        else:
            z_x, z_c = enc["mu_xrd"], enc["mu_composition"]
        density = self.decode(z_x, z_c, points, cell)
        kl_x = kl_divergence(enc["mu_xrd"], enc["sigma_xrd"], self.config.kl_reduction)
        if self.composition_encoder is not None:
            kl_c = kl_divergence(enc["mu_composition"], enc["sigma_composition"], self.config.kl_reduction)
        else:
            kl_c = torch.zeros_like(kl_x)
        return {"density": density, **enc, "kl_xrd": kl_x, "kl_composition": kl_c}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_points(
        self,
        xrd: torch.Tensor,
        composition: torch.Tensor,
        points: torch.Tensor,
        k: int = 5,
        deterministic: bool = False,
        batch_points: int = 2**17,
        generator: torch.Generator | None = None,
        *,
        lattice: torch.Tensor | None = None,
        hkl: torch.Tensor | None = None,
        amplitude: torch.Tensor | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Densities (e/Å³) of k latent samples per crystal at the given points.

        Runs in eval mode (BatchNorm uses its running statistics) and restores the previous
        mode. Memory is bounded: at most about ``batch_points`` rows (samples × crystals ×
        points) go through the regressor at once.

        Parameters
        ----------
        xrd, composition
            ``(B, n_xrd_bins)`` and ``(B, n_elements)``.
        points
            ``(P, 3)`` shared by all crystals, or ``(B, P, 3)``.
        k
            Latent samples per crystal.
        deterministic
            Use z = μ (σ = 0) for every sample instead of drawing.
        batch_points
            Upper bound on rows evaluated at once.
        generator
            Optional RNG (on the model's device) for the latent noise.
        lattice, hkl, amplitude
            The cell inputs (see :meth:`encode_cell`), for a network that reads them.
        temperature
            Scale of the latent noise: z = μ + T·σ·ε (1: the encoders' posterior; 0: the
            means, as ``deterministic``; between: samples closer to the means).

        Returns
        -------
        torch.Tensor
            ``(k, B, P)`` densities in e/Å³.
        """
        if not 0.0 <= temperature < float("inf"):
            raise ValueError(f"temperature must be finite and non-negative, got {temperature}.")
        was_training = self.training
        self.eval()
        try:
            enc = self.encode(xrd, composition)
            cell = self.encode_cell(xrd.shape[0], lattice, hkl, amplitude)
            mu_x, mu_c = enc["mu_xrd"], enc["mu_composition"]
            b, d = mu_x.shape
            if deterministic or temperature == 0:
                z_x = mu_x.expand(k, b, d)
                z_c = mu_c.expand(k, b, d)
            else:
                shape = (k, b, d)
                sigma_x, sigma_c = enc["sigma_xrd"], enc["sigma_composition"]
                if temperature != 1.0:
                    sigma_x, sigma_c = temperature * sigma_x, temperature * sigma_c
                z_x = mu_x + sigma_x * torch.randn(
                    shape, generator=generator, device=mu_x.device, dtype=mu_x.dtype
                )
                z_c = mu_c + sigma_c * torch.randn(
                    shape, generator=generator, device=mu_c.device, dtype=mu_c.dtype
                )
            n_points = points.shape[-2]
            chunk = max(1, batch_points // max(1, k * b))
            out = []
            for start in range(0, n_points, chunk):
                part = points[..., start : start + chunk, :]
                out.append(self.decode(z_x, z_c, part, cell))
            y = torch.cat(out, dim=-1) if out else torch.empty(k, b, 0, device=mu_x.device)
            return target_to_density(y.float(), self.config)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def predict_grid(
        self,
        xrd: torch.Tensor,
        composition: torch.Tensor,
        n: int = 50,
        k: int = 5,
        deterministic: bool = False,
        batch_points: int = 2**17,
        generator: torch.Generator | None = None,
        *,
        lattice: torch.Tensor | None = None,
        hkl: torch.Tensor | None = None,
        amplitude: torch.Tensor | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """Densities (e/Å³) of k latent samples on the n×n×n fractional grid of each crystal.

        ``lattice``, ``hkl``, ``amplitude``: the cell inputs, for a network that reads them;
        ``temperature`` scales the latent noise (see :meth:`predict_points`).

        Returns
        -------
        torch.Tensor
            ``(k, B, n, n, n)``; index ``[s, b, i, j, l]`` is sample s of crystal b at the
            fractional point (i/n, j/n, l/n).
        """
        pts = grid_points(n, device=xrd.device)
        out = self.predict_points(
            xrd,
            composition,
            pts,
            k=k,
            deterministic=deterministic,
            batch_points=batch_points,
            generator=generator,
            lattice=lattice,
            hkl=hkl,
            amplitude=amplitude,
            temperature=temperature,
        )
        return out.reshape(k, xrd.shape[0], n, n, n)

    def extra_repr(self) -> str:
        """Show the preset and the parameter count in ``print(model)``."""
        return f"preset={self.config.preset!r}, parameters={self.num_parameters():,}"

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> CrystalNet:
        """A freshly initialised model of the named preset (``"paper"``, ``"small"``, …)."""
        return cls(CrystalNetConfig.from_preset(name, **overrides))

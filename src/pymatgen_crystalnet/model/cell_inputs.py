"""Optional inputs from the known cell: the lattice, and the pattern placed on it.

Both are off in the paper's network (``lattice_dim = 0``, ``n_reflections = 0``) and in the
``paper`` / ``small`` presets; docs/model.md describes them and their cost.

:class:`LatticeEncoder` (``lattice_dim > 0``)
    The cell ``(B, 3, 3)`` (rows in Å, the cell the density grid lives on) as seven numbers,
    :func:`lattice_features` — a, b, c divided by V^{1/3}, cos α, cos β, cos γ and
    log₁₀(V / 100 Å³) — through a two-layer MLP to a ``lattice_dim`` code that joins the two
    latent codes at the input of the FiLM fusion (and of the reflection mixing below). The
    cell is known exactly, so the code is deterministic (no KL term).

:class:`ReflectionSynthesis` (``n_reflections > 0``)
    Reads the observed amplitudes ``|F_h|`` of the cell's first K reflections (Miller indices
    ``hkl (B, K, 3)``, ``amplitude (B, K)``, from
    :func:`pymatgen_crystalnet.featurize.reflections.read_reflections`) and gives every query
    point x ``reflection_channels`` = M values

        c_m(x) = Σ_h |F_h| [u_hm cos(2π h·x) + v_hm sin(2π h·x)]

    — Fourier syntheses whose coefficients ``u, v`` (B, K, M) an MLP computes per crystal and
    per reflection from the reflection (its amplitude, |g|, its indices and their parities),
    a pooled summary of all the crystal's reflections (DeepSets) and the crystal's latent
    codes (and lattice code). The coefficients play the part of the phases: for a
    centrosymmetric crystal u_h = ±1, v_h = 0 gives the true density's Fourier series. The
    channels are concatenated to the FiLM-modulated embedding the regressor reads. The
    (cos, sin) table is evaluated in float32 whatever the autocast, and only per point; the
    coefficients once per crystal and latent sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from pymatgen_crystalnet.model.config import CrystalNetConfig

__all__ = [
    "CELL_KEYS",
    "N_LATTICE_FEATURES",
    "N_TOKEN_FEATURES",
    "CellEncoder",
    "LatticeEncoder",
    "ReflectionSynthesis",
    "cell_tensors",
    "lattice_features",
    "reflection_basis",
    "reflection_tokens",
]

#: Length of :func:`lattice_features`.
N_LATTICE_FEATURES = 7
#: Length of :func:`reflection_tokens`' per-reflection features.
N_TOKEN_FEATURES = 18


def lattice_features(lattice: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` cells (rows, Å) → ``(..., 7)`` scale-free shape numbers and the volume.

    ``[a, b, c] / V^{1/3}``, ``cos α, cos β, cos γ`` (α between b and c, β between a and c,
    γ between a and b) and ``log₁₀(V / 100 Å³)``.
    """
    lat = lattice.float()
    volume = torch.linalg.det(lat).abs().clamp_min(1e-6)
    lengths = torch.linalg.norm(lat, dim=-1)
    a, b, c = lat[..., 0, :], lat[..., 1, :], lat[..., 2, :]
    la, lb, lc = lengths[..., 0], lengths[..., 1], lengths[..., 2]
    cos_alpha = (b * c).sum(-1) / (lb * lc)
    cos_beta = (a * c).sum(-1) / (la * lc)
    cos_gamma = (a * b).sum(-1) / (la * lb)
    scaled = lengths / volume.unsqueeze(-1) ** (1.0 / 3.0)
    log_v = torch.log10(volume / 100.0)
    return torch.cat([scaled, torch.stack([cos_alpha, cos_beta, cos_gamma, log_v], dim=-1)], dim=-1)


class LatticeEncoder(nn.Module):
    """``lattice (B, 3, 3)`` → ``(B, lattice_dim)``: :func:`lattice_features` through a 2-layer MLP.

    No BatchNorm: a batch may hold one cell shape only (all cubic), whose statistics would
    not describe another.
    """

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(N_LATTICE_FEATURES, config.lattice_hidden),
            nn.ReLU(),
            nn.Linear(config.lattice_hidden, config.lattice_dim),
        )

    def forward(self, lattice: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 3)`` → ``(B, lattice_dim)``."""
        return self.mlp(lattice_features(lattice))


def _cos_sin(points: torch.Tensor, hkl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos 2πh·x`` and ``sin 2πh·x``, each ``(B, P, K)``, in float32 whatever the autocast."""
    with torch.autocast(device_type=points.device.type, enabled=False):
        angles = (2 * math.pi) * torch.matmul(points.float(), hkl.float().transpose(-1, -2))
        return torch.cos(angles), torch.sin(angles)


def reflection_basis(
    points: torch.Tensor, hkl: torch.Tensor, amplitude: torch.Tensor | None = None
) -> torch.Tensor:
    """The per-point features ``[|F_h| cos 2πh·x, |F_h| sin 2πh·x]``, float32.

    Parameters
    ----------
    points
        ``(P, 3)`` fractional coordinates shared by all crystals, or ``(B, P, 3)``.
    hkl
        ``(B, K, 3)`` Miller indices (any dtype).
    amplitude
        ``(B, K)`` amplitudes, or None for the bare ``[cos, sin]``.

    Returns
    -------
    torch.Tensor
        ``(B, P, 2K)``: the K cosines, then the K sines. (:class:`ReflectionSynthesis` uses the
        two halves without building this concatenation.)
    """
    cos, sin = _cos_sin(points, hkl)
    if amplitude is not None:
        amp = amplitude.float().unsqueeze(-2)
        cos, sin = cos * amp, sin * amp
    return torch.cat([cos, sin], dim=-1)


def reflection_tokens(hkl: torch.Tensor, amplitude: torch.Tensor, lattice: torch.Tensor) -> torch.Tensor:
    """``(B, K, 18)`` features of each reflection the coefficient network reads.

    Amplitude (×√K_valid, so O(1)), log of that, |g| (Å⁻¹) and |g|·V^{1/3} (≈ |h| in a
    cube), h/8, k/8, l/8, cos πh, cos πk, cos πl, cos π(h+k+l), cos(πh/2), sin(πh/2) and the
    same for k and l (the parities that sign patterns often follow), and a flag that is 1 for
    a reflection and 0 for a padding row (indices 0 0 0).
    """
    h = hkl.float()
    lat = lattice.float()
    valid = (hkl != 0).any(dim=-1).float()
    n_valid = valid.sum(-1, keepdim=True).clamp_min(1.0)
    amp = amplitude.float() * n_valid.sqrt()
    recip = torch.linalg.inv(lat).transpose(-1, -2)  # rows a*, b*, c* (no 2π)
    g = torch.linalg.norm(torch.matmul(h, recip), dim=-1)
    scale = torch.linalg.det(lat).abs().clamp_min(1e-6) ** (1.0 / 3.0)
    half = (math.pi / 2) * h
    return torch.cat(
        [
            amp.unsqueeze(-1),
            torch.log(amp + 1e-3).unsqueeze(-1),
            g.unsqueeze(-1),
            (g * scale.unsqueeze(-1)).unsqueeze(-1),
            h / 8.0,
            torch.cos(math.pi * h),
            torch.cos(math.pi * h.sum(-1, keepdim=True)),
            torch.cos(half),
            torch.sin(half),
            valid.unsqueeze(-1),
        ],
        dim=-1,
    ) * valid.unsqueeze(-1)


class ReflectionSynthesis(nn.Module):
    """Learnt Fourier syntheses of the observed amplitudes: ``reflection_channels`` per point."""

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        hidden, m = config.reflection_hidden, config.reflection_channels
        self.n_channels = m
        context = 2 * config.latent_dim + config.lattice_dim
        self.token = nn.Sequential(
            nn.Linear(N_TOKEN_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.pooled = nn.Linear(hidden, hidden, bias=False)
        self.context = nn.Linear(context, hidden, bias=False)
        self.mix = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2 * m))

    def encode(
        self, hkl: torch.Tensor, amplitude: torch.Tensor, lattice: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-crystal reflection code: token embeddings ``(B, K, H)`` and their pooled mean ``(B, H)``."""
        feats = reflection_tokens(hkl, amplitude, lattice)
        valid = (hkl != 0).any(dim=-1).to(feats.dtype).unsqueeze(-1)
        tokens = self.token(feats)
        pooled = (tokens * valid).sum(-2) / valid.sum(-2).clamp_min(1.0)
        return {"tokens": tokens, "pooled": pooled, "hkl": hkl, "amplitude": amplitude.float()}

    def coefficients(self, code: dict[str, torch.Tensor], context: torch.Tensor) -> torch.Tensor:
        """``(*S, 2K, M)`` synthesis coefficients (times the amplitudes) of each latent sample.

        ``context`` is ``(*S, 2·latent_dim + lattice_dim)`` with ``S`` ending in the batch
        (``(B,)`` or ``(k, B)``).
        """
        base = code["tokens"] + self.pooled(code["pooled"]).unsqueeze(-2)  # (B, K, H)
        hidden = base + self.context(context).unsqueeze(-2)  # (*S, K, H)
        w = self.mix(hidden) * code["amplitude"].unsqueeze(-1).to(hidden.dtype)  # (*S, K, 2M)
        m = self.n_channels
        return torch.cat([w[..., :m], w[..., m:]], dim=-2)  # (*S, 2K, M): cos rows, then sin rows

    def forward(
        self, points: torch.Tensor, code: dict[str, torch.Tensor], context: torch.Tensor
    ) -> torch.Tensor:
        """``(*S, P, M)`` channels at ``points`` (``(P, 3)`` or ``(B, P, 3)``)."""
        coeff = self.coefficients(code, context)  # (*S, 2K, M)
        k = code["hkl"].shape[-2]
        cos, sin = _cos_sin(points, code["hkl"])  # (B, P, K) each
        dtype = coeff.dtype
        return torch.matmul(cos.to(dtype), coeff[..., :k, :]) + torch.matmul(sin.to(dtype), coeff[..., k:, :])


class CellEncoder(nn.Module):
    """The cell inputs a network reads: a :class:`LatticeEncoder`, a :class:`ReflectionSynthesis` (as set)."""

    def __init__(self, config: CrystalNetConfig) -> None:
        super().__init__()
        self.config = config
        self.lattice = LatticeEncoder(config) if config.lattice_dim > 0 else None
        self.reflections = ReflectionSynthesis(config) if config.n_reflections > 0 else None

    def forward(
        self,
        batch: int,
        lattice: torch.Tensor | None,
        hkl: torch.Tensor | None,
        amplitude: torch.Tensor | None,
        dtype: torch.dtype = torch.float32,
    ) -> dict[str, Any]:
        """Check the inputs of B crystals and encode them.

        Parameters
        ----------
        batch
            Number of crystals B.
        lattice
            ``(B, 3, 3)`` cells (rows, Å) of the density grids.
        hkl, amplitude
            ``(B, K, 3)`` Miller indices and ``(B, K)`` observed amplitudes of the cells'
            reflections (``featurize.reflections.read_reflections``); any K.
        dtype
            Floating dtype of the network.

        Returns
        -------
        dict
            ``lattice``: the ``(B, lattice_dim)`` code or None; ``reflections``: the
            :meth:`ReflectionSynthesis.encode` code or None.

        Raises
        ------
        ValueError
            If an input the network reads is missing or has the wrong shape.
        """
        preset = self.config.preset
        if lattice is None:
            raise ValueError(
                f"This model (preset {preset!r}) reads the cell: pass lattice= (B, 3, 3) "
                "(and hkl=, amplitude=: config.cell_inputs.arrays(patterns, lattices) computes them)."
            )
        if tuple(lattice.shape) != (batch, 3, 3):
            raise ValueError(f"lattice must have shape ({batch}, 3, 3), got {tuple(lattice.shape)}.")
        lattice = lattice.to(dtype)
        code: dict[str, Any] = {"lattice": None, "reflections": None}
        if self.lattice is not None:
            code["lattice"] = self.lattice(lattice)
        if self.reflections is not None:
            if hkl is None or amplitude is None:
                raise ValueError(
                    f"This model (preset {preset!r}) reads the pattern's reflections: pass hkl= (B, K, 3) "
                    "and amplitude= (B, K) (config.cell_inputs.arrays(patterns, lattices) computes them)."
                )
            shapes_ok = hkl.dim() == 3 and hkl.shape[0] == batch and hkl.shape[2] == 3
            if not shapes_ok or tuple(amplitude.shape) != tuple(hkl.shape[:2]):
                raise ValueError(
                    f"hkl must have shape ({batch}, K, 3) and amplitude ({batch}, K); got "
                    f"{tuple(hkl.shape)} and {tuple(amplitude.shape)}."
                )
            code["reflections"] = self.reflections.encode(hkl, amplitude.to(dtype), lattice)
        return code


#: Keys of the cell inputs in a batch dict (``data.torch_dataset`` items, collated).
CELL_KEYS = ("lattice", "hkl", "amplitude")


def cell_tensors(batch: Mapping[str, Any], device: torch.device | str) -> dict[str, torch.Tensor]:
    """The cell inputs a collated batch carries, on ``device``, as keyword arguments of the model.

    ``{}`` when the batch carries none (a network that reads no cell input needs none).
    """
    return {k: batch[k].to(device, non_blocking=True) for k in CELL_KEYS if k in batch}

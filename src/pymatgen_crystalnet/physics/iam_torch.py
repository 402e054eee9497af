"""IAM electron density in torch, batched over crystals, on CPU or GPU.

It evaluates the same :class:`~pymatgen_crystalnet.physics.iam.IAMPlan` arrays as the numpy
path (real-space narrow terms plus reciprocal-space wide terms), padded to a common size, so
the numbers agree with :func:`~pymatgen_crystalnet.physics.iam.evaluate_plan` to floating-point
rounding. Plans depend only on the crystal, not on the query points, so a training loop can
build them once per crystal (:func:`stack_plans`) and reuse them every epoch.

Shapes: ``B`` crystals, ``P`` points per crystal, ``M`` atom images, ``K`` narrow terms per
image, ``H`` reflections (one Friedel half).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR, DEFAULT_EPS, IAMPlan, build_plan

__all__ = ["PlanBatch", "evaluate_plans_torch", "iam_density_torch", "stack_plans"]

_CHUNK_ELEMENTS = 1 << 24


@dataclass
class PlanBatch:
    """Padded plans of B crystals as tensors (see :class:`~.iam.IAMPlan`).

    Attributes
    ----------
    lattice : (B, 3, 3)
    image_cart : (B, M, 3) Cartesian image positions (Å); padding far away with zero amplitude.
    amplitude, alpha : (B, M, K)
    r_cut2 : (B,) squared cutoffs (Å²)
    hkl : (B, H, 3) float Miller indices; padding has zero structure factor.
    f_real, f_imag : (B, H)
    f000, volume : (B,)
    """

    lattice: torch.Tensor
    image_cart: torch.Tensor
    amplitude: torch.Tensor
    alpha: torch.Tensor
    r_cut2: torch.Tensor
    hkl: torch.Tensor
    f_real: torch.Tensor
    f_imag: torch.Tensor
    f000: torch.Tensor
    volume: torch.Tensor

    def to(self, device: torch.device | str) -> PlanBatch:
        """Move every tensor to ``device``."""
        return PlanBatch(**{k: v.to(device) for k, v in self.__dict__.items()})


def stack_plans(
    plans: Sequence[IAMPlan],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> PlanBatch:
    """Pad and stack numpy plans into one :class:`PlanBatch`."""
    if len(plans) == 0:
        raise ValueError("No plans to stack.")
    n_b = len(plans)
    m = max(1, max(p.image_frac.shape[0] for p in plans))
    k = max(1, max(p.amplitude.shape[1] for p in plans))
    h = max(1, max(p.hkl.shape[0] for p in plans))
    image_cart = np.zeros((n_b, m, 3))
    amplitude = np.zeros((n_b, m, k))
    alpha = np.zeros((n_b, m, k))
    hkl = np.zeros((n_b, h, 3))
    f_real = np.zeros((n_b, h))
    f_imag = np.zeros((n_b, h))
    for i, p in enumerate(plans):
        mi, ki, hi = p.image_frac.shape[0], p.amplitude.shape[1], p.hkl.shape[0]
        image_cart[i, :mi] = p.image_frac @ p.lattice
        amplitude[i, :mi, :ki] = p.amplitude
        alpha[i, :mi, :ki] = p.alpha
        hkl[i, :hi] = p.hkl
        f_real[i, :hi] = p.f_real
        f_imag[i, :hi] = p.f_imag

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=dtype, device=device)

    return PlanBatch(
        lattice=t(np.stack([p.lattice for p in plans])),
        image_cart=t(image_cart),
        amplitude=t(amplitude),
        alpha=t(alpha),
        r_cut2=t(np.array([p.r_cut**2 for p in plans])),
        hkl=t(hkl),
        f_real=t(f_real),
        f_imag=t(f_imag),
        f000=t(np.array([p.f000 for p in plans])),
        volume=t(np.array([p.volume for p in plans])),
    )


def evaluate_plans_torch(batch: PlanBatch, points: torch.Tensor) -> torch.Tensor:
    """IAM density (e/Å³) at fractional points.

    Parameters
    ----------
    batch
        Plans of B crystals on the same device and dtype as ``points``.
    points
        (B, P, 3) fractional coordinates (wrapped into the cell).

    Returns
    -------
    torch.Tensor
        (B, P) densities.
    """
    if points.ndim != 3 or points.shape[-1] != 3 or points.shape[0] != batch.lattice.shape[0]:
        raise ValueError(
            f"Points must have shape (B={batch.lattice.shape[0]}, P, 3), got {tuple(points.shape)}."
        )
    pts = points.to(batch.lattice.dtype)
    pts = pts - torch.floor(pts)
    n_b, n_p, _ = pts.shape
    n_m, n_k = batch.amplitude.shape[1:]
    n_h = batch.hkl.shape[1]
    out = torch.zeros(n_b, n_p, dtype=pts.dtype, device=pts.device)
    step = max(1, _CHUNK_ELEMENTS // max(1, n_b * max(n_m * n_k, n_h)))
    two_pi = 2 * torch.pi
    for start in range(0, n_p, step):
        p = pts[:, start : start + step]  # (B, p, 3)
        cart = torch.bmm(p, batch.lattice)  # (B, p, 3)
        d = cart[:, :, None, :] - batch.image_cart[:, None, :, :]  # (B, p, M, 3)
        r2 = (d * d).sum(-1)  # (B, p, M)
        near = (r2 <= batch.r_cut2[:, None, None]).to(pts.dtype)
        gauss = torch.exp(-batch.alpha[:, None, :, :] * r2[..., None])  # (B, p, M, K)
        real = torch.einsum("bmk,bpmk,bpm->bp", batch.amplitude, gauss, near)
        phase = two_pi * torch.bmm(p, batch.hkl.transpose(1, 2))  # (B, p, H)
        wide = (torch.cos(phase) * batch.f_real[:, None, :]).sum(-1) + (
            torch.sin(phase) * batch.f_imag[:, None, :]
        ).sum(-1)
        out[:, start : start + step] = (
            real + (batch.f000[:, None] + 2 * wide) / batch.volume[:, None]
        )
    return out


def iam_density_torch(
    lattice: torch.Tensor,
    frac_coords: torch.Tensor,
    atomic_numbers: torch.Tensor,
    points: torch.Tensor,
    *,
    coefficients: torch.Tensor | np.ndarray | None = None,
    b_factor: float = DEFAULT_B_FACTOR,
    occupancies: torch.Tensor | None = None,
    eps: float = DEFAULT_EPS,
) -> torch.Tensor:
    """IAM density (e/Å³) of B crystals at fractional points, computed in torch.

    Parameters
    ----------
    lattice
        (B, 3, 3) lattice vectors as rows (Å).
    frac_coords
        (B, A, 3) fractional coordinates, padded.
    atomic_numbers
        (B, A) atomic numbers; 0 marks padding.
    points
        (B, P, 3) fractional query points; the result is on their device and dtype.
    coefficients
        The (99, 11) Waasmaier–Kirfel table; read from xraydb when omitted.
    b_factor, eps
        As in :func:`pymatgen_crystalnet.physics.iam.build_plan`.
    occupancies
        (B, A) occupancies (default 1).

    Returns
    -------
    torch.Tensor
        (B, P) densities.
    """
    table = None if coefficients is None else np.asarray(torch.as_tensor(coefficients).cpu())
    lat = lattice.detach().cpu().double().numpy()
    frac = frac_coords.detach().cpu().double().numpy()
    zs = atomic_numbers.detach().cpu().long().numpy()
    occ = None if occupancies is None else occupancies.detach().cpu().double().numpy()
    plans = []
    for b in range(lat.shape[0]):
        keep = zs[b] > 0
        plans.append(
            build_plan(
                lat[b],
                frac[b][keep],
                zs[b][keep],
                occupancies=None if occ is None else occ[b][keep],
                b_factor=b_factor,
                coefficients=table,
                eps=eps,
            )
        )
    batch = stack_plans(plans, dtype=points.dtype, device=points.device)
    return evaluate_plans_torch(batch, points)

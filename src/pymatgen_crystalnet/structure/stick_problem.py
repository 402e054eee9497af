"""The least-squares problem of a crystal against target sticks, and a batched Levenberg–Marquardt.

Unknowns per candidate (start): ``q = (p, B)`` — the free Wyckoff parameters ``p`` of
``x = x0 + A p`` (:mod:`.wyckoff_params`) and one isotropic B (Å²) for every atom. The scale
is not an unknown of the iteration: for given ``(p, B)`` its least-squares value
``s = Σ w y_o y_c / Σ w y_c²`` is exact (variable projection), and the residuals are

    r_k(q) = sqrt(w_k) (y_o,k − s(q) y_c,k(q))

over the bins of :mod:`.stick_match`. The Jacobian ``∂r/∂q`` is taken by automatic
differentiation, all candidates at once, at the cost of about two pattern evaluations
whatever the number of parameters (see :meth:`StickProblem.jacobian`). Levenberg–Marquardt
then steps every candidate with its own damping ``λ`` (Marquardt's ``diag(JᵀJ)`` scaling),
accepting a step only where it lowers that candidate's sum of squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jvp, vmap

from pymatgen_crystalnet.structure.forward_torch import StickModel
from pymatgen_crystalnet.structure.stick_match import StickBins

__all__ = ["LMOutcome", "StickProblem", "levenberg_marquardt"]


class StickProblem:
    """Residuals of candidates ``q = (p, B)`` (shape ``(C, P + 1)``) against target bins."""

    def __init__(self, model: StickModel, x0: np.ndarray, basis: np.ndarray, bins: StickBins) -> None:
        self.model = model
        t = lambda a: torch.as_tensor(a, dtype=model.dtype, device=model.device)  # noqa: E731
        self.x0 = t(x0)  # (N, 3)
        self.basis = t(basis)  # (N, 3, P)
        self.index = torch.as_tensor(bins.peak_bin[model.reflections.group], device=model.device)  # (R,)
        self.n_bins = bins.n_bins
        self.observed = t(bins.observed)
        self.weights = t(bins.weights)
        self.sqrt_w = self.weights.sqrt()

    @property
    def n_params(self) -> int:
        """P + 1 (Wyckoff parameters and B)."""
        return int(self.basis.shape[2]) + 1

    def coords(self, q: torch.Tensor) -> torch.Tensor:
        """``(C, N, 3)`` coordinates of ``(C, P + 1)`` unknowns."""
        return self.x0 + torch.einsum("nip,cp->cni", self.basis, q[:, :-1])

    def calculated(self, q: torch.Tensor) -> torch.Tensor:
        """``(C, K)`` unscaled computed intensities per bin."""
        return self.model.merged_intensities(self.coords(q), q[:, -1], index=self.index, n_out=self.n_bins)

    def scale(self, yc: torch.Tensor) -> torch.Tensor:
        """``(C,)`` least-squares scale of ``(C, K)`` computed intensities."""
        num = (self.weights * self.observed * yc).sum(dim=1)
        den = (self.weights * yc * yc).sum(dim=1)
        return num / den.clamp_min(torch.finfo(yc.dtype).tiny)

    def residuals(self, q: torch.Tensor) -> torch.Tensor:
        """``(C, K)`` weighted residuals at the least-squares scale."""
        return self.residuals_of_calculated(self.calculated(q))

    def loss(self, q: torch.Tensor) -> torch.Tensor:
        """``(C,)`` weighted sums of squared residuals."""
        return (self.residuals(q) ** 2).sum(dim=1)

    def residuals_of_calculated(self, yc: torch.Tensor) -> torch.Tensor:
        """``(C, K)`` weighted residuals of ``(C, K)`` computed intensities at their best scale."""
        return self.sqrt_w * (self.observed - self.scale(yc)[:, None] * yc)

    def jacobian(self, q: torch.Tensor) -> torch.Tensor:
        """``(C, K, P + 1)`` ``∂r/∂q`` by automatic differentiation.

        Each representative intensity ``I_u`` depends on the phases ``φ_nu = 2π h_u·x_n`` of
        its own reflection only, so one reverse pass of ``Σ_u I_u`` with respect to the
        ``(C, N, U)`` phases (and to a per-reflection copy of B) gives every ``∂I_u/∂φ_nu``
        (and ``∂I_u/∂B``); the chain rule through the linear maps ``φ = 2π h·(x0 + A p)``
        and the binning gives ``∂y_c/∂q``, and a forward-mode pass through the scale
        projection gives ``∂r/∂q``. Cost: about two pattern evaluations plus one matrix
        product, whatever the number of parameters.
        """
        model = self.model
        q = q.detach()
        n_cand, n_q = q.shape
        with torch.enable_grad():
            phase = (self.coords(q) @ model.two_pi_hkl_t).requires_grad_()  # (C, N, U)
            b_u = q[:, -1:].expand(n_cand, model.n_unique).clone().requires_grad_()  # (C, U)
            per_unique = model.intensities_of_phases(phase, b_u.unsqueeze(1))
            d_phase, d_b = torch.autograd.grad(per_unique.sum(), (phase, b_u))
        # ∂I_u/∂x_na = ∂I_u/∂φ_nu 2π h_ua, then through x = x0 + A p
        d_x = torch.einsum("cnu,au->cuna", d_phase, model.two_pi_hkl_t).reshape(n_cand, model.n_unique, -1)
        d_unique = torch.cat(
            [d_x @ self.basis.reshape(3 * model.n_sites, n_q - 1), d_b.unsqueeze(-1)], dim=2
        )  # (C, U, Q)
        d_calc = torch.zeros(n_cand, self.n_bins, n_q, dtype=q.dtype, device=q.device)
        d_calc = d_calc.index_add(1, self.index, model.expand_unique(d_unique))  # (C, K, Q)
        yc = model.expand_unique(per_unique.detach())
        yc = torch.zeros(n_cand, self.n_bins, dtype=q.dtype, device=q.device).index_add(1, self.index, yc)
        push = lambda t: jvp(self.residuals_of_calculated, (yc,), (t,))[1]  # noqa: E731
        return vmap(push, in_dims=2, out_dims=2)(d_calc)


@dataclass
class LMOutcome:
    """Final unknowns ``(C, P + 1)``, losses ``(C,)``, iterations and per-candidate convergence."""

    q: torch.Tensor
    loss: torch.Tensor
    iterations: int
    converged: torch.Tensor


def levenberg_marquardt(
    problem: StickProblem,
    q0: torch.Tensor,
    *,
    refine_b: bool = True,
    b_max: float = 10.0,
    max_iter: int = 100,
    rtol: float = 1e-9,
) -> LMOutcome:
    """Batched Levenberg–Marquardt from ``q0`` ``(C, P + 1)``; B kept in ``[0, b_max]``."""
    q = q0.clone()
    n_cand, n_q = q.shape
    frozen = torch.zeros(n_q, dtype=torch.bool, device=q.device)
    if not refine_b:
        frozen[-1] = True
    with torch.no_grad():
        r = problem.residuals(q)
    loss = (r**2).sum(dim=1)
    lam = torch.full((n_cand,), 1e-3, dtype=q.dtype, device=q.device)
    converged = ~torch.isfinite(loss)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        jac = problem.jacobian(q).detach()
        jac[..., frozen] = 0
        jtj = jac.transpose(1, 2) @ jac
        grad = (jac.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)
        diag = torch.diagonal(jtj, dim1=1, dim2=2)
        scale = diag.amax(dim=1, keepdim=True).clamp_min(1e-30)
        damp = torch.maximum(diag, 1e-9 * scale) + frozen.to(q.dtype)
        system = (
            jtj
            + torch.diag_embed(lam[:, None] * damp)
            + torch.diag_embed(frozen.to(q.dtype).expand(n_cand, -1))
        )
        step = -torch.linalg.solve(system, grad)
        trial = q + step
        trial[:, -1] = trial[:, -1].clamp(0.0, b_max)
        with torch.no_grad():
            r_trial = problem.residuals(trial)
        loss_trial = (r_trial**2).sum(dim=1)
        better = torch.isfinite(loss_trial) & (loss_trial < loss) & ~converged
        small = (loss - loss_trial) <= rtol * loss + 1e-28
        q = torch.where(better[:, None], trial, q)
        r = torch.where(better[:, None], r_trial, r)
        converged = converged | (better & small) | (~better & (lam > 1e8))
        loss = torch.where(better, loss_trial, loss)
        lam = torch.where(better, lam / 3, lam * 4)
        if bool(converged.all()):
            break
    return LMOutcome(q=q, loss=loss, iterations=iterations, converged=converged)

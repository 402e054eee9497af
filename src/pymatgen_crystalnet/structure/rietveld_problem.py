"""The least-squares problem of a Rietveld refinement: residuals and their exact Jacobian.

See :mod:`.rietveld` for the model. :class:`RietveldProblem` holds, for one crystal on the Pawley
fit's cell, the unknowns ``q = (p, B, θ)`` (free Wyckoff parameters, isotropic B, peak and cell
parameters), the weighted residuals ``r(q) = P⊥(q) √w y`` at the least-squares scale and
background, and their Jacobian (Golub–Pereyra, exact) from one reverse pass through the
structure factors (``∂I_g/∂(p, B)``) times the sparse peak-shape matrix, and one forward-mode
pass per peak parameter.
"""

from __future__ import annotations

import numpy as np
import torch
from pymatgen.core import Structure

from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.structure.forward_torch import StickModel
from pymatgen_crystalnet.structure.pawley_result import PawleyResult
from pymatgen_crystalnet.structure.profile_lm import profile_weights
from pymatgen_crystalnet.structure.profile_model import (
    SHAPE_NAMES,
    CellMetric,
    PeakProfile,
    chebyshev_basis,
    shape_jacobian,
)
from pymatgen_crystalnet.structure.wyckoff_params import symmetry_parametrisation

__all__ = ["CELL_TOLERANCE", "RietveldProblem"]

#: Largest relative difference between the crystal's cell and the Pawley fit's starting cell.
CELL_TOLERANCE: float = 0.01


class RietveldProblem:
    """Residuals and exact Jacobian of a crystal's profile, ``q = (p, B, θ)``.

    Parameters
    ----------
    structure
        The crystal on the Pawley fit's starting cell (or one within :data:`CELL_TOLERANCE`).
    profile
        The measured profile.
    pawley
        The Pawley fit of that profile on that cell (peak model, start values, groups).
    symprec
        Symmetry kept (None: every coordinate free).
    device
        Torch device.

    Raises
    ------
    ValueError
        For a crystal on another cell, a disordered crystal, or reflection groups that differ
        from the Pawley fit's.
    """

    def __init__(self, structure: Structure, profile: PowderProfile, pawley: PawleyResult,
                 symprec: float | None = 0.01, device: str | torch.device = "cpu") -> None:  # fmt: skip
        lat0 = pawley.start_lattice
        a, b = np.array(structure.lattice.parameters), np.array(lat0.parameters)
        if np.any(np.abs(a - b) > CELL_TOLERANCE * np.maximum(np.abs(b), 1.0)):
            raise ValueError(
                f"The crystal's cell {np.round(a, 4).tolist()} is not the fitted cell "
                f"{np.round(b, 4).tolist()}."
            )
        crystal = Structure(lat0, structure.species, structure.frac_coords)
        self.par = symmetry_parametrisation(crystal, symprec=symprec)
        self.species = [site.specie.symbol for site in crystal]
        self.model = StickModel(lat0, self.species, pawley.lines.wavelength, pawley.reflection_range,
                                device=device, rotations=self.par.rotations)  # fmt: skip
        if len(self.model.reflections.starts) != len(pawley.hkl):
            raise ValueError("The crystal's reflection groups differ from the Pawley fit's.")
        tt = np.asarray(profile.two_theta, dtype=float)
        y = np.asarray(profile.intensity, dtype=float)
        dtype, dev = self.model.dtype, self.model.device
        self.peaks = PeakProfile(tt, pawley.hkl, CellMetric(lat0), pawley.lines, device=dev, dtype=dtype)
        t = lambda v: torch.as_tensor(np.array(v, dtype=float), dtype=dtype, device=dev)  # noqa: E731
        self.y_np, self.w_np = y, profile_weights(y, profile.sigma)
        self.sqrt_w, self.y = t(np.sqrt(self.w_np)), t(y)
        self.bg = t(chebyshev_basis(tt, pawley.background.size, float(tt[0]), float(tt[-1])))
        self.x0, self.basis = t(self.par.x0), t(self.par.basis)
        self.n_p = self.par.n_free
        self.theta0 = t(pawley.theta)
        self.in_range = t(pawley.in_range.astype(float))
        self.pawley = pawley

    @property
    def n_params(self) -> int:
        """Number of nonlinear unknowns (Wyckoff, B, peak parameters)."""
        return self.n_p + 1 + self.peaks.n_params

    def start(self, structure: Structure, b_factor: float) -> torch.Tensor:
        """``q`` of the given crystal, ``B`` and the Pawley fit's peak parameters."""
        p = self.par.params_of(structure.frac_coords)
        start = torch.as_tensor(np.append(p, b_factor), dtype=self.model.dtype, device=self.model.device)
        return torch.cat([start, self.theta0])

    def split(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(p, B, θ)`` of ``q``."""
        return q[: self.n_p], q[self.n_p], q[self.n_p + 1 :]

    def intensities(self, q: torch.Tensor) -> torch.Tensor:
        """``(G,)`` the crystal's merged intensities per reflection group."""
        p, b, _ = self.split(q)
        coords = self.x0 + torch.einsum("nip,p->ni", self.basis, p)
        return self.model.merged_intensities(coords, b.reshape(1))[0]

    def _linear(self, ypk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Weighted design ``A``, its pseudo-inverse and the linear coefficients ``(s, b)``."""
        design = torch.cat([ypk[:, None], self.bg], dim=1) * self.sqrt_w[:, None]
        pinv = torch.linalg.pinv(design)
        return design, pinv, pinv @ (self.sqrt_w * self.y)

    def evaluate(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Residuals, the unit-scale peaks' profile, the linear coefficients and the windows."""
        _, _, theta = self.split(q)
        windows = self.peaks.windows(theta)
        inten = self.intensities(q)
        ypk = self.peaks.peaks(theta, windows, inten)
        design, pinv, coef = self._linear(ypk)
        resid = self.sqrt_w * self.y - design @ coef
        return {"r": resid, "ypk": ypk, "pinv": pinv, "design": design, "coef": coef, "inten": inten}

    def residuals(self, q: torch.Tensor) -> torch.Tensor:
        """``(P,)`` weighted residuals at the least-squares scale and background."""
        with torch.no_grad():
            return self.evaluate(q)["r"]

    def jacobian(self, q: torch.Tensor, columns: list[int] | None = None) -> torch.Tensor:
        """``(P, n)`` exact ``∂r/∂q`` (module docstring); ``columns`` limits the peak-parameter passes."""
        _, _, theta = self.split(q)
        with torch.no_grad():
            ev = self.evaluate(q)
        d_inten = self._intensity_gradient(q)  # (G, P + 1)
        design = self.peaks.design(theta, self.peaks.windows(theta))
        j_struct = torch.sparse.mm(design, d_inten)
        shape_cols = None if columns is None else [c - self.n_p - 1 for c in columns if c > self.n_p]
        j_shape = shape_jacobian(self.peaks, theta, ev["inten"], shape_cols)
        j_a = torch.cat([j_struct, j_shape], dim=1) * self.sqrt_w[:, None]
        a, pinv, coef, r = ev["design"], ev["pinv"], ev["coef"], ev["r"]
        projected = j_a - a @ (pinv @ j_a)
        return -coef[0] * projected - pinv[0][:, None] * (r @ j_a)[None, :]

    def _intensity_gradient(self, q: torch.Tensor) -> torch.Tensor:
        """``(G, P + 1)`` ``∂I_g/∂(p, B)`` by one reverse pass.

        Each orbit's intensity depends on its own phases only, so the gradient of their sum
        with respect to the ``(N, U)`` phases holds every ``∂I_u/∂φ_nu``.
        """
        model = self.model
        p, b, _ = self.split(q.detach())
        with torch.enable_grad():
            coords = self.x0 + torch.einsum("nip,p->ni", self.basis, p)
            phase = (coords.unsqueeze(0) @ model.two_pi_hkl_t).requires_grad_()  # (1, N, U)
            b_u = b.reshape(1, 1).expand(1, model.n_unique).clone().requires_grad_()
            per_unique = model.intensities_of_phases(phase, b_u.unsqueeze(1))
            d_phase, d_b = torch.autograd.grad(per_unique.sum(), (phase, b_u))
        d_x = torch.einsum("nu,au->una", d_phase[0], model.two_pi_hkl_t).reshape(model.n_unique, -1)
        d_p = d_x @ self.basis.reshape(d_x.shape[1], self.n_p)
        d_unique = torch.cat([d_p, d_b[0].unsqueeze(-1)], dim=1)
        per_refl = model.expand_unique(d_unique.unsqueeze(0))[0]  # (R, P + 1)
        out = torch.zeros(model.n_merged, self.n_p + 1, dtype=q.dtype, device=q.device)
        return out.index_add(0, model.group, per_refl)

    def clamp(self, q: torch.Tensor, b_max: float) -> torch.Tensor:
        """``q`` with ``B`` in ``[0, b_max]`` and the peak parameters in their domain."""
        p, b, theta = self.split(q)
        return torch.cat([p, b.clamp(0.0, b_max).reshape(1), self.peaks.clamp(theta)])

    def r_bragg(self, q: torch.Tensor) -> float:
        """Bragg R of the groups inside the measured range (module docstring)."""
        _, _, theta = self.split(q)
        with torch.no_grad():
            ev = self.evaluate(q)
            scale, coef_bg = ev["coef"][0], ev["coef"][1:]
            background = self.bg @ coef_bg
            calc = scale * ev["ypk"] + background
            net_calc = calc - background
            positive = net_calc > 1e-12 * net_calc.abs().max()
            ratio = torch.where(positive, (self.y - background) / net_calc, 0.0)
            step = torch.as_tensor(self.peaks.step, dtype=q.dtype, device=q.device)
            design = self.peaks.design(theta, self.peaks.windows(theta))
            norm = 1.0 + theta[SHAPE_NAMES.index("ratio")]
            share = torch.sparse.mm(design.t(), (step * ratio)[:, None])[:, 0] / norm
            i_calc = scale * ev["inten"] * self.in_range
            i_obs = i_calc * share
            den = float(i_obs.abs().sum())
            return float((i_obs - i_calc).abs().sum()) / den if den > 0 else float("nan")

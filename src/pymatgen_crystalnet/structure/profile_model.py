"""A powder profile in torch: pseudo-Voigt peaks on the reflections of a cell, and a background.

The calculated profile at the measured points ``2θ_i`` is

    y(2θ_i) = Σ_g I_g [Ω(2θ_i − 2θ_g1) + r Ω(2θ_i − 2θ_g2)] + Σ_j b_j T_j(x_i)

over the reflection groups ``g`` of the cell (reflections at one 2θ, merged as pymatgen merges
them: the multiplicity is inside ``I_g``), with

- positions from the cell's reciprocal metric ``1/d² = hᵀ G* h`` (``G*`` kept in the subspace
  the lattice's point group leaves invariant, :class:`CellMetric`, so a refined cell keeps its
  metric symmetry), ``2θ_g1 = 2 asin(λ₁ / 2d) + zero`` and, for a Kα doublet,
  ``sin θ_g2 = (λ₂/λ₁) sin θ_g1`` with intensity ratio ``r`` (:func:`emission_lines`);
- ``Ω`` the area-normalised pseudo-Voigt ``η L + (1 − η) G`` of full width at half maximum
  ``H`` (degrees 2θ) from Caglioti's ``H² = U tan²θ + V tan θ + W`` and ``η = η₀ + η₁ (2θ/90°)``
  (clamped to [0, 1]);
- a Chebyshev background ``T_j`` on the measured range mapped to ``x ∈ [−1, 1]``.

``I_g`` and ``b_j`` enter linearly; the nonlinear parameters are
``(zero, U, V, W, eta0, eta1, ratio, cell_0 …)`` (:data:`SHAPE_NAMES` then the cell's
coefficients). Each peak is evaluated on a window of ``K`` measured points around it (at least
:data:`WINDOW_FWHM` widths each side), so a profile costs ``O(groups × K)``, not
``O(groups × points)``; the windows are chosen from the current parameters without gradient,
the values on them are differentiable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Lattice

from pymatgen_crystalnet.physics.units import KALPHA_ANODES, kalpha_lines

__all__ = [
    "SHAPE_NAMES",
    "WINDOW_FWHM",
    "CellMetric",
    "EmissionLines",
    "PeakProfile",
    "Windows",
    "chebyshev_basis",
    "emission_lines",
    "pseudo_voigt",
    "shape_jacobian",
]

#: Names of the nonlinear peak-shape parameters, in order (the cell's coefficients follow).
SHAPE_NAMES: tuple[str, ...] = ("zero", "U", "V", "W", "eta0", "eta1", "ratio")
#: Each peak is evaluated at least this many FWHM either side of its position.
WINDOW_FWHM: float = 15.0
#: Smallest FWHM (degrees) the width formula may give.
MIN_FWHM: float = 1e-3
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class EmissionLines:
    """The wavelengths of a profile: one line, or a Kα1/Kα2 doublet.

    Attributes
    ----------
    wavelength
        λ₁ (Å): Kα1, or the single line. Reflection positions and intensities are computed at it.
    wavelength2
        λ₂ (Å) of Kα2, or None for one line.
    ratio
        Starting intensity ratio I(Kα2)/I(Kα1) (0 for one line).
    description
        How the lines were chosen, for the record.
    """

    wavelength: float
    wavelength2: float | None
    ratio: float
    description: str

    @property
    def doublet(self) -> bool:
        """Whether a Kα2 line is modelled."""
        return self.wavelength2 is not None


def emission_lines(wavelength: float, kalpha2: bool | str = "auto", tol: float = 5e-4) -> EmissionLines:
    """The lines to model for a profile measured at ``wavelength`` (Å).

    A wavelength within ``tol`` of an anode's weighted Kα (e.g. Cu 1.5418 Å) or of its Kα1
    (1.54056 Å) is laboratory radiation: with ``kalpha2="auto"`` or True a Kα1/Kα2 doublet is
    modelled (λ₁ = Kα1, or the given value when it is Kα1; λ₂ in the tabulated ratio; starting
    ratio 0.5, refined, so a monochromated Kα1 pattern refines it towards 0). Any other
    wavelength (synchrotron, neutron-like values) is one line; ``kalpha2=False`` always gives
    one line at the given wavelength.

    Raises
    ------
    ValueError
        For a non-positive wavelength, an unknown ``kalpha2`` or True for a wavelength that is
        no anode's Kα.
    """
    lam = float(wavelength)
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"The wavelength must be a positive number of Å, got {wavelength!r}.")
    if kalpha2 not in ("auto", True, False):
        raise ValueError(f"kalpha2 must be 'auto', True or False, got {kalpha2!r}.")
    if kalpha2 is not False:
        lines = kalpha_lines(lam, tol)
        if lines is not None:
            given = "Kα1" if lines.given == "Ka1" else "weighted Kα"
            note = f"{lines.anode} {given} given: Kα1/Kα2 doublet"
            if lines.given == "Ka1":
                return EmissionLines(lam, lam * lines.ka2 / lines.ka1, 0.5, note)
            return EmissionLines(lines.ka1, lines.ka2, 0.5, note)
        if kalpha2 is True:
            anodes = ", ".join(KALPHA_ANODES)
            raise ValueError(f"{lam} Å is not the Kα or Kα1 line of {anodes}: no Kα2 to model.")
    return EmissionLines(lam, None, 0.0, "one line")


class CellMetric:
    """The reciprocal metric ``G* = Σ_j c_j M_j`` over the symmetric matrices the lattice keeps.

    The basis ``M_j`` (orthonormal, Frobenius) spans the symmetric matrices ``S`` with
    ``R S Rᵀ = S`` for every rotation ``R`` of the lattice's point group (spglib, fractional
    coordinates of the given cell): one coefficient for a cubic cell, two for tetragonal or
    hexagonal, three orthorhombic, four monoclinic, six triclinic.
    """

    def __init__(self, lattice: Lattice, symprec: float = 0.01) -> None:
        import spglib

        self.lattice0 = lattice
        data = spglib.get_symmetry_dataset((lattice.matrix, [[0.0, 0.0, 0.0]], [1]), symprec=symprec)
        rotations = np.eye(3)[None] if data is None else np.asarray(data.rotations, dtype=float)
        sym = []
        for i in range(3):
            for j in range(i, 3):
                e = np.zeros((3, 3))
                e[i, j] = e[j, i] = 1.0
                sym.append(e)
        sym_basis = np.stack(sym)  # (6, 3, 3)
        rows = np.concatenate(
            [np.einsum("ij,sjk,lk->sil", r, sym_basis, r).reshape(6, 9).T - sym_basis.reshape(6, 9).T
             for r in rotations]
        )  # fmt: skip
        _, sing, vt = np.linalg.svd(rows)
        rank = int(np.sum(sing > 1e-8 * max(1.0, sing.max())))
        coeffs = vt[rank:]  # (k, 6)
        basis = np.einsum("ks,sij->kij", coeffs, sym_basis)
        basis /= np.linalg.norm(basis.reshape(len(basis), -1), axis=1)[:, None, None]
        self.basis = basis  # (k, 3, 3)
        g_star = np.linalg.inv(lattice.matrix @ lattice.matrix.T)
        self.c0 = np.einsum("kij,ij->k", basis, g_star)
        self.residual = float(np.abs(np.einsum("k,kij->ij", self.c0, basis) - g_star).max())

    @property
    def n_params(self) -> int:
        """Number of independent metric coefficients."""
        return int(self.basis.shape[0])

    def g_star(self, c: ArrayLike) -> NDArray[np.float64]:
        """``(3, 3)`` reciprocal metric (Å⁻²) of coefficients ``c``."""
        return np.einsum("k,kij->ij", np.asarray(c, dtype=float), self.basis)

    def lattice(self, c: ArrayLike) -> Lattice:
        """The cell of coefficients ``c``, in the orientation of the starting cell.

        Raises
        ------
        ValueError
            When the coefficients give no positive-definite metric.
        """
        g = np.linalg.inv(self.g_star(c))
        g0 = self.lattice0.matrix @ self.lattice0.matrix.T
        try:
            low0, low = np.linalg.cholesky(g0), np.linalg.cholesky(0.5 * (g + g.T))
        except np.linalg.LinAlgError:
            raise ValueError("The refined cell has no positive-definite metric.") from None
        rotation = np.linalg.solve(low0, self.lattice0.matrix)  # orthogonal: matrix0 = L0 Q
        return Lattice(low @ rotation)


def chebyshev_basis(two_theta: ArrayLike, n: int, lo: float, hi: float) -> NDArray[np.float64]:
    """``(P, n)`` Chebyshev polynomials ``T_0 … T_{n−1}`` of 2θ mapped from ``[lo, hi]`` to [−1, 1]."""
    x = 2.0 * (np.asarray(two_theta, dtype=float) - lo) / max(hi - lo, 1e-12) - 1.0
    return np.polynomial.chebyshev.chebvander(x, max(int(n) - 1, 0))[:, : max(int(n), 0)]


def pseudo_voigt(x: torch.Tensor, fwhm: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Area-normalised pseudo-Voigt ``η L + (1 − η) G`` of FWHM ``fwhm`` at offsets ``x`` (degrees)."""
    u = (x / fwhm) ** 2
    gauss = (2.0 * math.sqrt(_LN2 / math.pi) / fwhm) * torch.exp(-4.0 * _LN2 * u)
    lorentz = (2.0 / math.pi / fwhm) / (1.0 + 4.0 * u)
    return eta * lorentz + (1.0 - eta) * gauss


@dataclass(frozen=True)
class Windows:
    """Measured points around every peak: ``index (L·G, K)`` and ``valid (L·G, K)``."""

    index: torch.Tensor
    valid: torch.Tensor


class PeakProfile:
    """Peak shapes of a cell's reflection groups on a measured 2θ grid (torch, differentiable).

    Parameters
    ----------
    two_theta
        ``(P,)`` measured 2θ (degrees, increasing).
    hkl
        ``(G, 3)`` one Miller index per reflection group, in the cell's basis.
    metric
        The cell (:class:`CellMetric`).
    lines
        The emission lines (:func:`emission_lines`).
    device, dtype
        Torch device and floating type.
    """

    def __init__(
        self,
        two_theta: ArrayLike,
        hkl: ArrayLike,
        metric: CellMetric,
        lines: EmissionLines,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.device, self.dtype = torch.device(device), dtype
        as_t = lambda a: torch.as_tensor(np.array(a, dtype=float), dtype=dtype, device=self.device)  # noqa: E731
        tt = np.asarray(two_theta, dtype=float)
        self.two_theta_np = tt
        self.two_theta = as_t(tt)
        self.step = np.gradient(tt)
        self.min_step = float(max(np.diff(tt).min(), 1e-6))
        self.metric = metric
        self.lines = lines
        self.hkl = np.asarray(hkl, dtype=float).reshape(-1, 3)
        # 1/d² = Σ_k c_k (h M_k h): one column per metric coefficient
        self.inv_d2_basis = as_t(np.einsum("gi,kij,gj->gk", self.hkl, metric.basis, self.hkl))  # (G, k)
        self.n_groups = len(self.hkl)
        self.n_lines = 2 if lines.doublet else 1
        self.names = (*SHAPE_NAMES, *(f"cell_{k}" for k in range(metric.n_params)))

    @property
    def n_params(self) -> int:
        """Number of nonlinear parameters (shape, then cell)."""
        return len(self.names)

    def initial(self, fwhm: float) -> torch.Tensor:
        """Starting parameters: no zero shift, constant width ``fwhm``, η = 0.5, the given cell."""
        start = [0.0, 0.0, 0.0, float(fwhm) ** 2, 0.5, 0.0, self.lines.ratio, *self.metric.c0]
        return torch.tensor(start, dtype=self.dtype, device=self.device)

    def clamp(self, theta: torch.Tensor) -> torch.Tensor:
        """Parameters moved into their domain: W > 0, η₀ ∈ [0, 1], ratio ∈ [0, 1] (0 for one line)."""
        out = theta.clone()
        out[3] = out[3].clamp_min(MIN_FWHM**2)
        out[4] = out[4].clamp(0.0, 1.0)
        out[6] = out[6].clamp(0.0, 1.0) if self.lines.doublet else out[6] * 0.0
        return out

    def bragg(self, theta: torch.Tensor) -> torch.Tensor:
        """``(G,)`` Bragg angles θ (radians) of the Kα1 line, without the zero shift."""
        inv_d2 = self.inv_d2_basis @ theta[len(SHAPE_NAMES) :]
        s = (0.5 * self.lines.wavelength) * torch.sqrt(inv_d2.clamp_min(1e-12))
        return torch.asin(s.clamp(max=1.0 - 1e-12))

    def centres(self, theta: torch.Tensor) -> torch.Tensor:
        """``(L, G)`` peak positions (degrees, zero shift included) of every line."""
        th = self.bragg(theta)
        pos = [2.0 * torch.rad2deg(th)]
        if self.lines.doublet:
            s2 = (self.lines.wavelength2 / self.lines.wavelength) * torch.sin(th)
            pos.append(2.0 * torch.rad2deg(torch.asin(s2.clamp(max=1.0 - 1e-12))))
        return torch.stack(pos) + theta[0]

    def fwhm(self, theta: torch.Tensor) -> torch.Tensor:
        """``(G,)`` FWHM (degrees) from Caglioti's formula at the Kα1 Bragg angle."""
        t = torch.tan(self.bragg(theta))
        h2 = theta[1] * t * t + theta[2] * t + theta[3]
        return torch.sqrt(h2.clamp_min(MIN_FWHM**2))

    def eta(self, theta: torch.Tensor) -> torch.Tensor:
        """``(G,)`` Lorentzian fraction, linear in 2θ and clamped to [0, 1]."""
        two_theta = 2.0 * torch.rad2deg(self.bragg(theta))
        return (theta[4] + theta[5] * two_theta / 90.0).clamp(0.0, 1.0)

    def windows(self, theta: torch.Tensor) -> Windows:
        """The measured points each peak is evaluated on (chosen without gradient)."""
        with torch.no_grad():
            centres = self.centres(theta).reshape(-1)
            width = float(self.fwhm(theta).max())
        half = math.ceil(WINDOW_FWHM * width / self.min_step) + 1
        k = min(2 * half + 1, len(self.two_theta_np))
        centre_idx = torch.searchsorted(self.two_theta, centres.contiguous())
        offsets = torch.arange(k, device=self.device) - k // 2
        index = centre_idx[:, None] + offsets[None, :]
        valid = (index >= 0) & (index < len(self.two_theta_np))
        return Windows(index=index.clamp(0, len(self.two_theta_np) - 1), valid=valid)

    def shapes(self, theta: torch.Tensor, windows: Windows) -> torch.Tensor:
        """``(L·G, K)`` peak-shape values on the windows (Kα2 already times its ratio)."""
        centres = self.centres(theta)  # (L, G)
        fwhm = self.fwhm(theta).repeat(self.n_lines)[:, None]
        eta = self.eta(theta).repeat(self.n_lines)[:, None]
        x = self.two_theta[windows.index] - centres.reshape(-1, 1)
        values = pseudo_voigt(x, fwhm, eta) * windows.valid
        if self.lines.doublet:
            weight = torch.cat([torch.ones(self.n_groups, dtype=self.dtype, device=self.device),
                                theta[6].expand(self.n_groups)])  # fmt: skip
            values = values * weight[:, None]
        return values

    def peaks(self, theta: torch.Tensor, windows: Windows, intensities: torch.Tensor) -> torch.Tensor:
        """``(P,)`` the peaks' profile ``Σ_g I_g Ω_g`` (no background)."""
        values = self.shapes(theta, windows) * intensities.repeat(self.n_lines)[:, None]
        out = torch.zeros(len(self.two_theta_np), dtype=self.dtype, device=self.device)
        return out.index_add(0, windows.index.reshape(-1), values.reshape(-1))

    def design(self, theta: torch.Tensor, windows: Windows) -> torch.Tensor:
        """``(P, G)`` sparse (COO) matrix of the peak shapes: column g is ``Ω_g`` on the grid."""
        with torch.no_grad():
            values = self.shapes(theta, windows)
        cols = torch.arange(self.n_groups, device=self.device).repeat(self.n_lines)[:, None].expand_as(values)
        keep = windows.valid & (values != 0)
        idx = torch.stack([windows.index[keep], cols[keep]])
        return torch.sparse_coo_tensor(
            idx, values[keep], (len(self.two_theta_np), self.n_groups), check_invariants=False
        ).coalesce()

    def design_scipy(self, theta: torch.Tensor, windows: Windows) -> Any:
        """The same matrix as :meth:`design`, as a scipy CSC matrix (for the linear solves)."""
        from scipy.sparse import csc_matrix

        d = self.design(theta, windows)
        rows, cols = d.indices().cpu().numpy()
        return csc_matrix((d.values().cpu().numpy(), (rows, cols)), shape=tuple(d.shape))


def shape_jacobian(peaks: PeakProfile, theta: torch.Tensor, intensities: torch.Tensor,
                   columns: list[int] | None = None) -> torch.Tensor:  # fmt: skip
    """``(P, n)`` derivatives of the peaks' profile with respect to the peak parameters.

    One forward-mode pass per parameter (``torch.func.jvp``); ``columns`` restricts the passes
    (the other columns are 0).
    """
    from torch.func import jvp

    windows = peaks.windows(theta)
    n = theta.numel()
    out = torch.zeros(len(peaks.two_theta_np), n, dtype=theta.dtype, device=theta.device)
    for k in range(n) if columns is None else columns:
        tangent = torch.zeros_like(theta)
        tangent[k] = 1.0
        out[:, k] = jvp(lambda th: peaks.peaks(th, windows, intensities), (theta,), (tangent,))[1]
    return out

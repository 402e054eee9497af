"""Differentiable stick patterns in torch: the twin of ``physics.powder_batch.batch_sticks``.

The same reflections (:func:`~pymatgen_crystalnet.physics.reflections.enumerate_reflections`),
the same pymatgen atomic scattering factors, Lorentz–polarisation factor, Friedel doubling and
merging, so the numbers equal :func:`~pymatgen_crystalnet.physics.powder_batch.batch_sticks`
to rounding; but written in torch, batched over C candidates, and differentiable with
respect to the coordinates and the Debye–Waller factor B, on the CPU or a GPU. It applies no
1e-3 % threshold (weak peaks keep their small, differentiable values).

For crystals that keep a known space group (a symmetry-constrained refinement), ``rotations``
makes it compute one reflection per orbit ``{±h R}`` of the point group: reflections related
by a rotation of the space group have the same ``|F|`` for every crystal with that symmetry
(``F(h) = exp(2πi h·t) F(hR)``), and the same ``|g|``, so each member takes its orbit's
intensity — the same numbers, |G| times fewer structure factors. Coordinates that break
that symmetry then get wrong intensities: leave ``rotations`` None for them.

Shapes: ``C`` candidates, ``N`` sites, ``R`` reflections (one Friedel half), ``M`` merged peaks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from pymatgen.core import Element, Lattice

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.physics.powder_batch import element_form_factors, site_elements
from pymatgen_crystalnet.physics.reflections import enumerate_reflections
from pymatgen_crystalnet.physics.units import TWO_THETA_MAX, resolve_wavelength

__all__ = ["StickModel"]


class StickModel:
    """Stick patterns of candidates sharing a lattice and a species list, in torch.

    Parameters
    ----------
    lattice
        pymatgen ``Lattice`` (or 3×3 row vectors, Å).
    species
        Element of each of the N sites.
    wavelength
        Å or a name such as ``"MoKa"``.
    two_theta_range
        ``(min, max)`` degrees (a maximum of 180° stops at 180° − 1e-6°).
    device
        Anything :func:`~pymatgen_crystalnet.devices.resolve_device` accepts.
    dtype
        Floating dtype (float64 by default: agreement to 1e-10 with the numpy path).
    rotations
        ``(G, 3, 3)`` integer rotation parts of the space group in this cell (acting on
        fractional coordinate columns); the coordinates given later must keep it.

    Raises
    ------
    ValueError
        For unknown elements, a bad wavelength or range, or a range with no reflection.
    """

    def __init__(
        self,
        lattice: Lattice | NDArray[np.float64],
        species: Sequence[str | Element],
        wavelength: float | str = "MoKa",
        two_theta_range: tuple[float, float] = (0, TWO_THETA_MAX),
        device: str | torch.device | None = "cpu",
        dtype: torch.dtype = torch.float64,
        rotations: NDArray | None = None,
    ) -> None:
        self.wavelength = resolve_wavelength(wavelength)
        matrix = lattice.matrix if isinstance(lattice, Lattice) else np.asarray(lattice, dtype=np.float64)
        self.symbols, site_el = site_elements(species)
        refl = enumerate_reflections(matrix, self.wavelength, two_theta_range)
        if len(refl) == 0:
            raise ValueError(
                f"No reflection of this lattice lies in 2θ = {two_theta_range} at λ = {self.wavelength} Å."
            )
        self.reflections = refl
        self.device = resolve_device(device)
        self.dtype = dtype
        as_t = lambda a: torch.as_tensor(a, dtype=dtype, device=self.device)  # noqa: E731
        unique, expand = _reflection_orbits(refl.hkl, rotations)
        self.n_unique = len(unique)
        self.two_pi_hkl_t = as_t((2 * math.pi) * refl.hkl[unique].T)  # (3, U)
        s2 = refl.s2[unique]
        self.s2 = as_t(s2)  # (U,)
        self.lp2 = as_t(2 * refl.lorentz_polarisation[unique])  # (U,) Friedel factor 2 included
        self.f_site = as_t(element_form_factors(self.symbols, s2)[site_el])  # (N, U)
        self.expand = None if rotations is None else torch.as_tensor(expand, device=self.device)  # (R,)
        self.group = torch.as_tensor(refl.group, device=self.device)  # (R,)
        self.n_sites = len(site_el)

    @property
    def two_theta(self) -> NDArray[np.float64]:
        """``(M,)`` 2θ (degrees) of the merged peaks."""
        return self.reflections.merged_two_theta

    @property
    def n_merged(self) -> int:
        """Number M of merged peaks."""
        return len(self.reflections.starts)

    def _check(self, frac: torch.Tensor) -> torch.Tensor:
        if frac.dim() == 2:
            frac = frac.unsqueeze(0)
        if frac.dim() != 3 or frac.shape[1:] != (self.n_sites, 3):
            raise ValueError(
                f"Coordinates must have shape (C, {self.n_sites}, 3) or ({self.n_sites}, 3), "
                f"got {tuple(frac.shape)}."
            )
        return frac

    def reflection_intensities(
        self, frac: torch.Tensor, b_factor: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        """``(C, R)`` ``2 |F|² LP`` of every reflection (unmerged, unscaled).

        Parameters
        ----------
        frac
            ``(C, N, 3)`` fractional coordinates.
        b_factor
            Isotropic B (Å²): None (no damping), a number, a ``(C,)`` tensor (one per
            candidate) or a ``(C, N)`` tensor (one per site).
        """
        frac = self._check(frac)
        b = None
        if b_factor is not None:
            b = torch.as_tensor(b_factor, dtype=self.dtype, device=self.device)
            if b.dim() > 2:
                raise ValueError(f"b_factor must be a number, (C,) or (C, N); got shape {tuple(b.shape)}.")
            b = b.reshape(1, 1, 1) if b.dim() == 0 else b.reshape(b.shape[0], -1, 1)
        return self.expand_unique(self.intensities_of_phases(frac @ self.two_pi_hkl_t, b))

    def intensities_of_phases(self, phase: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        """``(C, U)`` ``2 |F|² LP`` of the orbit representatives from their phases.

        Parameters
        ----------
        phase
            ``(C, N, U)`` phases ``2π h·x`` (``frac @ two_pi_hkl_t``).
        b
            None, or B broadcastable to ``(C, N, U)`` (per candidate, site or reflection).
        """
        f = self.f_site.unsqueeze(0)  # (1, N, U)
        if b is not None:
            f = f * torch.exp(-b * self.s2)
        re = (f * torch.cos(phase)).sum(dim=1)
        im = (f * torch.sin(phase)).sum(dim=1)
        return (re * re + im * im) * self.lp2

    def expand_unique(self, per_unique: torch.Tensor) -> torch.Tensor:
        """``(C, R, ...)`` every reflection's value from its orbit representative's ``(C, U, ...)``."""
        return per_unique if self.expand is None else per_unique[:, self.expand]

    def merged_intensities(
        self,
        frac: torch.Tensor,
        b_factor: torch.Tensor | float | None = None,
        index: torch.Tensor | None = None,
        n_out: int | None = None,
    ) -> torch.Tensor:
        """``(C, M)`` merged, unscaled intensities (pymatgen's ``scaled=False`` values).

        ``index`` ``(R,)`` and ``n_out`` sum the reflections into other bins instead (for
        instance the sticks of a target pattern); by default the merged peaks.
        """
        per_refl = self.reflection_intensities(frac, b_factor)
        if index is None:
            index, n_out = self.group, self.n_merged
        out = torch.zeros(per_refl.shape[0], int(n_out), dtype=per_refl.dtype, device=per_refl.device)
        return out.index_add(1, index, per_refl)

    def sticks(
        self, frac: torch.Tensor, b_factor: torch.Tensor | float | None = None, scaled: bool = True
    ) -> torch.Tensor:
        """``(C, M)`` merged intensities, each row's maximum scaled to 100 when ``scaled``."""
        merged = self.merged_intensities(frac, b_factor)
        if not scaled:
            return merged
        return merged * (100 / merged.amax(dim=1, keepdim=True).clamp_min(torch.finfo(merged.dtype).tiny))


def _reflection_orbits(hkl: NDArray[np.int64], rotations: NDArray | None) -> tuple[NDArray, NDArray]:
    """Representatives ``(U,)`` of the orbits ``{±h R}`` and each reflection's orbit ``(R,)``."""
    n = len(hkl)
    if rotations is None:
        return np.arange(n), np.arange(n)
    rot = np.rint(np.asarray(rotations, dtype=np.float64)).astype(np.int64)
    if rot.ndim != 3 or rot.shape[1:] != (3, 3):
        raise ValueError(f"rotations must have shape (G, 3, 3), got {rot.shape}.")
    images = np.einsum("rj,gjk->grk", hkl, rot)  # (G, R, 3): h R
    images = np.concatenate([images, -images])
    span = int(np.abs(images).max()) + 1
    width = 2 * span + 1
    codes = ((images[..., 0] + span) * width + (images[..., 1] + span)) * width + (images[..., 2] + span)
    keys = codes.max(axis=0)  # the same key for every member of an orbit
    _, unique, expand = np.unique(keys, return_index=True, return_inverse=True)
    return unique, expand.reshape(-1)

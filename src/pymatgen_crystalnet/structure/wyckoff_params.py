"""Coordinates of a symmetric crystal as a linear function of its free Wyckoff parameters.

For a crystal with space-group operations ``g = (R, t)`` (spglib, in the crystal's own cell,
centring translations included), every orbit of equivalent sites has a representative ``r``
whose site-symmetry group ``G_r = {g : g(r) ≡ r (mod 1)}`` fixes it. The displacements of ``r``
that keep every ``g ∈ G_r`` a symmetry are the common fixed vectors of their rotations,
``V = ker [R_g − 1 for g ∈ G_r]`` (one column per free coordinate of the Wyckoff position:
none for 4a of Fm-3m, one for 18e (x, 0, ¼) of R-3c, three for a general position). The site
``g_i(r)`` of the orbit then moves by ``R_i V p``. Stacking the orbits gives

    x = x0 + A p,    A: (N, 3, P)

which keeps the space group exactly for every ``p``. ``x0`` is the crystal symmetrised onto
these positions (each representative averaged over its site-symmetry images, each member
rebuilt from it), so a slightly off-symmetric input becomes exactly symmetric. With no
symmetry (``symprec=None``) every coordinate is free (``A`` is the identity, P = 3N).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Structure

__all__ = ["CoordinateParametrisation", "p1_parametrisation", "symmetry_parametrisation"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoordinateParametrisation:
    """``x = x0 + A p``: fractional coordinates of N sites from P free parameters.

    Attributes
    ----------
    x0
        ``(N, 3)`` fractional coordinates at ``p = 0`` (exactly symmetric).
    basis
        ``(N, 3, P)`` the matrix ``A`` (fractional units per unit of ``p``).
    orbits
        Site indices of each orbit of equivalent sites (one orbit per site in P1).
    param_orbit
        ``(P,)`` the orbit each parameter moves.
    space_group
        Hermann–Mauguin symbol (``"P1"`` when no symmetry is used).
    space_group_number
        International number (1 when no symmetry is used).
    rotations
        ``(G, 3, 3)`` rotation parts of the space group in this cell (the identity in P1).
    """

    x0: NDArray[np.float64]
    basis: NDArray[np.float64]
    orbits: tuple[tuple[int, ...], ...]
    param_orbit: NDArray[np.int64]
    space_group: str
    space_group_number: int
    rotations: NDArray[np.float64]

    @property
    def n_free(self) -> int:
        """Number of free parameters P."""
        return int(self.basis.shape[2])

    @property
    def n_sites(self) -> int:
        """Number N of sites."""
        return int(self.x0.shape[0])

    def coords(self, params: ArrayLike) -> NDArray[np.float64]:
        """Fractional coordinates ``(..., N, 3)`` of parameters ``(..., P)``."""
        p = np.asarray(params, dtype=np.float64)
        if p.shape[-1:] != (self.n_free,):
            raise ValueError(f"Expected {self.n_free} parameters in the last axis, got shape {p.shape}.")
        return self.x0 + np.einsum("nip,...p->...ni", self.basis, p)

    def params_of(self, frac_coords: ArrayLike) -> NDArray[np.float64]:
        """Least-squares parameters of coordinates (periodic differences to ``x0``)."""
        d = np.asarray(frac_coords, dtype=np.float64) - self.x0
        d -= np.round(d)
        if self.n_free == 0:
            return np.zeros(0)
        a = self.basis.reshape(-1, self.n_free)
        return np.linalg.lstsq(a, d.reshape(-1), rcond=None)[0]


def p1_parametrisation(structure: Structure) -> CoordinateParametrisation:
    """Every fractional coordinate free (no symmetry kept)."""
    n = len(structure)
    if n == 0:
        raise ValueError("The structure has no sites.")
    basis = np.zeros((n, 3, 3 * n))
    for i in range(n):
        basis[i, :, 3 * i : 3 * i + 3] = np.eye(3)
    return CoordinateParametrisation(
        x0=np.array(structure.frac_coords, dtype=np.float64),
        basis=basis,
        orbits=tuple((i,) for i in range(n)),
        param_orbit=np.repeat(np.arange(n), 3),
        space_group="P1",
        space_group_number=1,
        rotations=np.eye(3)[None],
    )


def _null_space(rows: NDArray[np.float64], tol: float = 1e-8) -> NDArray[np.float64]:
    """Orthonormal basis ``(3, k)`` of the vectors ``v`` with ``rows @ v = 0``."""
    if rows.size == 0:
        return np.eye(3)
    _, sing, vt = np.linalg.svd(rows)
    rank = int(np.sum(sing > tol * max(1.0, sing.max())))
    return vt[rank:].T.copy()


def _wrap_near(x: NDArray[np.float64], ref: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x`` shifted by a lattice vector to the image nearest ``ref``."""
    return x - np.round(x - ref)


def symmetry_parametrisation(
    structure: Structure, symprec: float | None = 0.01, angle_tolerance: float = 5.0
) -> CoordinateParametrisation:
    """Free Wyckoff parameters of a crystal, from its spglib space group.

    Parameters
    ----------
    structure
        The crystal (symmetric within ``symprec``), in any cell.
    symprec
        spglib distance tolerance (Å); None gives :func:`p1_parametrisation`.
    angle_tolerance
        spglib angle tolerance (degrees).

    Returns
    -------
    CoordinateParametrisation

    Raises
    ------
    ValueError
        For an empty or disordered structure, or when spglib finds no symmetry at all.
    """
    if len(structure) == 0:
        raise ValueError("The structure has no sites.")
    if not structure.is_ordered:
        raise ValueError("The structure has partial occupancies; refine an ordered model.")
    if symprec is None:
        return p1_parametrisation(structure)
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        data = SpacegroupAnalyzer(
            structure, symprec=symprec, angle_tolerance=angle_tolerance
        ).get_symmetry_dataset()
    except (TypeError, ValueError) as exc:  # spglib failure
        raise ValueError(f"spglib found no symmetry at symprec={symprec}: {exc}") from None
    rotations = np.asarray(data.rotations, dtype=np.float64)  # (G, 3, 3) acting on fractional columns
    translations = np.asarray(data.translations, dtype=np.float64)  # (G, 3)
    equivalent = np.asarray(data.equivalent_atoms)
    frac = np.array(structure.frac_coords, dtype=np.float64)
    # site tolerance in fractional units, from the spglib distance tolerance
    tol = 2 * symprec / np.min(structure.lattice.abc) + 1e-9
    n = len(structure)
    x0 = np.empty((n, 3))
    blocks: list[NDArray[np.float64]] = []  # per orbit: (N, 3, k)
    orbits: list[tuple[int, ...]] = []
    for rep in sorted(set(equivalent.tolist())):
        members = np.flatnonzero(equivalent == rep)
        r = frac[rep]
        images = np.einsum("gij,j->gi", rotations, r) + translations  # (G, 3) g(r)
        stabiliser = np.all(np.abs(images - r - np.round(images - r)) < tol, axis=1)
        v = _null_space((rotations[stabiliser] - np.eye(3)).reshape(-1, 3))
        # the representative symmetrised: the mean of its site-symmetry images (near r)
        r_sym = _wrap_near(images[stabiliser], r).mean(axis=0)
        images_sym = np.einsum("gij,j->gi", rotations, r_sym) + translations
        block = np.zeros((n, 3, v.shape[1]))
        for i in members:
            diff = images_sym - frac[i]
            match = np.flatnonzero(np.all(np.abs(diff - np.round(diff)) < tol, axis=1))
            if len(match) == 0:
                raise ValueError(f"Site {i} is not an image of site {rep} within symprec={symprec}.")
            g = match[0]
            x0[i] = _wrap_near(images_sym[g], frac[i])
            block[i] = rotations[g] @ v
        blocks.append(block)
        orbits.append(tuple(int(i) for i in members))
    basis = np.concatenate(blocks, axis=2) if blocks else np.zeros((n, 3, 0))
    param_orbit = np.concatenate([np.full(b.shape[2], k) for k, b in enumerate(blocks)]).astype(np.int64)
    logger.debug("%s: %d orbits, %d free parameters", data.international, len(orbits), basis.shape[2])
    return CoordinateParametrisation(
        x0=x0,
        basis=basis,
        orbits=tuple(orbits),
        param_orbit=param_orbit,
        space_group=str(data.international),
        space_group_number=int(data.number),
        rotations=rotations,
    )

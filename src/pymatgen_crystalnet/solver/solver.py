"""``CrystalNetSolver``: candidate electron densities from a powder pattern.

::

    from pymatgen_crystalnet.solver import CrystalNetSolver
    solver = CrystalNetSolver.from_pretrained()               # bundled weights, offline
    result = solver.solve(pattern, "NaCl", n_candidates=5)    # cubic: lattice found by indexing
    best = result[0]
    best.density                                              # pymatgen Chgcar (ρ × V)
    best.agreement                                            # {"cosine": …, "rwp": …}

The model proposes ``n_candidates`` densities (latent samples) on the canonical cell; each is
verified by the forward model (its own pattern against the input) and the candidates come back
ranked by that agreement, best first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pymatgen_crystalnet.devices import AUTO, resolve_device
from pymatgen_crystalnet.featurize.composition import composition_vector, infer_mode
from pymatgen_crystalnet.scoring.verification import rank_by_agreement, verify_density
from pymatgen_crystalnet.solver.config import SolveConfig
from pymatgen_crystalnet.solver.indexing import index_cubic, index_cubic_with_a
from pymatgen_crystalnet.solver.inputs import PreparedPattern, prepare_pattern
from pymatgen_crystalnet.solver.result import Candidate, SolveResult
from pymatgen_crystalnet.solver.structures import solve_candidate_structures

if TYPE_CHECKING:
    import torch
    from pymatgen.core import Lattice

    from pymatgen_crystalnet.model.crystalnet import CrystalNet
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

__all__ = ["Candidate", "CrystalNetSolver", "SolveResult"]

logger = logging.getLogger(__name__)


class CrystalNetSolver:
    """Solve electron densities from powder patterns with a trained CrystalNet.

    Parameters
    ----------
    model
        A trained :class:`~pymatgen_crystalnet.model.crystalnet.CrystalNet`.
    metadata
        What the weights record about their training data (``cell``, ``b_factor``, …).
    name
        Label for reports.
    device
        ``"auto"`` (CUDA when available, else the CPU; also ``None``), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, … (see :func:`pymatgen_crystalnet.devices.resolve_device`).

    Raises
    ------
    ValueError
        If the device is unknown or absent on this machine.
    """

    def __init__(
        self,
        model: CrystalNet,
        metadata: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        device: str | torch.device | None = AUTO,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.metadata = dict(metadata or {})
        self.name = name
        self.cell = self.metadata.get("cell", "primitive")
        #: What ``solve`` does about crystal structures when not told (True, False or a config).
        self.structures: StructureSolveConfig | bool = True

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | torch.device | None = AUTO) -> CrystalNetSolver:
        """Load weights saved by ``save_model`` (a folder with model.safetensors + config.json).

        Raises
        ------
        ValueError
            If the device is unknown or absent (checked before the weights are read), or the
            folder does not hold valid weights (``WeightsError``).
        """
        from pymatgen_crystalnet.model.weights import load_model_and_metadata

        dev = resolve_device(device)
        folder = Path(path)
        model, meta = load_model_and_metadata(folder, device=dev)
        return cls(model, meta, name=folder.name, device=dev)

    @classmethod
    def from_pretrained(
        cls, name: str | None = None, device: str | torch.device | None = AUTO
    ) -> CrystalNetSolver:
        """Load a model bundled with the package (the default one when ``name`` is None).

        Raises
        ------
        ValueError
            If no bundled model has that name (an empty name included), or the device is
            unknown or absent.
        """
        from pymatgen_crystalnet.model.pretrained import pretrained_path

        return cls.from_checkpoint(pretrained_path(name), device=device)

    # ------------------------------------------------------------------ inputs

    def _lattice(self, prepared: PreparedPattern, lattice: Any) -> tuple[Lattice, str, dict]:
        from pymatgen.core import Lattice

        if lattice is not None:
            if isinstance(lattice, Lattice):
                return lattice, "given", {}
            if np.isscalar(lattice):
                indexing = index_cubic_with_a(
                    prepared.peaks_two_theta,
                    prepared.wavelength,
                    float(lattice),
                    intensities=prepared.peaks_height,
                    tolerance=prepared.position_tolerance,
                )
                return indexing.lattice(self.cell), "given a (cubic)", {"centring": indexing.centring}
            mat = np.asarray(lattice, dtype=float)
            if mat.shape != (3, 3):
                raise ValueError("lattice must be a pymatgen Lattice, a (3, 3) matrix or a cubic a (Å).")
            return Lattice(mat), "given", {}
        try:
            indexing = index_cubic(
                prepared.peaks_two_theta,
                prepared.wavelength,
                intensities=prepared.peaks_height,
                tolerance=prepared.position_tolerance,
            )
        except ValueError as exc:
            raise ValueError(
                "A lattice is needed: the pattern did not index as cubic "
                f"({exc}). Pass lattice=Lattice(...) (the cell the density should live on)."
            ) from None
        info = {"indexed_a": indexing.a, "centring": indexing.centring}
        return indexing.lattice(self.cell), "indexed (cubic)", info

    def _composition(
        self, composition: Any, mode: str | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, str]:
        mode = mode or infer_mode(composition)
        if self.model.config.composition_mode == "none":
            mode = "none"
        if isinstance(composition, (list, tuple, set)):
            composition = {str(el): 1 for el in composition}
        elif isinstance(composition, str) and mode == "no_ratios":
            composition = {el: 1 for el in composition.replace(",", " ").split()}
        return composition_vector(composition, mode, rng=rng), mode  # type: ignore[arg-type]

    # ------------------------------------------------------------------ solving

    def solve(
        self,
        pattern: Any,
        composition: Any = None,
        *,
        lattice: Any = None,
        wavelength: float | str | None = None,
        n_candidates: int = SolveConfig.n_candidates,
        grid: int = SolveConfig.grid,
        seed: int | None = None,
        composition_mode: str | None = None,
        deterministic: bool = False,
        structures: StructureSolveConfig | bool | None = None,
    ) -> SolveResult:
        """Propose, verify and rank candidate densities for one pattern.

        Parameters
        ----------
        pattern
            ``DiffractionPattern`` (sticks), ``PowderProfile``, a profile file path,
            ``(two_theta, intensity)`` arrays, or a 1024-bin Mo Kα vector.
        composition
            ``Composition``/formula (ratios used), a list of elements or a string like
            ``"Na Cl"`` (elements only), or None (no formula).
        lattice
            The cell the density lives on: a pymatgen ``Lattice``, a (3, 3) matrix, or a cubic
            ``a`` in Å. Omitted: a cubic pattern is indexed; otherwise an error asks for one.
        wavelength
            Wavelength of the input (Å or a name); read from the file or Mo Kα by default.
        n_candidates
            Latent samples to draw.
        grid
            Grid points per cell axis.
        seed
            Seed of the latent samples (reproducible candidates).
        composition_mode
            Override the inferred ablation mode.
        deterministic
            Use the latent means (all candidates identical).
        structures
            Solve crystal structures from the densities (:mod:`.structures`): True with the
            default :class:`~pymatgen_crystalnet.structure.config.StructureSolveConfig`, a
            config (``refine``, ``z``, ``space_group``, ``time_budget_s``, …), or False for
            densities only; None: the solver's ``structures`` attribute (True unless set).
            Needs the formula (``composition`` with ratios).

        The settings after ``wavelength`` are those of :class:`SolveConfig` (checked there);
        ``solve(pattern, composition, **config.solve_kwargs())`` solves with a config.
        """
        import torch

        SolveConfig(  # checks the settings
            n_candidates=n_candidates,
            grid=grid,
            seed=seed,
            composition_mode=composition_mode,  # type: ignore[arg-type]
            deterministic=deterministic,
        )
        structure_config = _structure_config(self.structures if structures is None else structures)
        prepared = prepare_pattern(pattern, wavelength)
        cell, lattice_source, info = self._lattice(prepared, lattice)
        rng = np.random.default_rng(seed)
        comp_vec, mode = self._composition(composition, composition_mode, rng)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(rng.integers(2**31)) if seed is None else int(seed))
        xrd = torch.as_tensor(prepared.vector, device=self.device)[None]
        comp = torch.as_tensor(comp_vec, device=self.device)[None]
        grids = (
            self.model.predict_grid(
                xrd, comp, n=grid, k=n_candidates, deterministic=deterministic, generator=gen
            )[:, 0]
            .cpu()
            .numpy()
        )
        verifications = [verify_density(g, cell, prepared.vector, prepared.covered) for g in grids]
        order = rank_by_agreement(verifications)
        candidates = [
            Candidate(rank=r, sample=i, grid=grids[i], lattice=cell, verification=verifications[i])
            for r, i in enumerate(order)
        ]
        solved, structure_info = [], {}
        if structure_config is not None:
            solved, structure_info = solve_candidate_structures(
                candidates, cell, info, prepared, composition, mode, structure_config
            )
        logger.info(
            "Solved: %d candidates on %s lattice, best cosine %.4f, %d structures",
            len(candidates),
            lattice_source,
            candidates[0].verification.cosine,
            len(solved),
        )
        return SolveResult(
            candidates=candidates,
            lattice=cell,
            lattice_source=lattice_source,
            composition_mode=mode,
            input_vector=prepared.vector,
            covered=prepared.covered,
            info={"wavelength": prepared.wavelength, "input_kind": prepared.kind, "model": self.name, **info},
            structures=solved,
            structure_info=structure_info,
        )

    def solve_many(
        self, patterns: Sequence[Any], compositions: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[SolveResult]:
        """Solve several patterns (same keyword arguments for all)."""
        compositions = [None] * len(patterns) if compositions is None else list(compositions)
        if len(compositions) != len(patterns):
            raise ValueError("Give one composition per pattern.")
        return [self.solve(p, c, **kwargs) for p, c in zip(patterns, compositions)]


def _structure_config(structures: StructureSolveConfig | bool) -> StructureSolveConfig | None:
    """The structure step's settings (None: no structure step)."""
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

    if isinstance(structures, StructureSolveConfig):
        return structures
    if structures is True:
        return StructureSolveConfig()
    if structures is False or structures is None:
        return None
    raise ValueError(f"structures must be True, False or a StructureSolveConfig, got {structures!r}.")

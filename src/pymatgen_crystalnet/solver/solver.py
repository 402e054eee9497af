"""``CrystalNetSolver``: candidate electron densities from a powder pattern.

::

    from pymatgen_crystalnet.solver import CrystalNetSolver
    solver = CrystalNetSolver.from_pretrained()               # bundled weights, offline
    result = solver.solve(pattern, "NaCl", wavelength="CuKa1")   # cell found by indexing
    result.solved, result.reason                              # False: "no solution found: …"
    best = result[0]
    best.density                                              # pymatgen Chgcar (ρ × V)
    best.agreement                                            # {"cosine": …, "rwp": …}

The model proposes ``n_candidates`` densities (latent samples) on the canonical cell; each is
verified by the forward model (its own pattern against the input) and the candidates come back
ranked by that agreement, best first. A model that reads the cell (the ``small-lattice`` and
``small-reflections`` presets) is given each cell, and the pattern's amplitudes read on it
(:mod:`.model_inputs`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pymatgen_crystalnet.devices import AUTO, resolve_device
from pymatgen_crystalnet.featurize.composition import composition_vector, infer_mode
from pymatgen_crystalnet.scoring.verification import verify_density
from pymatgen_crystalnet.solver.cell_checks import MIN_COSINE
from pymatgen_crystalnet.solver.cell_choice import choose_cells, order_candidates
from pymatgen_crystalnet.solver.config import SolveConfig
from pymatgen_crystalnet.solver.electrons import normalise_candidates
from pymatgen_crystalnet.solver.inputs import PreparedPattern, prepare_pattern
from pymatgen_crystalnet.solver.lattice import SolveCell
from pymatgen_crystalnet.solver.limits import check_cost, estimate_cost
from pymatgen_crystalnet.solver.model_inputs import predict_on_cells
from pymatgen_crystalnet.solver.result import Candidate, SolveResult
from pymatgen_crystalnet.solver.structures import solve_candidate_structures

if TYPE_CHECKING:
    import torch
    from pymatgen.core import Composition

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

    def _composition(
        self, composition: Any, mode: str | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, str, Composition | None]:
        """The model's composition vector, its mode, and the checked formula (None without ratios)."""
        from pymatgen_crystalnet.featurize.composition import parse_composition

        mode = mode or infer_mode(composition)
        if self.model.config.composition_mode == "none":
            mode = "none"
        parsed = None if composition is None else parse_composition(composition)
        vector = composition_vector(parsed, mode, rng=rng)  # type: ignore[arg-type]
        with_ratios = parsed is not None and infer_mode(composition) == "full"
        return vector, mode, parsed if with_ratios else None

    def prepare(
        self,
        pattern: Any,
        composition: Any = None,
        *,
        lattice: Any = None,
        wavelength: float | str | None = None,
        two_theta_range: tuple[float, float] | None = None,
        index_seconds: float = SolveConfig.index_seconds,
    ) -> tuple[PreparedPattern, list[SolveCell], dict[str, Any]]:
        """The front half of :meth:`solve`: the prepared pattern and the checked cells.

        Raises
        ------
        ValueError
            As :meth:`solve` (before any model evaluation).
        """
        from pymatgen_crystalnet.featurize.composition import parse_composition

        prepared = prepare_pattern(pattern, wavelength, two_theta_range=two_theta_range)
        parsed = None if composition is None else parse_composition(composition)
        formula = parsed if parsed is not None and infer_mode(composition) == "full" else None
        cells, refused = choose_cells(
            prepared, lattice, formula, self.metadata, self.cell, index_seconds=index_seconds
        )
        info: dict[str, Any] = {
            "pattern": prepared.summary(),
            "wavelength": prepared.wavelength,
            "cells": [c.summary() for c in cells],
            "cells_refused": refused,
        }
        return prepared, cells, info

    # ------------------------------------------------------------------ solving

    def solve(
        self,
        pattern: Any,
        composition: Any = None,
        *,
        lattice: Any = None,
        wavelength: float | str | None = None,
        two_theta_range: tuple[float, float] | None = None,
        n_candidates: int = SolveConfig.n_candidates,
        grid: int = SolveConfig.grid,
        seed: int | None = None,
        composition_mode: str | None = None,
        deterministic: bool = False,
        index_seconds: float = SolveConfig.index_seconds,
        structures: StructureSolveConfig | bool | None = None,
        temperature: float = SolveConfig.temperature,
    ) -> SolveResult:
        """Propose, verify and rank candidate densities for one pattern.

        Parameters
        ----------
        pattern
            ``DiffractionPattern`` (sticks), ``PowderProfile``, a profile file path,
            ``(two_theta, intensity)`` arrays, a prepared pattern, or a 1024-bin Mo Kα vector.
        composition
            ``Composition``/formula (ratios used), a list of elements or a string like
            ``"Na Cl"`` (elements only), or None (no formula). Checked: a zero, NaN or negative
            amount, an unknown element or one without form factors is refused.
        lattice
            The cell: a pymatgen ``Lattice``, a (3, 3) matrix (right-handed), six parameters or
            a cubic ``a`` in Å, in any setting; it is reduced to the model's canonical cell
            (the transformation is in ``result.info["cells"]``). Omitted: the pattern is
            indexed (:func:`pymatgen_crystalnet.indexing.index_pattern`) and candidates are
            proposed on every close best cell (see :mod:`~pymatgen_crystalnet.solver.cell_choice`).
        wavelength
            Wavelength of the input (Å or a name such as ``"CuKa1"``). Required unless the
            pattern file states it (or the input is a 1024-vector, on the Mo Kα axis).
        two_theta_range
            For stick patterns: the 2θ range the list covers (default up to the last line).
        n_candidates
            Latent samples to draw (each is verified on every cell).
        grid
            Grid points per cell axis.
        seed
            Seed of the latent samples (reproducible candidates).
        composition_mode
            Override the inferred ablation mode.
        deterministic
            Use the latent means (all candidates identical).
        index_seconds
            Time limit of indexing (no lattice given).
        structures
            Solve crystal structures from the densities (:mod:`.structures`): True with the
            default :class:`~pymatgen_crystalnet.structure.config.StructureSolveConfig`, a
            config (``refine``, ``z``, ``space_group``, ``time_budget_s``, …), or False for
            densities only; None: the solver's ``structures`` attribute (True unless set).
            Needs the formula (``composition`` with ratios). Skipped when no solution is found.
        temperature
            Scale of the latent noise, z = μ + T·σ·ε (1: the model's posterior; 0: the means).

        Returns
        -------
        SolveResult
            Candidates ranked by agreement; ``result.solved`` is False (with ``reason``) when
            the best candidate's pattern cosine is below the threshold
            (:data:`~pymatgen_crystalnet.solver.cell_checks.MIN_COSINE`).

        Raises
        ------
        ValueError
            For a bad pattern, wavelength, composition or lattice, a cell that fails a figure
            of merit, the volume check or the model's coverage, or a request too large for
            memory (each a subclass naming the problem).

        The settings after ``two_theta_range`` are those of :class:`SolveConfig` (checked
        there); ``solve(pattern, composition, **config.solve_kwargs())`` solves with a config.
        """
        SolveConfig(  # checks the settings
            n_candidates=n_candidates,
            grid=grid,
            seed=seed,
            composition_mode=composition_mode,  # type: ignore[arg-type]
            deterministic=deterministic,
            index_seconds=index_seconds,
            temperature=temperature,
        )
        structure_config = _structure_config(self.structures if structures is None else structures)
        prepared, cells, info = self.prepare(
            pattern, composition, lattice=lattice, wavelength=wavelength, two_theta_range=two_theta_range,
            index_seconds=index_seconds,
        )  # fmt: skip
        widest = max(self.model.config.regressor_hidden, self.model.config.fusion_hidden)
        cost = estimate_cost(
            n_candidates, grid, len(cells), widest_layer=widest, device_type=self.device.type
        )
        check_cost(cost, self.device, f"{n_candidates} candidates on a {grid}³ grid")
        rng = np.random.default_rng(seed)
        comp_vec, mode, formula = self._composition(composition, composition_mode, rng)
        sample_seed = int(rng.integers(2**31)) if seed is None else int(seed)
        # one prediction verified on every cell, or, for a model that reads the cell, one per cell
        grids = predict_on_cells(
            self.model, prepared, cells, comp_vec, grid=grid, k=n_candidates,
            deterministic=deterministic, seed=sample_seed, device=self.device, temperature=temperature,
        )  # fmt: skip
        pairs = [(ci, i) for ci in range(len(cells)) for i in range(n_candidates)]
        verifications = [
            verify_density(grids[ci][i], cells[ci].lattice, prepared.vector, prepared.covered)
            for ci, i in pairs
        ]
        order = order_candidates([ci for ci, _ in pairs], verifications)
        candidates = [
            Candidate(
                rank=r,
                sample=pairs[j][1],
                grid=grids[pairs[j][0]][pairs[j][1]],
                lattice=cells[pairs[j][0]].lattice,
                verification=verifications[j],
                cell=pairs[j][0],
            )
            for r, j in enumerate(order)
        ]
        best = candidates[0]
        solved = best.verification.cosine >= MIN_COSINE
        reason = None if solved else (
            f"no solution found: the best candidate's pattern agrees with the input only to cosine "
            f"{best.verification.cosine:.3f} (< {MIN_COSINE}, the threshold chosen on the validation split)"
        )  # fmt: skip
        used = cells[best.cell]
        structure_list, structure_info = [], {}
        if structure_config is not None and not solved:
            structure_info = {"reason": f"no structure solved: {reason}"}
        elif structure_config is not None:
            used_candidates = [c for c in candidates if c.cell == best.cell]
            cell_info = {"conventional_lattice": used.incoming, "centring": used.centring}
            structure_list, structure_info = solve_candidate_structures(
                used_candidates, used.lattice, cell_info, prepared, composition, mode, structure_config
            )
        # the content a solved structure, a given Z or the formula and volume fix (solver.electrons)
        normalise_candidates(
            candidates,
            best_structures={best.cell: structure_list[0].structure} if structure_list else {},
            composition=formula,
            z=structure_config.z if structure_config is not None else None,
            conventional={best.cell: used.incoming},
        )
        logger.info(
            "Solved: %d candidates on %d %s cell(s), best cosine %.4f%s, %d structures",
            len(candidates), len(cells), used.source, best.verification.cosine,
            "" if solved else " (no solution)", len(structure_list),
        )  # fmt: skip
        return SolveResult(
            candidates=candidates,
            lattice=used.lattice,
            lattice_source=used.source,
            composition_mode=mode,
            input_vector=prepared.vector,
            covered=prepared.covered,
            solved=solved,
            reason=reason,
            info={
                "input_kind": prepared.kind,
                "model": self.name,
                "cell": used.summary(),
                "min_cosine": MIN_COSINE,
                **info,
            },
            structures=structure_list,
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

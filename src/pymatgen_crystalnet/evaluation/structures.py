"""Structure evaluation: whether the pipeline returns the right crystal, and what the network adds.

For every selected crystal of an export (true cell given, formula given, Z found by the
pipeline) the input is the crystal's stick pattern (pymatgen ``XRDCalculator`` physics, Mo Kα,
the export's B, 2θ 0–180°) and each method runs
:func:`~pymatgen_crystalnet.structure.pipeline.solve_structures` with its own sources:

``a_decoded``
    The model's k densities decoded, no search, no refinement.
``b_decoded_refined``
    The same, refined against the sticks.
``c_search`` / ``c_search_sg``
    The pyxtal symmetry search alone, no network (space group found by the pipeline / given).
``d_pooled`` / ``d_pooled_sg``
    Densities decoded and the search in one pool, refined (the default; found / given).
``e_control``
    The control: k densities predicted from another crystal's pattern of the same system
    (this crystal's composition), decoded and refined against this crystal's pattern.
``f_true_density``
    The decoder on the true IAM density (no refinement): the decoder's ceiling.

A method's top-1 (top-k) is a match when its first (any of its first k) structures is the
truth for pymatgen's ``StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)`` (the MP-20
convention); the RMS displacement is ``StructureMatcher.get_rms_dist`` of the first matching
structure (normalised by ``(V/N)^(1/3)``, as MP-20 reports it). Seconds per pattern are the
pipeline's wall time plus, for the methods that use the network, the model's prediction time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from monty.json import MSONable

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from pymatgen_crystalnet.data.reader import ExportedDataset
    from pymatgen_crystalnet.model.crystalnet import CrystalNet

__all__ = [
    "METHODS",
    "StructureEvaluationConfig",
    "evaluate_structures",
]

logger = logging.getLogger(__name__)

#: method → (densities: "model" | "control" | "truth" | None, space group given, solve settings)
METHODS: dict[str, tuple[str | None, bool, dict[str, Any]]] = {
    "a_decoded": ("model", False, {"use_search": False, "refine": False}),
    "b_decoded_refined": ("model", False, {"use_search": False}),
    "c_search": (None, False, {"use_network": False}),
    "c_search_sg": (None, True, {"use_network": False}),
    "d_pooled": ("model", False, {}),
    "d_pooled_sg": ("model", True, {}),
    "e_control": ("control", False, {"use_search": False}),
    "f_true_density": ("truth", False, {"use_search": False, "refine": False}),
}
LABELS: dict[str, str] = {
    "a_decoded": "(a) network densities decoded, no refinement",
    "b_decoded_refined": "(b) decoded and refined",
    "c_search": "(c) symmetry search alone (no network)",
    "c_search_sg": "(c) symmetry search alone, space group given",
    "d_pooled": "(d) decoded + search pooled, refined (default)",
    "d_pooled_sg": "(d) pooled, space group given",
    "e_control": "(e) control: another crystal's pattern, refined",
    "f_true_density": "(f) decoder on the true IAM density",
}


@dataclass
class StructureEvaluationConfig(MSONable):
    """Settings of the structure evaluation (the selection comes from the evaluation's config).

    Parameters
    ----------
    methods
        Methods to run (keys of :data:`METHODS`), in report order.
    k
        Structures kept per pattern (top-k), and latent samples (densities) per pattern.
    grid
        Grid points per cell axis of the predicted (and true) densities.
    n_search_trials, n_hypotheses, n_refine, time_budget_s
        :class:`~pymatgen_crystalnet.structure.config.StructureSolveConfig` settings of every
        method (the budget defaults to 30 s per pattern, the issue's goal, not the pipeline's 60 s).
    seed
        Seed of the latent samples, the control pairing, the search and the refinement.
    sample_per_system
        Evaluate a seeded random sample of this many crystals per crystal system of the
        selection (None: every selected crystal). The export's order puts the lowest Materials
        Project ids, mostly simple binaries, first, so the first N are not a fair sample.
    """

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    k: int = 5
    grid: int = 32
    n_search_trials: int = 40
    n_hypotheses: int = 3
    n_refine: int = 8
    time_budget_s: float = 30.0
    seed: int = 0
    sample_per_system: int | None = None

    def __post_init__(self) -> None:
        self.methods = [str(m) for m in self.methods]
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"Unknown structure methods {unknown}; choose from {', '.join(METHODS)}.")
        if not self.methods:
            raise ValueError("Give at least one structure method.")
        if self.sample_per_system is not None and self.sample_per_system < 1:
            raise ValueError(f"sample_per_system must be ≥ 1 or None, got {self.sample_per_system}.")
        if self.k < 1 or self.grid < 8:
            raise ValueError(f"k must be ≥ 1 and grid ≥ 8, got k={self.k}, grid={self.grid}.")

    def sample_rows(self, rows: Sequence[int], systems: Sequence[str]) -> np.ndarray:
        """The rows to evaluate: all, or a seeded random sample per system (export order kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.sample_per_system is None:
            return rows
        labels = np.asarray(systems)[rows]
        rng = np.random.default_rng([self.seed, 13])
        keep = []
        for system in sorted(set(labels.tolist())):
            members = rows[labels == system]
            keep.append(rng.choice(members, size=min(self.sample_per_system, members.size), replace=False))
        return np.sort(np.concatenate(keep)) if keep else rows[:0]

    def with_settings(self, items: Sequence[str]) -> StructureEvaluationConfig:
        """A copy with ``key=value`` settings applied (lists comma-separated)."""
        from pymatgen_crystalnet.configs import apply_settings

        return apply_settings(self, items)

    def solve_config(self, method: str, space_group: int | None):
        """The pipeline's configuration of one method."""
        from pymatgen_crystalnet.structure.config import StructureSolveConfig

        _, given, settings = METHODS[method]
        return StructureSolveConfig(
            n_hypotheses=self.n_hypotheses,
            n_search_trials=self.n_search_trials,
            n_refine=self.n_refine,
            keep=self.k,
            time_budget_s=self.time_budget_s,
            seed=self.seed,
            space_group=space_group if given else None,
            **settings,
        )


def true_structure(data: ExportedDataset, i: int) -> Structure:
    """The crystal ``i`` of the export as a pymatgen ``Structure`` on its (canonical) cell."""
    from pymatgen.core import Lattice, Structure

    frac, zs, occ = data.atoms(i)
    if np.any(np.abs(occ - 1) > 1e-6):
        raise ValueError(f"{data.material_id[i]} is disordered (partial occupancies).")
    return Structure(Lattice(data.lattice[i]), [int(z) for z in zs], frac)


class _Densities:
    """The model's densities of one crystal (own and control pattern), predicted once."""

    def __init__(self, model: CrystalNet | None, data: ExportedDataset, config: StructureEvaluationConfig,
                 device: Any) -> None:
        self.model, self.data, self.config, self.device = model, data, config, device
        self.generators: dict[str, Any] = {}
        if model is not None:
            import torch

            for family, offset in (("model", 0), ("control", 2)):
                g = torch.Generator(device=device)
                g.manual_seed(config.seed * 1000 + offset)
                self.generators[family] = g

    def predict(self, pattern_row: int, composition_row: int, family: str) -> tuple[list[np.ndarray], float]:
        import torch

        from pymatgen_crystalnet.data.reader import apply_composition_mode

        assert self.model is not None
        t0 = time.perf_counter()
        mode = self.model.config.composition_mode
        rng = np.random.default_rng([self.config.seed, composition_row])
        comp = apply_composition_mode(self.data.composition[composition_row], mode, rng)
        xrd = torch.from_numpy(self.data.xrd[[pattern_row]].astype(np.float32)).to(self.device)
        comp_t = torch.from_numpy(np.asarray(comp, dtype=np.float32)[None]).to(self.device)
        spec = self.model.config.cell_inputs  # a model that reads the cell: own cell, shown pattern
        arrays = spec.arrays(self.data.xrd[[pattern_row]], self.data.lattice[[composition_row]])
        cell = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}
        with torch.no_grad():
            grids = self.model.predict_grid(
                xrd, comp_t, n=self.config.grid, k=self.config.k, generator=self.generators[family], **cell
            )[:, 0]
        return [g for g in grids.cpu().numpy().astype(np.float64)], time.perf_counter() - t0


def _score(solution: Any, truth: Structure, k: int) -> dict[str, Any]:
    from pymatgen_crystalnet.structure.candidate_pool import default_matcher

    matcher = default_matcher()
    rank, rms = None, None
    for r, cand in enumerate(solution.candidates[:k]):
        if matcher.fit(cand.structure, truth):
            rank = r
            dist = matcher.get_rms_dist(cand.structure, truth)
            rms = None if dist is None else float(dist[0])
            break
    top = solution.candidates[0] if solution.candidates else None
    return {
        "match_rank": rank,
        "rms": rms,
        "n_candidates": len(solution.candidates),
        "top_source": None if top is None else top.source,
        "top_space_group": None if top is None else top.space_group_number,
        "top_rwp": None if top is None or top.rwp is None else float(top.rwp),
        "first_hypothesis": solution.hypotheses[0].number if solution.hypotheses else None,
        "searched": list(solution.searched),
        "skipped": list(solution.skipped),
        "reason": solution.reason,
    }


def evaluate_structures(
    model: CrystalNet | None,
    data: ExportedDataset,
    rows: Sequence[int],
    config: StructureEvaluationConfig | None = None,
    *,
    device: str | None = "cpu",
    on_crystal: Callable[[dict[str, Any]], None] | None = None,
    skip: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Run every method on every crystal; one record per crystal (see the module docstring).

    Parameters
    ----------
    model
        The network (None: only the methods without it, (c) and (f), may be asked for).
    data
        The export.
    rows
        Export indices of the crystals.
    config
        Methods and settings.
    device
        Where the model predicts.
    on_crystal
        Called with each crystal's record as soon as it is done (progress, partial saves).
    skip
        Material ids already done (a resumed run): not run again, and not in the returned list;
        the control partners are drawn over all ``rows``, so they do not change on resume.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from pymatgen_crystalnet.devices import resolve_device
    from pymatgen_crystalnet.evaluation.baselines import control_partners
    from pymatgen_crystalnet.physics.powder import xrd_pattern
    from pymatgen_crystalnet.structure.pipeline import solve_structures

    config = config or StructureEvaluationConfig()
    needs_model = [m for m in config.methods if METHODS[m][0] in ("model", "control")]
    if model is None and needs_model:
        raise ValueError(f"Methods {needs_model} need a model.")
    dev = resolve_device(device)
    if model is not None:
        model = model.to(dev).eval()
    rows = np.asarray(rows, dtype=np.int64)
    partners_local = control_partners(data.crystal_system[rows], seed=config.seed)
    dens = _Densities(model, data, config, dev)
    records = []
    for j, i in enumerate(rows):
        i = int(i)
        if str(data.material_id[i]) in skip:
            continue
        record: dict[str, Any] = {
            "material_id": str(data.material_id[i]),
            "formula": str(data.formula[i]),
            "crystal_system": str(data.crystal_system[i]),
            "spacegroup_number": int(data.spacegroup_number[i]),
            "n_atoms": int(data.atom_offsets[i + 1] - data.atom_offsets[i]),
            "methods": {},
        }
        try:
            truth = true_structure(data, i)
        except ValueError as exc:
            record["skipped"] = str(exc)
            records.append(record)
            continue
        sg = int(SpacegroupAnalyzer(truth, symprec=0.1).get_space_group_number())
        pattern = xrd_pattern(truth, b_factor=data.b_factor)
        partner = int(rows[partners_local[j]]) if partners_local[j] >= 0 else None
        record["control_partner"] = None if partner is None else str(data.material_id[partner])
        grids: dict[str, tuple[list[np.ndarray], float]] = {}
        for method in config.methods:
            source = METHODS[method][0]
            if source == "control" and partner is None:
                continue
            if source is not None and source not in grids:
                if source == "truth":
                    t0 = time.perf_counter()
                    grids[source] = ([data.iam_grid(i, config.grid)], time.perf_counter() - t0)
                else:
                    grids[source] = dens.predict(partner if source == "control" else i, i, source)
            densities, extra = grids[source] if source is not None else ([], 0.0)
            solution = solve_structures(
                truth.lattice,
                truth.composition.reduced_formula,
                pattern.x,
                pattern.y,
                "MoKa",
                densities=densities,
                density_lattice=truth.lattice,
                config=config.solve_config(method, sg),
            )
            rec = _score(solution, truth, config.k)
            rec["seconds"] = float(solution.timings.get("total", 0.0) + (extra if source != "truth" else 0.0))
            record["methods"][method] = rec
        records.append(record)
        if on_crystal is not None:
            on_crystal(record)
    return records

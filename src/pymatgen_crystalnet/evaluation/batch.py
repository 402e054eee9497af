"""One batch of selected crystals: their truth grids, the model's inputs and their scores so far.

:func:`truth_grid` is the true density of one crystal on the n³ grid. A :class:`Batch` holds,
for the crystals an evaluation scores together, what every scorer (:mod:`.scorers`) reads (the
truth grids, the XRD and composition inputs, the control partners) and what they write (the
scores per method, the forward verification); :meth:`Batch.crystal_rows` turns it into the
report's per-crystal rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.evaluation.baselines import other_crystal_grid
from pymatgen_crystalnet.evaluation.config import PAPER_TEST_SEEDS
from pymatgen_crystalnet.scoring.density_metrics import METRICS

if TYPE_CHECKING:
    from collections.abc import Iterable

    import torch

    from pymatgen_crystalnet.data.reader import ExportedDataset
    from pymatgen_crystalnet.featurize.reflections import CellInputSpec

__all__ = ["Batch", "scale_to_mean", "truth_grid"]


def truth_grid(data: ExportedDataset, i: int, n: int) -> tuple[NDArray[np.float64], str]:
    """The true density (e/Å³) of crystal ``i`` on the n³ grid and where it comes from.

    IAM crystals: the exact IAM density with the export's B. DFT crystals: the stored grid,
    trilinearly interpolated (periodic) when it has another size than n.
    """
    if str(data.density_source[i]) == "dft":
        stored = data.grid(i)
        if stored is None:
            raise ValueError(f"{data.material_id[i]} has a DFT density source but the export stores no grid.")
        if stored.shape == (n, n, n):
            return np.asarray(stored, dtype=np.float64), "dft"
        return other_crystal_grid(stored, n), f"dft (interpolated {stored.shape[0]}³ → {n}³)"
    return data.iam_grid(i, n), "iam"


def scale_to_mean(grids: torch.Tensor, mean_density: torch.Tensor) -> torch.Tensor:
    """``(..., B, n, n, n)`` grids, each × the factor that gives it the mean ``mean_density[b]`` (e/Å³).

    A grid whose mean is not positive (it holds no electrons) is left as it is.
    """
    import torch

    mean = grids.double().mean(dim=(-3, -2, -1))
    target = mean_density.to(device=mean.device, dtype=mean.dtype)
    factor = torch.where(mean > 0, target / mean.clamp_min(1e-300), torch.ones_like(mean))
    return grids * factor[..., None, None, None].to(grids.dtype)


@dataclass
class Batch:
    """The selected crystals of one batch.

    Attributes
    ----------
    data
        The export.
    rows
        Export indices of the crystals, ``(B,)``.
    truth
        Their true densities, ``(B, n, n, n)`` float64 on the evaluation's device.
    sources
        Where each truth comes from (``iam``, ``dft``, …).
    partners
        Export index of each crystal's control partner (−1: none), or None when no method
        needs partners.
    seed
        The evaluation's seed (the ``drop_element`` draws of the composition inputs).
    scores
        ``[{method: {score: value}}]`` per crystal, filled by the scorers.
    verification
        Forward verification per crystal (None where not run).
    electrons
        The electrons the model's densities hold per crystal (:meth:`record_electrons`; None
        where no model ran).
    """

    data: ExportedDataset
    rows: NDArray[np.int64]
    truth: torch.Tensor
    sources: list[str]
    partners: NDArray[np.int64] | None
    seed: int
    scores: list[dict[str, dict[str, float]]] = field(default_factory=list)
    verification: list[dict[str, Any] | None] = field(default_factory=list)
    electrons: list[dict[str, Any] | None] = field(default_factory=list)
    _composition: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False)
    _patterns: torch.Tensor | None = field(default=None, init=False, repr=False)
    _cell: dict[str, torch.Tensor] | None = field(default=None, init=False, repr=False)
    _formula: tuple[NDArray[np.int64], NDArray[np.float64]] | None = field(
        default=None, init=False, repr=False
    )

    @classmethod
    def load(
        cls,
        data: ExportedDataset,
        rows: NDArray[np.int64],
        n: int,
        device: torch.device,
        partners: NDArray[np.int64] | None,
        seed: int,
    ) -> Batch:
        """Compute the truth grids of ``rows`` and put them on ``device``.

        Parameters
        ----------
        data
            The export.
        rows
            Export indices of the crystals.
        n
            Grid points per cell axis.
        device
            Where the tensors live.
        partners
            Export index of each crystal's partner (−1: none), or None.
        seed
            The evaluation's seed.
        """
        import torch

        truths, sources = zip(*(truth_grid(data, int(i), n) for i in rows))
        return cls(
            data=data,
            rows=rows,
            truth=torch.from_numpy(np.stack(truths)).to(device),
            sources=list(sources),
            partners=partners,
            seed=seed,
            scores=[{} for _ in rows],
            verification=[None] * rows.size,
            electrons=[None] * rows.size,
        )

    @property
    def size(self) -> int:
        """Number of crystals."""
        return int(self.rows.size)

    @property
    def device(self) -> torch.device:
        """The device of the tensors."""
        return self.truth.device

    @property
    def paired(self) -> NDArray[np.int64]:
        """Positions (in the batch) of the crystals that have a control partner."""
        if self.partners is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.partners >= 0)

    @property
    def partner_rows(self) -> NDArray[np.int64]:
        """Export indices of the partners of the :attr:`paired` crystals."""
        if self.partners is None:
            return np.zeros(0, dtype=np.int64)
        return self.partners[self.paired]

    def patterns_of(self, rows: NDArray[np.int64]) -> torch.Tensor:
        """The XRD input vectors of export rows ``rows`` (float32, on the device)."""
        import torch

        return torch.from_numpy(self.data.xrd[rows].astype(np.float32)).to(self.device)

    @property
    def patterns(self) -> torch.Tensor:
        """The crystals' own XRD input vectors, ``(B, 1024)``."""
        if self._patterns is None:
            self._patterns = self.patterns_of(self.rows)
        return self._patterns

    def cell_inputs(
        self,
        spec: CellInputSpec,
        pattern_rows: NDArray[np.int64] | None = None,
        where: NDArray[np.int64] | None = None,
    ) -> dict[str, torch.Tensor]:
        """The cell inputs of a model that reads the cell (``{}`` for one that does not).

        Each crystal (at batch positions ``where``, default all) is given its own cell, and
        the reflections of that cell read from the pattern of export row ``pattern_rows``
        (default: its own pattern; the control passes its partners').
        """
        if not spec.needed:
            return {}
        own = pattern_rows is None and where is None
        if own and self._cell is not None:
            return self._cell
        import torch

        rows = self.rows if where is None else self.rows[where]
        patterns = rows if pattern_rows is None else pattern_rows
        arrays = spec.arrays(self.data.xrd[patterns], self.data.lattice[rows])
        out = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}
        if own:
            self._cell = out
        return out

    def composition(self, mode: str) -> torch.Tensor:
        """The crystals' composition inputs in composition ``mode`` (seeded per crystal), ``(B, 118)``.

        ``drop_element`` draws from ``numpy.random.default_rng([seed, row])``, so a crystal's
        input does not depend on the batch it is in.
        """
        if mode not in self._composition:
            import torch

            from pymatgen_crystalnet.data.reader import apply_composition_mode

            vecs = [
                apply_composition_mode(
                    self.data.composition[i],  # type: ignore[arg-type]
                    mode,
                    np.random.default_rng([self.seed, int(i)]),
                )
                for i in self.rows
            ]
            self._composition[mode] = torch.from_numpy(np.stack(vecs).astype(np.float32)).to(self.device)
        return self._composition[mode]

    def put(self, method: str, values: dict[str, torch.Tensor], where: Iterable[int] | None = None) -> None:
        """Record ``values`` (``{score: (len(where),)}``) as ``method`` of the crystals ``where``.

        ``where`` are positions in the batch (default: every crystal, in order).
        """
        for j, b in enumerate(range(self.size) if where is None else where):
            self.scores[b][method] = {k: float(values[k][j]) for k in METRICS}

    def record_electrons(self, samples: torch.Tensor, strict: torch.Tensor) -> None:
        """Record the electrons the predicted densities hold, as fractions of the cell's content.

        Each density's count is its mean × the cell volume
        (:func:`~pymatgen_crystalnet.physics.cells.grid_electrons`), divided by the electrons of
        the crystal's atoms (Σ Z · occupancy, :func:`~pymatgen_crystalnet.data.density_bank.cell_electrons`);
        the truth grid's own ratio is recorded beside it (1 up to the grid's sampling of the cores).

        Parameters
        ----------
        samples
            The model's samples, ``(k, B, n, n, n)``.
        strict
            The prediction from the latent means, ``(B, n, n, n)``.
        """
        from pymatgen_crystalnet.data.density_bank import cell_electrons

        contents = cell_electrons(self.data)[self.rows]
        ratios = self.content_ratios(samples)
        means, truth = self.content_ratios(strict[None])[0], self.content_ratios(self.truth[None])[0]
        for b in range(self.size):
            self.electrons[b] = {
                "expected": round(float(contents[b]), 4),
                "samples": [round(float(r), 5) for r in ratios[:, b]],
                "strict": round(float(means[b]), 5),
                "truth": round(float(truth[b]), 5),
            }

    def content_ratios(self, grids: torch.Tensor) -> NDArray[np.float64]:
        """``(k, B)``: the electrons each of ``(k, B, n, n, n)`` grids holds over its cell's atoms' electrons.

        A grid's count is :func:`~pymatgen_crystalnet.physics.cells.grid_electrons` (mean × volume).
        """
        from pymatgen_crystalnet.data.density_bank import cell_electrons, cell_volumes
        from pymatgen_crystalnet.physics.cells import grid_electrons

        values = grids.detach().double().cpu().numpy()
        contents, volumes = cell_electrons(self.data)[self.rows], cell_volumes(self.data)[self.rows]
        return np.array(
            [[grid_electrons(values[s, b], float(volumes[b])) / float(contents[b]) for b in range(self.size)]
             for s in range(values.shape[0])]
        )  # fmt: skip

    def formula_counts(
        self, where: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Formula units and the electrons they hold on each crystal's cell, from formula and volume.

        ``Z`` is :func:`~pymatgen_crystalnet.physics.formula_units.estimated_z` of the cell volume
        and the crystal's formula (not its atoms: the count a user of the solver can know);
        the electrons are ``Z`` × the formula's electrons per formula unit. ``where``: batch
        positions (default all).
        """
        from pymatgen_crystalnet.data.density_bank import cell_volumes
        from pymatgen_crystalnet.physics.formula_units import estimated_z, formula_electrons

        if self._formula is None:  # once per batch: the model's and the control's scaling share it
            volumes = cell_volumes(self.data)[self.rows]
            formulas = [str(self.data.formula[i]) for i in self.rows]
            z = np.array([estimated_z(v, f) for v, f in zip(volumes, formulas, strict=True)], dtype=np.int64)
            self._formula = (z, z * np.array([formula_electrons(f) for f in formulas]))
        z, counts = self._formula
        return (z, counts) if where is None else (z[where], counts[where])

    def hold_formula_electrons(
        self, grids: torch.Tensor, where: NDArray[np.int64] | None = None
    ) -> torch.Tensor:
        """``grids`` (``(..., B, n, n, n)``, crystals at ``where``) scaled to hold :meth:`formula_counts`.

        A grid that holds no electrons is left as it is.
        """
        import torch

        from pymatgen_crystalnet.data.density_bank import cell_volumes

        rows = self.rows if where is None else self.rows[where]
        counts = self.formula_counts(where)[1]
        return scale_to_mean(grids, torch.as_tensor(counts / cell_volumes(self.data)[rows]))

    def record_held(self, samples: torch.Tensor) -> None:
        """Record, beside :meth:`record_electrons`, the samples scaled to the formula's electrons.

        ``electrons["formula"]``: the estimated ``Z``, the electrons it gives, and each scaled
        sample's count over the cell's true content (1 where ``Z`` is right).
        """
        z, counts = self.formula_counts()
        held = self.content_ratios(samples)
        for b in range(self.size):
            entry = self.electrons[b] if self.electrons[b] is not None else {}
            entry["formula"] = {
                "z": int(z[b]),
                "electrons": round(float(counts[b]), 4),
                "samples": [round(float(r), 5) for r in held[:, b]],
            }
            self.electrons[b] = entry

    def crystal_rows(self, seeds: NDArray[np.str_] | None) -> list[dict[str, Any]]:
        """The report's per-crystal rows of this batch (``seeds``: every crystal's ``seed_split``)."""
        data = self.data
        out = []
        for b, i in enumerate(self.rows):
            seed_split = str(seeds[i]) if seeds is not None and seeds[i] else None
            out.append(
                {
                    "material_id": str(data.material_id[i]),
                    "formula": str(data.formula[i]),
                    "crystal_system": str(data.crystal_system[i]),
                    "spacegroup_number": int(data.spacegroup_number[i]),
                    "split": str(data.split[i]),
                    "seed_split": seed_split,
                    "paper_test": seed_split in PAPER_TEST_SEEDS,
                    "n_atoms": int(data.atom_offsets[i + 1] - data.atom_offsets[i]),
                    "truth": self.sources[b],
                    "control_partner": (
                        str(data.material_id[self.partners[b]])
                        if self.partners is not None and self.partners[b] >= 0
                        else None
                    ),
                    "scores": self.scores[b],
                    "verification": self.verification[b],
                    "electrons": self.electrons[b],
                }
            )
        return out

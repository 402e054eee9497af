"""One scorer per method family of the evaluation protocol, each scoring a :class:`~.batch.Batch`.

- :class:`ModelScorer`: ``model`` and ``model_translation`` (k latent samples, best of the 24
  rotations and of the grid shifts), ``strict`` (the latent means, no alignment), ``selected``
  (the sample forward verification ranks first), the electrons each sample holds
  (:meth:`~.batch.Batch.record_electrons`) and the best/worst examples for figures.
- :class:`ControlScorer`: ``control`` (and ``control_translation``): the model's samples from a
  partner crystal's pattern with the crystal's own composition.
- :class:`BaselineScorer`: ``flat`` (a flat map at the true mean) and ``other_crystal`` (and
  ``other_crystal_translation``): the partner's truth, aligned as the model is.
- :class:`AblationScorer`: ``ablation:<mode>`` for each composition mode.

The latent samples come from a :class:`Sampler`, which holds one seeded generator per method
family for the whole run, so a family's samples do not depend on which other families run.
A model that reads the cell (``lattice``, and the reflections read from the pattern on it) is
given each crystal's own cell and the reflections of the pattern it is shown: for ``control``,
the partner's pattern read on the crystal's own cell (:meth:`~.batch.Batch.cell_inputs`).
:func:`make_scorers` builds the families a configuration asks for, in report order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.evaluation.config import ABLATION_MODES, EvaluationConfig
from pymatgen_crystalnet.evaluation.result import Example
from pymatgen_crystalnet.scoring.density_metrics import METRICS

if TYPE_CHECKING:
    from collections.abc import Mapping

    import torch

    from pymatgen_crystalnet.evaluation.batch import Batch
    from pymatgen_crystalnet.featurize.reflections import CellInputSpec
    from pymatgen_crystalnet.model.crystalnet import CrystalNet
    from pymatgen_crystalnet.scoring.alignment import AlignedScores

__all__ = [
    "AblationScorer",
    "BaselineScorer",
    "ControlScorer",
    "ModelScorer",
    "Sampler",
    "Scorer",
    "make_scorers",
]


class Scorer(Protocol):
    """A method family: records its methods' scores of a batch's crystals into the batch."""

    def score(self, batch: Batch) -> None:
        """Score ``batch`` (writes ``batch.scores``, and ``batch.verification`` where it verifies)."""


class Sampler:
    """The model's latent samples on the n³ grid, one seeded generator per method family.

    Parameters
    ----------
    model
        The model, already on ``device`` and in eval mode.
    n
        Grid points per cell axis.
    seed
        The evaluation's seed: family ``model`` draws from ``seed * 1000``, ``control`` from
        ``seed * 1000 + 2``, ``ablation:<mode>`` from ``seed * 1000 + 10 + j`` (j: the mode's
        place in :data:`~.config.ABLATION_MODES`).
    device
        Where the generators live.
    temperature
        Scale of the latent noise of the samples (1: the model's posterior).
    """

    def __init__(
        self, model: CrystalNet, n: int, seed: int, device: torch.device, temperature: float = 1.0
    ) -> None:
        import torch

        self.model = model
        self.n = n
        self.temperature = float(temperature)
        offsets = {"model": 0, "control": 2}
        offsets.update({f"ablation:{m}": 10 + j for j, m in enumerate(ABLATION_MODES)})
        self.generators: dict[str, torch.Generator] = {}
        for family, offset in offsets.items():
            g = torch.Generator(device=device)
            g.manual_seed(seed * 1000 + offset)
            self.generators[family] = g

    def sample(
        self,
        patterns: torch.Tensor,
        composition: torch.Tensor,
        k: int,
        family: str,
        cell: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``(k, B, n, n, n)`` densities from the next draws of ``family``'s generator.

        ``cell``: the cell inputs (``lattice``, ``hkl``, ``amplitude``) of a model that reads them.
        """
        generator = self.generators[family]
        return self.model.predict_grid(
            patterns, composition, n=self.n, k=k, generator=generator, temperature=self.temperature,
            **(cell or {}),
        )

    def means(
        self,
        patterns: torch.Tensor,
        composition: torch.Tensor,
        cell: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``(B, n, n, n)``: the one deterministic prediction from the latent means."""
        return self.model.predict_grid(
            patterns, composition, n=self.n, k=1, deterministic=True, **(cell or {})
        )[0]

    @property
    def cell_spec(self) -> CellInputSpec:
        """The cell inputs the model reads."""
        return self.model.config.cell_inputs


def _aligned(
    config: EvaluationConfig, pred: torch.Tensor, truth: torch.Tensor, translation: bool
) -> AlignedScores:
    from pymatgen_crystalnet.scoring.alignment import aligned_scores

    return aligned_scores(
        pred,
        truth,
        win_size=config.win_size,
        translation=translation,
        n_peaks=config.n_peaks,
        max_elements=config.max_elements,
    )


class ModelScorer:
    """``model``, ``model_translation``, ``strict``, ``selected``; keeps the examples for figures.

    Attributes
    ----------
    examples
        ``{system: {"best" | "worst": Example}}`` over the batches scored so far (by model
        map CC), when ``config.examples``.
    """

    def __init__(self, config: EvaluationConfig, sampler: Sampler, model_mode: str) -> None:
        self.config = config
        self.sampler = sampler
        self.model_mode = model_mode
        self.examples: dict[str, dict[str, Example]] = {}

    def score(self, batch: Batch) -> None:
        """Score the batch's crystals (records into ``batch.scores`` and ``batch.verification``)."""
        from pymatgen_crystalnet.scoring.alignment import best_scores
        from pymatgen_crystalnet.scoring.density_metrics import grid_scores

        config = self.config
        comp = batch.composition(self.model_mode)
        cell = batch.cell_inputs(self.sampler.cell_spec)
        pred = self.sampler.sample(batch.patterns, comp, config.samples, "model", cell)
        strict = self.sampler.means(batch.patterns, comp, cell)
        batch.record_electrons(pred, strict)
        if config.electrons == "formula":
            pred, strict = batch.hold_formula_electrons(pred), batch.hold_formula_electrons(strict)
            batch.record_held(pred)
        res = _aligned(config, pred, batch.truth, config.translation)
        batch.put("model", best_scores(res.rotation))
        if res.translation is not None:
            batch.put("model_translation", best_scores(res.translation))
        batch.put("strict", grid_scores(strict, batch.truth, config.win_size))
        if config.verification:
            _verify(batch, pred, res.rotation)
        if config.examples:
            self._keep_examples(batch, pred, res.per_rotation["cc"])

    def _keep_examples(self, batch: Batch, pred: torch.Tensor, cc: torch.Tensor) -> None:
        """Update the best and worst crystal (model map CC) of each system with this batch."""
        import torch

        from pymatgen_crystalnet.scoring.rotations import rotations

        data = batch.data
        for b, i in enumerate(batch.rows):
            system = str(data.crystal_system[i])
            value = batch.scores[b]["model"]["cc"]
            kept = self.examples.setdefault(system, {})
            replace = {
                "best": "best" not in kept or value > kept["best"].scores["cc"],
                "worst": "worst" not in kept or value < kept["worst"].scores["cc"],
            }
            for kind in (k for k, v in replace.items() if v):
                flat = int(torch.argmax(cc[:, :, b]))
                r, s = divmod(flat, cc.shape[1])
                turned = rotations()[r].apply(pred[s, b])
                kept[kind] = Example(
                    material_id=str(data.material_id[i]),
                    formula=str(data.formula[i]),
                    scores=dict(batch.scores[b]["model"]),
                    truth=batch.truth[b].detach().cpu().numpy().astype(np.float32),
                    prediction=turned.detach().cpu().numpy().astype(np.float32),  # type: ignore[union-attr]
                )


def _verify(batch: Batch, pred: torch.Tensor, per_sample: dict[str, torch.Tensor]) -> None:
    """Forward verification of every sample; records ``selected`` scores (best of 24 rotations)."""
    from pymatgen_crystalnet.scoring.verification import verify_density

    data = batch.data
    grids = pred.detach().cpu().numpy()
    ssim = per_sample["ssim"].cpu().numpy()  # (k, B)
    for b, i in enumerate(batch.rows):
        target = data.xrd[i].astype(np.float64)
        cosines = [verify_density(grids[s, b], data.lattice[i], target).cosine for s in range(grids.shape[0])]
        chosen = int(np.argmax(cosines))
        best_ssim = int(np.argmax(ssim[:, b]))
        tied = _tied(np.asarray(cosines)) or _tied(ssim[:, b])
        batch.verification[b] = {
            "cosines": [round(c, 6) for c in cosines],
            "best_agreement_sample": chosen,
            "best_ssim_sample": best_ssim,
            "agree": None if tied else chosen == best_ssim,
        }
        batch.scores[b]["selected"] = {key: float(per_sample[key][chosen, b]) for key in METRICS}


def _tied(values: NDArray) -> bool:
    """Whether the largest value is shared by several samples (identical samples)."""
    top = float(np.max(values))
    return int(np.sum(np.abs(values - top) <= 1e-12 * max(1.0, abs(top)))) > 1


class ControlScorer:
    """``control`` (and ``control_translation``): samples from the partner's pattern, own composition."""

    def __init__(self, config: EvaluationConfig, sampler: Sampler, model_mode: str) -> None:
        self.config = config
        self.sampler = sampler
        self.model_mode = model_mode

    def score(self, batch: Batch) -> None:
        """Score the batch's crystals that have a partner."""
        import torch

        from pymatgen_crystalnet.scoring.alignment import best_scores

        has = batch.paired
        if not has.size:
            return
        pick = torch.from_numpy(has).to(batch.device)
        comp = batch.composition(self.model_mode)[pick]
        patterns = batch.patterns_of(batch.partner_rows)
        # the partner's pattern read on the crystal's own cell: the model is never shown the truth
        cell = batch.cell_inputs(self.sampler.cell_spec, pattern_rows=batch.partner_rows, where=has)
        pred = self.sampler.sample(patterns, comp, self.config.samples, "control", cell)
        if self.config.electrons == "formula":
            pred = batch.hold_formula_electrons(pred, has)
        res = _aligned(self.config, pred, batch.truth[pick], self.config.translation)
        batch.put("control", best_scores(res.rotation), has)
        if res.translation is not None:
            batch.put("control_translation", best_scores(res.translation), has)


class BaselineScorer:
    """``flat`` and ``other_crystal`` (and ``other_crystal_translation``): what a model must beat."""

    def __init__(self, config: EvaluationConfig) -> None:
        self.config = config

    def score(self, batch: Batch) -> None:
        """Score the flat map of every crystal and the partner's truth of the paired ones."""
        import torch

        from pymatgen_crystalnet.evaluation.baselines import flat_map, other_crystal_grid
        from pymatgen_crystalnet.evaluation.batch import truth_grid
        from pymatgen_crystalnet.scoring.alignment import best_scores
        from pymatgen_crystalnet.scoring.density_metrics import grid_scores

        config, n = self.config, self.config.grid
        batch.put("flat", grid_scores(flat_map(batch.truth), batch.truth, config.win_size))
        has = batch.paired
        if not has.size:
            return
        other = np.stack(
            [other_crystal_grid(truth_grid(batch.data, int(p), n)[0], n) for p in batch.partner_rows]
        )
        pick = torch.from_numpy(has).to(batch.device)
        other_t = torch.from_numpy(other).to(batch.device)[None]
        res = _aligned(config, other_t, batch.truth[pick], config.translation)
        batch.put("other_crystal", best_scores(res.rotation), has)
        if res.translation is not None:
            batch.put("other_crystal_translation", best_scores(res.translation), has)


class AblationScorer:
    """``ablation:<mode>``: ``ablation_samples`` samples with each composition mode's input."""

    def __init__(self, config: EvaluationConfig, sampler: Sampler) -> None:
        self.config = config
        self.sampler = sampler

    def score(self, batch: Batch) -> None:
        """Score every composition mode of :data:`~.config.ABLATION_MODES` (best of 24 rotations)."""
        from pymatgen_crystalnet.scoring.alignment import best_scores

        for mode in ABLATION_MODES:
            family = f"ablation:{mode}"
            k = self.config.ablation_samples
            cell = batch.cell_inputs(self.sampler.cell_spec)
            pred = self.sampler.sample(batch.patterns, batch.composition(mode), k, family, cell)
            batch.put(family, best_scores(_aligned(self.config, pred, batch.truth, False).rotation))


def make_scorers(config: EvaluationConfig, sampler: Sampler | None, model_mode: str) -> list[Scorer]:
    """The scorers ``config`` asks for, in report order (no model: the baselines alone)."""
    scorers: list[Scorer] = []
    if sampler is not None:
        scorers.append(ModelScorer(config, sampler, model_mode))
        if config.control:
            scorers.append(ControlScorer(config, sampler, model_mode))
    if config.baselines:
        scorers.append(BaselineScorer(config))
    if sampler is not None and config.ablations:
        scorers.append(AblationScorer(config, sampler))
    return scorers

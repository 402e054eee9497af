"""Settings of an evaluation run: which crystals, which methods, how many samples.

:class:`EvaluationConfig` is the one typed source of the evaluation's defaults, read by
:func:`~pymatgen_crystalnet.evaluation.protocol.evaluate`, the ``crystalnet evaluate`` command and
the workflows' ``EvaluateMaker``. :meth:`EvaluationConfig.with_settings` applies ``key=value``
strings (``crystalnet evaluate --set``), each value read by its field's type
(:func:`pymatgen_crystalnet.configs.apply_settings`, the package's one ``--set`` reader).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monty.json import MSONable

from pymatgen_crystalnet.configs import apply_settings

__all__ = [
    "ABLATION_MODES",
    "ELECTRON_MODES",
    "METHODS",
    "PAPER_TEST_SEEDS",
    "SPLITS",
    "EvaluationConfig",
]

#: The paper's four composition ablation modes, in its Table 2 order.
ABLATION_MODES: tuple[str, ...] = ("full", "no_ratios", "drop_element", "none")
#: ``seed_split`` values of the paper's published test lists.
PAPER_TEST_SEEDS: tuple[str, ...] = ("cubic:test", "trigonal:test")
#: How the model's densities are scored: as predicted, or scaled to the formula's electrons.
ELECTRON_MODES: tuple[str, ...] = ("predicted", "formula")
#: Splits an evaluation can select (``all``: every crystal of the export).
SPLITS: tuple[str, ...] = ("train", "val", "test", "all")

#: Scored methods and what they are (``ablation:<mode>`` entries are added per mode).
METHODS: dict[str, str] = {
    "model": "CrystalNet, paper protocol: best of k samples x 24 rotations",
    "model_translation": "CrystalNet, translation-aware: best of k samples x 24 rotations x all grid shifts",
    "strict": "CrystalNet, strict: one prediction from the latent means, no rotation or shift",
    "selected": "CrystalNet, the sample ranked first by forward verification, best of 24 rotations",
    "control": "Control: k samples from another crystal's pattern (same system, own composition), "
    "best of 24 rotations",
    "control_translation": "Control, translation-aware (24 rotations x all grid shifts)",
    "flat": "Baseline: flat map at the true mean density",
    "other_crystal": "Baseline: truth of another crystal of the same system, best of 24 rotations",
    "other_crystal_translation": "Baseline: truth of another crystal, 24 rotations x all grid shifts",
}


@dataclass
class EvaluationConfig(MSONable):
    """Settings of :func:`evaluate`.

    Parameters
    ----------
    split
        ``test`` (default), ``val``, ``train`` or ``all``. Any split is evaluated; the report
        says what it is (validation crystals chose the checkpoint; training crystals are
        in-sample).
    grid
        Grid points n per cell axis (50 in the paper; smaller for quick runs).
    samples
        Latent samples k of the main protocol (5 in the paper).
    ablation_samples
        Latent samples of the composition ablations (3 in the paper).
    ablations, translation, control, baselines, verification
        Which parts to run.
    limit
        Evaluate at most this many crystals (the first ones of the selection, export order).
    crystal_systems
        Only these crystal systems (default: all).
    paper_subset_only
        Only crystals of the paper's published test lists (needs their ``seed_split``).
    batch_size
        Crystals predicted and scored at once.
    seed
        Seed of the latent samples, the control pairing and the ``drop_element`` draws.
    win_size
        SSIM window (7).
    n_peaks
        Shifts of largest cross-correlation at which translation-aware SSIM and NMAE are
        evaluated (see :mod:`pymatgen_crystalnet.scoring.alignment`).
    max_elements
        Memory bound of the batched scores (values of the largest intermediate tensor; default
        per device type, see
        :data:`~pymatgen_crystalnet.scoring.alignment.DEFAULT_MAX_ELEMENTS`).
    allow_mismatch
        Continue, with a loud warning, when the model was trained on another cell, B factor or
        density source than the data's; otherwise that is an error.
    examples
        Keep, per crystal system, the truth and the best-aligned sample of the crystals with the
        highest and the lowest model map CC (success and failure cases) for figures.
    temperature
        Scale of the latent noise of every sampled method (model, control, ablations): z = μ +
        T·σ·ε (1: the model's posterior, the paper's protocol; 0: the latent means).
    electrons
        ``predicted`` (default, the paper's protocol): the model's densities are scored as
        predicted. ``formula``: each density of ``model``, ``strict`` and ``control`` is first
        scaled to hold the electrons the formula fixes on its cell (electrons per formula unit ×
        :func:`~pymatgen_crystalnet.physics.formula_units.estimated_z` from the cell volume: the
        solver's rule when no structure fixes the count). Map CC does not change with the scale;
        NMAE, SSIM and PSNR do. The composition ablations stay as predicted (their input lacks
        the formula the count comes from).
    """

    split: str = "test"
    grid: int = 50
    samples: int = 5
    ablation_samples: int = 3
    ablations: bool = True
    translation: bool = True
    control: bool = True
    baselines: bool = True
    verification: bool = True
    limit: int | None = None
    crystal_systems: list[str] | None = None
    paper_subset_only: bool = False
    batch_size: int = 4
    seed: int = 0
    win_size: int = 7
    n_peaks: int = 1
    max_elements: int | None = None
    allow_mismatch: bool = False
    examples: bool = True
    temperature: float = 1.0
    electrons: str = "predicted"

    def __post_init__(self) -> None:
        if self.electrons not in ELECTRON_MODES:
            raise ValueError(
                f"electrons must be one of {', '.join(ELECTRON_MODES)}, got {self.electrons!r}."
            )
        if not 0.0 <= float(self.temperature) < float("inf"):
            raise ValueError(f"temperature must be finite and non-negative, got {self.temperature}.")
        if self.split not in SPLITS:
            raise ValueError(f"Unknown split {self.split!r}; choose one of {', '.join(SPLITS)}.")
        for name in ("samples", "ablation_samples", "batch_size", "n_peaks", "max_elements"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.grid < self.win_size:
            raise ValueError(f"grid must be at least the SSIM window ({self.win_size}), got {self.grid}.")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}.")
        if self.crystal_systems is not None:
            self.crystal_systems = [str(s).lower() for s in self.crystal_systems]

    def with_settings(self, items: Iterable[str]) -> EvaluationConfig:
        """A copy with ``key=value`` settings applied (:func:`~pymatgen_crystalnet.configs.apply_settings`).

        Examples
        --------
        >>> EvaluationConfig().with_settings(["grid=24", "ablations=false", "limit=none"]).grid
        24

        Raises
        ------
        ValueError
            A malformed item, an unknown key (the message lists the valid keys), a value its
            field cannot take, or settings the configuration refuses (e.g. ``samples=0``).
        """
        return apply_settings(self, items)

"""The model's hyperparameters: one dataclass, two named presets.

:class:`CrystalNetConfig` is the single source of every architectural choice of the network
(and of the loss terms that belong to the model: the target transform and β of the KL term).
It is ``MSONable``, travels inside every checkpoint, and rebuilds the exact network.
Importing this module does not import torch.

Presets
-------
``paper``
    The paper's sizes (docs/science.md, 'The network'): 512-d latent codes, a 1-D DenseNet XRD encoder, a
    4-layer composition MLP, two 4-layer fusion MLPs on the 1024-d concatenation giving FiLM
    γ and β (512-d), 128 random Fourier features with B_ij ~ N(0, 3²), and a regressor of
    3 blocks × 4 layers (512 wide) with skip connections. About 13 M parameters.
``small``
    The same architecture, narrower (128-d codes and features) and shallower, sized to train
    usefully on two CPU cores in about an hour on ~5 k crystals. About 0.8 M parameters.
``small-lattice``
    ``small`` that also reads the cell the density lives on (a 32-d lattice code joins the
    latent codes at the FiLM fusion). The solver and the evaluation always know the cell.
``small-reflections``
    ``small-lattice`` that also reads the pattern placed on the cell: the observed amplitudes
    of the cell's first 256 reflections, turned into 16 learnt Fourier-synthesis channels per
    query point (``model/cell_inputs.py``; docs/model.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pymatgen_crystalnet.configs import PresetConfig

if TYPE_CHECKING:
    from pymatgen_crystalnet.featurize.reflections import CellInputSpec

__all__ = [
    "PRESETS",
    "CompositionMode",
    "CrystalNetConfig",
    "KLReduction",
    "PositionalEncoding",
    "TargetTransform",
]

PositionalEncoding = Literal["gaussian", "periodic"]
CompositionMode = Literal["full", "no_ratios", "drop_element", "none"]
TargetTransform = Literal["none", "log1p"]
KLReduction = Literal["mean", "sum"]


_SMALL: dict[str, Any] = {
    "latent_dim": 128,
    "xrd_layers_per_block": 4,
    "composition_layers": 3,
    "composition_hidden": 128,
    "fusion_layers": 4,
    "fusion_hidden": 256,
    "n_frequencies": 128,
    "embed_dim": 128,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 3,
    "regressor_hidden": 128,
}

#: Named presets: keyword arguments of :class:`CrystalNetConfig`.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": dict(_SMALL),
    "small-lattice": {**_SMALL, "lattice_dim": 32},
    "small-reflections": {
        **_SMALL,
        "lattice_dim": 32,
        "n_reflections": 256,
        "reflection_channels": 16,
        "reflection_hidden": 64,
    },
}

#: Integer fields for which 0 means "off" (the others must be at least 1).
_MAY_BE_ZERO = ("frequency_seed", "lattice_dim", "n_reflections", "reflection_tolerance_bins")


@dataclass
class CrystalNetConfig(PresetConfig):
    """Hyperparameters of a :class:`~pymatgen_crystalnet.model.crystalnet.CrystalNet`.

    Parameters
    ----------
    n_xrd_bins
        Length of the XRD input vector (1024 bins on 2θ ∈ [0°, 180°]).
    n_elements
        Length of the composition input vector (118, indexed by atomic number − 1).
    latent_dim
        Size of each latent code (XRD and composition), 512 in the paper.
    xrd_stem_channels
        Channels of the first convolution of the DenseNet XRD encoder.
    xrd_growth_rate
        Channels added by each densely connected convolution.
    xrd_layers_per_block
        Convolutions per dense block.
    xrd_blocks
        Dense blocks; a transition (1×1 conv, norm, ReLU, average pooling by 2) separates them.
    xrd_transition_channels
        Channels after each transition.
    composition_layers
        Linear+BatchNorm+ReLU layers of the composition encoder trunk.
    composition_hidden
        Width of the composition encoder trunk.
    fusion_layers
        Layers of each of the two fusion MLPs (γ and β), the last one linear.
    fusion_hidden
        Width of the hidden fusion layers (1024 in the paper: the concatenation's size).
    n_frequencies
        Number of Fourier frequency vectors (rows of B ∈ R^{F×3}).
    frequency_scale
        Standard deviation of the frequencies, B_ij ~ N(0, scale²) (3 in the paper).
    positional_encoding
        ``"gaussian"`` (the paper's random Fourier features on coordinates centred to
        [−0.5, 0.5]) or ``"periodic"`` (integer frequency vectors on wrapped coordinates, so the
        prediction is exactly periodic in the cell: ρ(x) = ρ(x + e_i)).
    embed_dim
        Width of the positional embedding p(x), of γ and β, and of the FiLM output.
    regressor_blocks
        Blocks of the regressor; every block after the first sees the FiLM output again
        (skip connection, DeepSDF/NeRF style).
    regressor_layers_per_block
        Linear+BatchNorm+ReLU layers per regressor block.
    regressor_hidden
        Width of the regressor.
    composition_mode
        See docs/science.md, 'The composition vector'. The dataset builds the matching input vectors;
        ``"none"`` also removes the composition branch from the network, whose composition
        code is then identically zero, so "no formula" gives the network no formula.
    target_transform
        Transform of the density (e/Å³) the network regresses and the L1 loss compares:
        ``"log1p"`` (y = log(1 + ρ / target_scale)) or ``"none"`` (y = ρ / target_scale).
        Predictions are always returned in e/Å³.
    target_scale
        Density scale (e/Å³) of the target transform.
    nonnegative
        Clamp predicted densities at 0 e/Å³ (electron densities are non-negative).
    beta_kl
        Weight β of each of the two KL terms (0.05 in the paper).
    kl_reduction
        ``"mean"``: KL(N(μ, σ²) ‖ N(0, 1)) averaged over the latent dimensions (so β weighs a
        per-dimension divergence against the per-point L1); ``"sum"``: summed over them (the
        textbook VAE ELBO). Either way averaged over the crystals of a batch.
    min_sigma
        Floor added to the softplus of the σ heads, keeping log σ finite.
    frequency_seed
        Seed of the random Fourier frequencies (stored in the weights too).
    lattice_dim
        Width of the lattice code (``model/cell_inputs.py``); 0 (the paper): the network
        does not read the cell.
    lattice_hidden
        Width of the lattice encoder's hidden layer.
    n_reflections
        K, the reflections of the cell whose observed amplitudes the network reads (the
        pattern placed on the lattice); 0 (the paper): none.
    reflection_channels
        M, the learnt Fourier-synthesis channels given to every query point.
    reflection_hidden
        Width of the network that computes the synthesis coefficients per reflection.
    reflection_d_min
        Smallest d-spacing (Å) read from the pattern; 0: up to 2θ = 180° (Mo Kα).
    reflection_tolerance_bins
        How many bins an observed peak may lie from a reflection and still be read as it.
    """

    n_xrd_bins: int = 1024
    n_elements: int = 118
    latent_dim: int = 512
    xrd_stem_channels: int = 8
    xrd_growth_rate: int = 8
    xrd_layers_per_block: int = 4
    xrd_blocks: int = 2
    xrd_transition_channels: int = 16
    composition_layers: int = 4
    composition_hidden: int = 512
    fusion_layers: int = 4
    fusion_hidden: int = 1024
    n_frequencies: int = 128
    frequency_scale: float = 3.0
    positional_encoding: PositionalEncoding = "gaussian"
    embed_dim: int = 512
    regressor_blocks: int = 3
    regressor_layers_per_block: int = 4
    regressor_hidden: int = 512
    composition_mode: CompositionMode = "full"
    target_transform: TargetTransform = "log1p"
    target_scale: float = 1.0
    nonnegative: bool = True
    beta_kl: float = 0.05
    kl_reduction: KLReduction = "mean"
    min_sigma: float = 1e-4
    frequency_seed: int = 0
    # inputs from the known cell (off in the paper's network; model/cell_inputs.py)
    lattice_dim: int = 0
    lattice_hidden: int = 64
    n_reflections: int = 0
    reflection_channels: int = 16
    reflection_hidden: int = 64
    reflection_d_min: float = 0.0
    reflection_tolerance_bins: int = 2
    preset: str | None = field(default=None, compare=False)

    presets = PRESETS
    preset_kind = "model"

    def __post_init__(self) -> None:
        for name, kind in (
            ("positional_encoding", PositionalEncoding),
            ("composition_mode", CompositionMode),
            ("target_transform", TargetTransform),
            ("kl_reduction", KLReduction),
        ):
            value = getattr(self, name)
            if value not in get_args(kind):
                raise ValueError(f"{name} must be one of {get_args(kind)}, got {value!r}.")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{f.name} must be an integer, got {value!r}.")
            if f.type == "int" and f.name not in _MAY_BE_ZERO and value < 1:
                raise ValueError(f"{f.name} must be at least 1, got {value}.")
            if f.type == "int" and f.name in _MAY_BE_ZERO and f.name != "frequency_seed" and value < 0:
                raise ValueError(f"{f.name} must be at least 0, got {value}.")
            if f.type == "float":
                value = float(value)
                setattr(self, f.name, value)
                if not value >= 0 or value == float("inf"):
                    raise ValueError(f"{f.name} must be finite and non-negative, got {value}.")
        if self.target_scale <= 0:
            raise ValueError(f"target_scale must be positive, got {self.target_scale}.")
        if self.n_xrd_bins % 2 ** (self.xrd_blocks - 1):
            raise ValueError(
                f"n_xrd_bins ({self.n_xrd_bins}) must be divisible by 2**(xrd_blocks - 1) "
                f"= {2 ** (self.xrd_blocks - 1)} (one average pooling per transition)."
            )

    @property
    def uses_composition(self) -> bool:
        """Whether the network has a composition branch (``composition_mode != "none"``)."""
        return self.composition_mode != "none"

    @property
    def uses_cell(self) -> bool:
        """Whether the network reads the cell (``lattice``, and with reflections ``hkl``, ``amplitude``)."""
        return self.lattice_dim > 0 or self.n_reflections > 0

    @property
    def cell_inputs(self) -> CellInputSpec:
        """What a caller must compute per crystal for this network (see ``featurize/reflections.py``)."""
        from pymatgen_crystalnet.featurize.reflections import CellInputSpec

        return CellInputSpec(
            lattice=self.uses_cell,
            n_reflections=self.n_reflections,
            d_min=self.reflection_d_min,
            tolerance_bins=self.reflection_tolerance_bins,
        )

"""The optional cell inputs of the network: the lattice and the reflections read on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.model.cell_inputs import (
    lattice_features,
    reflection_basis,
)
from pymatgen_crystalnet.model.config import PRESETS, CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.pretrained import pretrained_path
from pymatgen_crystalnet.model.weights import load_model, save_model

TINY = {
    "latent_dim": 8,
    "xrd_layers_per_block": 1,
    "composition_layers": 1,
    "composition_hidden": 8,
    "fusion_layers": 2,
    "fusion_hidden": 16,
    "n_frequencies": 8,
    "embed_dim": 8,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 1,
    "regressor_hidden": 8,
    "lattice_hidden": 8,
    "reflection_hidden": 8,
    "nonnegative": False,
}


def tiny(preset: str, **overrides) -> CrystalNet:
    torch.manual_seed(0)
    if preset == "small-reflections":
        overrides = {"n_reflections": 16, "reflection_channels": 4, **overrides}
    return CrystalNet.from_preset(preset, **{**TINY, **overrides})


def inputs(b: int = 3, p: int = 7, k: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lattice = torch.diag_embed(3 + 2 * torch.rand(b, 3, generator=g)) + 0.3 * torch.rand(b, 3, 3, generator=g)
    return {
        "xrd": torch.rand(b, 1024, generator=g),
        "composition": torch.rand(b, 118, generator=g),
        "points": torch.rand(b, p, 3, generator=g),
        "lattice": lattice,
        "hkl": torch.randint(-4, 5, (b, k, 3), generator=g).to(torch.int16),
        "amplitude": torch.rand(b, k, generator=g),
    }


# ------------------------------------------------------------------ features
def test_reflection_basis_is_the_direct_sum():
    x = inputs()
    basis = reflection_basis(x["points"], x["hkl"], x["amplitude"]).numpy()
    pts, hkl, amp = (x[k].numpy().astype(np.float64) for k in ("points", "hkl", "amplitude"))
    b, p, k = 1, 4, 5
    phase = 2 * math.pi * sum(hkl[b, k, i] * pts[b, p, i] for i in range(3))
    assert basis.shape == (3, 7, 32)
    assert basis[b, p, k] == pytest.approx(amp[b, k] * math.cos(phase), abs=1e-5)
    assert basis[b, p, 16 + k] == pytest.approx(amp[b, k] * math.sin(phase), abs=1e-5)
    shared = reflection_basis(x["points"][0], x["hkl"], x["amplitude"])  # (P, 3) for every crystal
    torch.testing.assert_close(shared[0], torch.from_numpy(basis[0]))


def test_reflection_channels_are_fourier_syntheses_of_the_amplitudes():
    """c_m(x) = Σ_h |F_h| (u_hm cos 2πh·x + v_hm sin 2πh·x) with the coefficients the network computes."""
    model = tiny("small-reflections").eval()
    x = inputs()
    code = model.cell(3, x["lattice"], x["hkl"], x["amplitude"])
    context = torch.randn(3, 2 * 8 + model.config.lattice_dim)
    with torch.no_grad():
        channels = model.cell.reflections(x["points"], code["reflections"], context).numpy()
        coeff = model.cell.reflections.coefficients(code["reflections"], context).numpy()  # (B, 2K, M)
    pts, hkl = x["points"].numpy().astype(np.float64), x["hkl"].numpy().astype(np.float64)
    b, p = 2, 3
    phase = 2 * math.pi * hkl[b] @ pts[b, p]
    direct = np.cos(phase) @ coeff[b, :16] + np.sin(phase) @ coeff[b, 16:]
    np.testing.assert_allclose(channels[b, p], direct, rtol=1e-4, atol=1e-6)
    # the coefficients carry the amplitudes: a reflection of amplitude 0 contributes nothing
    amp = x["amplitude"].clone()
    amp[:, 0] = 0
    with torch.no_grad():
        code = model.cell(3, x["lattice"], x["hkl"], amp)["reflections"]
        zeroed = model.cell.reflections.coefficients(code, context)
    assert not zeroed[:, 0].any() and not zeroed[:, 16].any()


def test_lattice_features():
    cube = torch.eye(3)[None] * 5.0
    np.testing.assert_allclose(lattice_features(cube)[0], [1, 1, 1, 0, 0, 0, math.log10(1.25)], atol=1e-6)
    a, c = 3.0, 5.0
    hexagonal = torch.tensor([[[a, 0, 0], [-a / 2, a * math.sqrt(3) / 2, 0], [0, 0, c]]])
    f = lattice_features(hexagonal)[0]
    assert f[3:6].tolist() == pytest.approx([0, 0, -0.5], abs=1e-6)
    volume = a * a * c * math.sqrt(3) / 2
    assert f[0].item() == pytest.approx(a / volume ** (1 / 3))


# ------------------------------------------------------------------ presets
def test_old_presets_are_unchanged_and_new_ones_add_parts():
    small = CrystalNet.from_preset("small")
    assert small.num_parameters() == 846_841 and small.cell is None
    assert not any(key.startswith("cell.") for key in small.state_dict())
    assert CrystalNet.from_preset("paper").num_parameters() == 13_339_513
    lat = CrystalNet.from_preset("small-lattice")
    refl = CrystalNet.from_preset("small-reflections")
    assert lat.cell.lattice is not None and lat.cell.reflections is None
    assert refl.cell.lattice is not None and refl.cell.reflections is not None
    n_small = small.num_parameters()
    assert n_small < lat.num_parameters() < refl.num_parameters() < 1.1 * n_small
    assert refl.film.gamma[0][0].in_features == 2 * 128 + 32
    assert refl.regressor.blocks[0][0][0].in_features == 128 + 16
    assert {"paper", "small", "small-lattice", "small-reflections"} <= set(PRESETS)
    assert CrystalNetConfig.from_preset("small-reflections").cell_inputs.n_reflections == 256
    assert not CrystalNetConfig.from_preset("small").cell_inputs.needed


def test_bundled_model_predicts_as_before():
    """Outputs recorded with the code before the cell inputs existed (commit a52308f)."""
    model = load_model(pretrained_path("small-cubic-trigonal"))
    xrd = torch.zeros(2, 1024)
    xrd[0, [100, 200, 300]] = torch.tensor([1.0, 0.5, 0.25])
    xrd[1, [150, 400]] = torch.tensor([1.0, 0.3])
    comp = torch.zeros(2, 118)
    comp[0, [10, 16]] = 0.5
    comp[1, [55, 7]] = 0.5
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.25, 0.1, 0.7]])
    sampled = model.predict_points(xrd, comp, pts, k=2, generator=torch.Generator().manual_seed(3))
    expected = [
        [[23.516258, 0.509191, 0.110725], [81.434616, 0.793481, 0.130542]],
        [[18.090296, 0.415579, 0.113608], [24.576555, 0.360880, 0.117907]],
    ]
    np.testing.assert_allclose(sampled.numpy(), expected, rtol=1e-4)
    means = model.predict_points(xrd, comp, pts, k=1, deterministic=True)
    expected = [[[20.854395, 0.507068, 0.113342], [27.612097, 0.225164, 0.1313]]]
    np.testing.assert_allclose(means.numpy(), expected, rtol=1e-4)


@pytest.mark.parametrize("preset", ["small-lattice", "small-reflections"])
def test_new_presets_train_save_and_load(preset, tmp_path):
    model = tiny(preset)
    x = inputs()
    cell = {k: x[k] for k in ("lattice", "hkl", "amplitude")}
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    target = torch.rand(3, 7)
    losses = []
    for _ in range(5):
        out = model(x["xrd"], x["composition"], x["points"], **cell)
        loss = (out["density"] - target).abs().mean() + 0.01 * out["kl_xrd"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    grads = [p.grad for name, p in model.named_parameters() if name.startswith("cell.")]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    folder = save_model(model, tmp_path / preset)
    loaded = load_model(folder)
    assert loaded.config == model.config and loaded.config.preset == preset
    model.eval()

    def predict(net: CrystalNet, **given) -> torch.Tensor:
        return net.predict_grid(x["xrd"], x["composition"], n=4, k=1, deterministic=True, **given)

    grid = predict(model, **cell)
    torch.testing.assert_close(predict(loaded, **cell), grid)
    # the cell changes the prediction
    assert not torch.allclose(predict(model, **dict(cell, lattice=cell["lattice"] * 1.3)), grid)


def test_missing_or_malformed_cell_inputs_are_named():
    model = tiny("small-reflections")
    x = inputs()
    with pytest.raises(ValueError, match="reads the cell: pass lattice="):
        model(x["xrd"], x["composition"], x["points"])
    with pytest.raises(ValueError, match="reads the pattern's reflections"):
        model(x["xrd"], x["composition"], x["points"], lattice=x["lattice"])
    with pytest.raises(ValueError, match=r"lattice must have shape \(3, 3, 3\)"):
        model(x["xrd"], x["composition"], x["points"], lattice=x["lattice"][:2], hkl=x["hkl"],
              amplitude=x["amplitude"])
    with pytest.raises(ValueError, match="hkl must have shape"):
        model(x["xrd"], x["composition"], x["points"], lattice=x["lattice"], hkl=x["hkl"],
              amplitude=x["amplitude"][:, :3])
    with pytest.raises(ValueError, match="lattice_dim must be at least 0"):
        CrystalNetConfig(lattice_dim=-1)
    # a model without cell inputs ignores them
    small = CrystalNet.from_preset("small", **TINY)
    small.eval()
    plain = small.predict_grid(x["xrd"], x["composition"], n=3, k=1, deterministic=True)
    extra = small.predict_grid(x["xrd"], x["composition"], n=3, k=1, deterministic=True, lattice=x["lattice"])
    torch.testing.assert_close(plain, extra)


def test_reflection_features_follow_the_pattern():
    """Swapping the amplitudes (another pattern on the same cell) changes the prediction."""
    model = tiny("small-reflections").eval()
    x = inputs()
    cell = {k: x[k] for k in ("lattice", "hkl", "amplitude")}
    swapped = dict(cell, amplitude=cell["amplitude"].flip(0))
    a = model.predict_grid(x["xrd"], x["composition"], n=4, k=1, deterministic=True, **cell)
    b = model.predict_grid(x["xrd"], x["composition"], n=4, k=1, deterministic=True, **swapped)
    assert not torch.allclose(a, b)

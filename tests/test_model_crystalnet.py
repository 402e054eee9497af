"""CrystalNet model: presets, shapes, losses, sampling, periodicity, ablation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pymatgen_crystalnet.configs import apply_values
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet, grid_points
from pymatgen_crystalnet.model.target import (
    density_to_target,
    kl_divergence,
    l1_loss,
    loss_terms,
    target_to_density,
)

TINY = {
    "latent_dim": 16,
    "xrd_layers_per_block": 2,
    "composition_layers": 2,
    "composition_hidden": 16,
    "fusion_layers": 3,
    "fusion_hidden": 32,
    "n_frequencies": 16,
    "embed_dim": 16,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 2,
    "regressor_hidden": 16,
}


def tiny_model(**overrides) -> CrystalNet:
    torch.manual_seed(0)
    return CrystalNet(CrystalNetConfig(**{**TINY, **overrides}))


def inputs(b: int = 4, p: int = 10, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    xrd = torch.rand(b, 1024, generator=g)
    comp = torch.rand(b, 118, generator=g)
    points = torch.rand(b, p, 3, generator=g)
    return xrd, comp, points


# ------------------------------------------------------------------ config and presets
def test_preset_parameter_counts():
    paper = CrystalNet.from_preset("paper")
    small = CrystalNet.from_preset("small")
    assert paper.num_parameters() == 13_339_513
    assert small.num_parameters() == 846_841
    # paper's sizes: 512-d codes, FiLM from the 1024-d concatenation, B in R^{128x3}
    assert paper.positional.frequencies.shape == (128, 3)
    assert paper.film.gamma[0][0].in_features == 1024
    assert paper.film.gamma[-1].out_features == 512
    assert small.num_parameters() < 2_000_000


@pytest.mark.parametrize("preset", ["paper", "small"])
def test_forward_shapes(preset):
    model = CrystalNet.from_preset(preset)
    d = model.config.latent_dim
    xrd, comp, points = inputs(b=3, p=7)
    out = model(xrd, comp, points)
    assert out["density"].shape == (3, 7)
    for key in ("mu_xrd", "sigma_xrd", "mu_composition", "sigma_composition"):
        assert out[key].shape == (3, d)
    assert out["kl_xrd"].shape == (3,) and out["kl_composition"].shape == (3,)
    assert (out["sigma_xrd"] > 0).all() and (out["sigma_composition"] > 0).all()


def test_config_round_trip_and_validation():
    cfg = CrystalNetConfig.from_preset("small", positional_encoding="periodic")
    again = CrystalNetConfig.from_dict(json.loads(json.dumps(cfg.as_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match="Unknown CrystalNetConfig field"):
        CrystalNetConfig.from_dict({**cfg.as_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="positional_encoding"):
        CrystalNetConfig(positional_encoding="fourier")
    with pytest.raises(ValueError, match="latent_dim"):
        CrystalNetConfig(latent_dim=0)
    with pytest.raises(ValueError, match="Unknown model preset"):
        CrystalNetConfig.from_preset("huge")
    changed = apply_values(cfg, {"latent_dim": "64", "composition_mode": "none"})
    assert changed.latent_dim == 64 and changed.composition_mode == "none"
    with pytest.raises(ValueError, match="no field"):
        apply_values(cfg, {"latentdim": "64"})


def test_double_inputs_are_accepted():
    model = tiny_model()
    xrd, comp, points = inputs()
    out = model.predict_points(xrd.double(), comp.double(), points.double(), k=1, deterministic=True)
    assert out.dtype == torch.float32 and out.shape == (1, 4, 10)


def test_bad_input_shapes_are_named():
    model = tiny_model()
    xrd, comp, points = inputs()
    with pytest.raises(ValueError, match="xrd must have shape"):
        model(xrd[:, :100], comp, points)
    with pytest.raises(ValueError, match="composition must have shape"):
        model(xrd, comp[:, :50], points)


# ------------------------------------------------------------------ loss terms
def test_kl_and_l1_against_hand_values():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    sigma = torch.tensor([[1.0, 0.5], [1.0, 1.0]])
    # per dim: 0.5*(mu^2 + sigma^2 - 1) - log(sigma)
    first = [0.5 * (1 + 1 - 1) - 0.0, 0.5 * (0 + 0.25 - 1) - math.log(0.5)]
    kl_sum = kl_divergence(mu, sigma, "sum")
    kl_mean = kl_divergence(mu, sigma, "mean")
    assert kl_sum[0].item() == pytest.approx(sum(first), abs=1e-6)
    assert kl_mean[0].item() == pytest.approx(sum(first) / 2, abs=1e-6)
    assert kl_sum[1].item() == pytest.approx(0.0, abs=1e-7)  # N(0, 1) itself
    assert l1_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0])).item() == pytest.approx(1.5)


def test_loss_terms_combine_l1_and_beta_kl():
    cfg = CrystalNetConfig(**TINY, beta_kl=0.05, target_transform="log1p", target_scale=2.0)
    density = torch.tensor([[0.0, 2.0], [6.0, 14.0]])  # log1p(rho/2) = 0, ln 2, ln 4, ln 8
    pred = torch.tensor([[0.0, 0.0], [math.log(4), 0.0]])
    out = {"density": pred, "kl_xrd": torch.tensor([1.0, 3.0]), "kl_composition": torch.tensor([0.5, 0.5])}
    terms = loss_terms(out, density, cfg)
    l1 = (math.log(2) + math.log(8)) / 4
    assert terms["l1"].item() == pytest.approx(l1, rel=1e-6)
    assert terms["kl_xrd"].item() == pytest.approx(2.0)
    assert terms["kl_composition"].item() == pytest.approx(0.5)
    assert terms["loss"].item() == pytest.approx(l1 + 0.05 * 2.5, rel=1e-6)


@pytest.mark.parametrize("transform", ["none", "log1p"])
def test_target_transform_round_trip(transform):
    cfg = CrystalNetConfig(**TINY, target_transform=transform, target_scale=3.0)
    rho = torch.tensor([0.0, 0.01, 1.0, 50.0, 2000.0])
    back = target_to_density(density_to_target(rho, cfg), cfg)
    assert torch.allclose(back, rho, rtol=1e-5, atol=1e-6)
    assert (target_to_density(torch.tensor([-5.0]), cfg) >= 0).all()


# ------------------------------------------------------------------ sampling and inference
def test_sampling_differs_and_deterministic_gives_the_mean():
    model = tiny_model(target_transform="none", nonnegative=False)
    model.eval()
    xrd, comp, _ = inputs(b=2)
    pts = grid_points(4)
    a = model.predict_points(xrd, comp, pts, k=2)
    assert not torch.allclose(a[0], a[1])  # two latent samples differ
    b = model.predict_points(xrd, comp, pts, k=2)
    assert not torch.allclose(a, b)
    det = model.predict_points(xrd, comp, pts, k=3, deterministic=True)
    assert torch.allclose(det[0], det[1], atol=1e-6) and torch.allclose(det[1], det[2], atol=1e-6)
    # sigma = 0: the decoder at z = mu
    with torch.no_grad():
        mean = target_to_density(model(xrd, comp, pts, sample=False)["density"], model.config)
    assert torch.allclose(det[0], mean, atol=1e-6)
    # the generator makes sampling reproducible
    g1 = torch.Generator().manual_seed(5)
    g2 = torch.Generator().manual_seed(5)
    assert torch.equal(
        model.predict_points(xrd, comp, pts, k=2, generator=g1),
        model.predict_points(xrd, comp, pts, k=2, generator=g2),
    )


def test_predict_grid_layout_and_memory_bound():
    model = tiny_model(target_transform="none", nonnegative=False)
    xrd, comp, _ = inputs(b=2)
    n = 5
    grid = model.predict_grid(xrd, comp, n=n, k=1, deterministic=True)
    assert grid.shape == (1, 2, n, n, n)
    i, j, k = 1, 3, 4
    point = torch.tensor([[i / n, j / n, k / n]])
    single = model.predict_points(xrd, comp, point, k=1, deterministic=True)
    assert torch.allclose(grid[0, :, i, j, k], single[0, :, 0], atol=1e-5)
    chunked = model.predict_grid(xrd, comp, n=n, k=1, deterministic=True, batch_points=7)
    assert torch.allclose(chunked, grid, atol=1e-5)
    assert model.training  # predict restores the mode it found


def test_encoders_run_once_per_crystal(monkeypatch):
    model = tiny_model()
    calls = []
    original = model.xrd_encoder.forward
    monkeypatch.setattr(model.xrd_encoder, "forward", lambda x: calls.append(x.shape) or original(x))
    xrd, comp, _ = inputs(b=3)
    model.predict_grid(xrd, comp, n=6, k=4, batch_points=50)
    assert calls == [torch.Size([3, 1024])]


# ------------------------------------------------------------------ periodic encoding
def test_periodic_encoding_is_periodic():
    model = tiny_model(positional_encoding="periodic", target_transform="none", nonnegative=False)
    freqs = model.positional.frequencies
    assert torch.equal(freqs, torch.round(freqs)) and (freqs.abs().sum(1) > 0).all()
    xrd, comp, _ = inputs(b=2)
    dyadic = torch.randint(0, 64, (50, 3)).float() / 64  # x + e_i is exact in float32
    base = model.predict_points(xrd, comp, dyadic, k=1, deterministic=True)
    for axis in range(3):
        shifted = dyadic.clone()
        shifted[:, axis] += 1.0
        out = model.predict_points(xrd, comp, shifted, k=1, deterministic=True)
        assert torch.equal(out, base)
        shifted[:, axis] -= 3.0
        out = model.predict_points(xrd, comp, shifted, k=1, deterministic=True)
        assert torch.equal(out, base)
    rnd = torch.rand(50, 3)
    moved = rnd + torch.tensor([1.0, -2.0, 3.0])
    a = model.predict_points(xrd, comp, rnd, k=1, deterministic=True)
    b = model.predict_points(xrd, comp, moved, k=1, deterministic=True)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_gaussian_encoding_is_not_periodic():
    model = tiny_model(target_transform="none", nonnegative=False)
    xrd, comp, _ = inputs(b=1)
    pts = torch.rand(20, 3) * 0.5
    a = model.predict_points(xrd, comp, pts, k=1, deterministic=True)
    b = model.predict_points(xrd, comp, pts + torch.tensor([1.0, 0, 0]), k=1, deterministic=True)
    assert not torch.allclose(a, b, atol=1e-3)


# ------------------------------------------------------------------ composition ablation
def test_no_formula_gives_the_network_no_formula():
    model = tiny_model(composition_mode="none")
    assert model.composition_encoder is None
    with_branch = tiny_model()
    assert model.num_parameters() < with_branch.num_parameters()
    xrd, comp, points = inputs()
    model.eval()
    with torch.no_grad():
        a = model(xrd, comp, points, sample=False)
        b = model(xrd, torch.rand_like(comp), points, sample=False)
    assert torch.equal(a["density"], b["density"])
    assert torch.equal(a["kl_composition"], torch.zeros(4))

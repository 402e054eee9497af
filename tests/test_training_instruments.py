"""The study's instruments and knobs: control CC, electrons, latent diagnostics, KL options, temperature."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.target import loss_terms, target_to_density
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.data import GridDensitySet
from pymatgen_crystalnet.training.distributed import init_distributed
from pymatgen_crystalnet.training.history import epoch_row, log_epoch
from pymatgen_crystalnet.training.latent_stats import LatentStats
from pymatgen_crystalnet.training.objective import kl_weight, training_loss
from pymatgen_crystalnet.training.synthetic import SyntheticCrystals
from pymatgen_crystalnet.training.validation import control_partners, validate_model

SMALL = {"latent_dim": 8, "embed_dim": 16, "fusion_hidden": 16, "regressor_hidden": 16,
         "composition_hidden": 16, "n_frequencies": 8, "regressor_blocks": 1, "regressor_layers_per_block": 1}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_control_partners_are_a_derangement_within_systems():
    systems = ["cubic", "trigonal", "cubic", "cubic", "hexagonal", "trigonal", "monoclinic"]
    p = control_partners(systems, 7)
    assert sorted(p) == list(range(7)) and all(p[i] != i for i in range(7))
    assert all(systems[p[i]] == systems[i] for i in (0, 1, 2, 3, 5))
    assert (p[4], p[6]) == (6, 4)  # alone in their systems: each other's pattern
    q = control_partners(systems[:6], 6)
    assert q[4] == 5 and all(q[i] != i for i in range(6))  # the only one alone: the next crystal
    assert control_partners(None, 3) == [1, 2, 0]
    assert control_partners(None, 1) == [0]


class OracleModel(torch.nn.Module):
    """Predicts the truth of the crystal whose *pattern* it is given; fixed latent codes."""

    def __init__(self, dataset: GridDensitySet, n: int) -> None:
        super().__init__()
        self.config = CrystalNetConfig(**SMALL)
        items = [dataset[i] for i in range(len(dataset))]
        self.lookup = {item["xrd"].numpy().tobytes(): item["density"].reshape(n, n, n) for item in items}
        self.mus = torch.stack([dataset[i]["xrd"][:8] * 4 for i in range(len(dataset))])

    def predict_grid(self, xrd, composition, n, k, batch_points=None, generator=None):
        grids = torch.stack([self.lookup[x.numpy().tobytes()] for x in xrd])
        return grids.expand(k, *grids.shape).clone()

    def encode(self, xrd, composition):
        mu = xrd[:, :8] * 4
        sigma = torch.full_like(mu, 0.5)
        return {"mu_xrd": mu, "sigma_xrd": sigma, "mu_composition": mu * 0, "sigma_composition": sigma * 2}


def test_validation_instruments_on_an_oracle():
    n = 16
    val = GridDensitySet(SyntheticCrystals(6, seed=1), n)  # six distinct patterns
    model = OracleModel(val, n)
    cfg = TrainingConfig(val_grid=n, val_samples=2, val_batch_size=4)
    out = validate_model(model, val, cfg, init_distributed("cpu"))
    assert out["val_crystals"] == 6
    assert out["val_cc"] == pytest.approx(1.0)
    assert out["val_control_cc"] < 0.99
    assert out["val_cc_drop"] == pytest.approx(out["val_cc"] - out["val_control_cc"])
    # the toy atoms are Gaussians of Z electrons: the 16³ grid holds them to < 1e-6
    assert out["val_electrons_truth"] == pytest.approx(1.0, abs=1e-6)
    assert out["val_electrons"] == pytest.approx(1.0, abs=1e-6) and out["val_electrons_within_10"] == 1.0
    mus = model.mus.double().numpy()
    kl = 0.5 * (mus**2 + 0.25 - 1) - math.log(0.5)
    assert out["val_xrd_sigma"] == pytest.approx(0.5)
    assert out["val_xrd_mu_spread"] == pytest.approx(mus.std(0, ddof=1).mean(), rel=1e-9)
    assert out["val_xrd_kl"] == pytest.approx(kl.mean(), rel=1e-9)
    assert out["val_xrd_active"] == int((mus.var(0, ddof=1) > 0.01).sum())
    assert out["val_composition_sigma"] == pytest.approx(1.0) and out["val_composition_active"] == 0
    assert np.allclose(out["kl_per_dim"]["xrd"], kl.mean(0))
    cfg = TrainingConfig(val_grid=n, val_control=False)
    no_control = validate_model(model, val, cfg, init_distributed("cpu"))
    assert "val_control_cc" not in no_control and no_control["val_cc"] == pytest.approx(1.0)


def test_latent_stats_sums():
    rng = np.random.default_rng(0)
    mu, sigma = rng.normal(size=(10, 4)), rng.uniform(0.2, 1.5, size=(10, 4))
    stats = LatentStats(4, torch.device("cpu"))
    stats.add(torch.tensor(mu[:6]), torch.tensor(sigma[:6]))
    stats.add(torch.tensor(mu[6:]), torch.tensor(sigma[6:]))
    s = stats.summary("v")
    assert s["v_sigma"] == pytest.approx(sigma.mean())
    assert s["v_mu_spread"] == pytest.approx(mu.std(0, ddof=1).mean())
    assert stats.kl_per_dim() == pytest.approx(list((0.5 * (mu**2 + sigma**2 - 1) - np.log(sigma)).mean(0)))
    assert math.isnan(LatentStats(3, torch.device("cpu")).summary("e")["e_kl"])


def _output(b=4, d=8, seed=0, reduction="mean"):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(b, d, generator=g, requires_grad=True)
    sigma = (torch.rand(b, d, generator=g) + 0.5).requires_grad_(True)
    kl = 0.5 * (mu**2 + sigma**2 - 1) - torch.log(sigma)
    kl = kl.mean(-1) if reduction == "mean" else kl.sum(-1)
    return {"density": torch.rand(b, 5, generator=g), "mu_xrd": mu, "sigma_xrd": sigma,
            "mu_composition": mu, "sigma_composition": sigma, "kl_xrd": kl, "kl_composition": kl}


def test_objective_defaults_are_the_models_loss_and_warmup_ramps_beta():
    model_cfg = CrystalNetConfig(**SMALL)
    out, rho = _output(), torch.rand(4, 5) * 3
    plain = loss_terms(out, rho, model_cfg)
    same = training_loss(out, rho, model_cfg, TrainingConfig(), progress=0.3)
    assert all(torch.equal(plain[k], same[k]) for k in plain)
    cfg = TrainingConfig(kl_warmup_epochs=2)
    assert kl_weight(model_cfg, cfg, 0.0) == 0.0
    assert kl_weight(model_cfg, cfg, 1.0) == pytest.approx(0.025)
    assert kl_weight(model_cfg, cfg, 5.0) == pytest.approx(0.05)
    half = training_loss(out, rho, model_cfg, cfg, progress=1.0)
    kl = (plain["kl_xrd"] + plain["kl_composition"]).item()
    assert half["loss"].item() == pytest.approx(plain["l1"].item() + 0.025 * kl)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_free_bits_floor_each_dimension(reduction):
    model_cfg = CrystalNetConfig(**SMALL, kl_reduction=reduction)
    out, rho = _output(reduction=reduction), torch.rand(4, 5)
    big = training_loss(out, rho, model_cfg, TrainingConfig(free_bits=100.0), progress=0.0)
    per_dim_floor = 100.0 if reduction == "mean" else 800.0
    assert big["loss"].item() == pytest.approx(big["l1"].item() + 0.05 * 2 * per_dim_floor)
    big["loss"].backward()
    assert torch.all(out["mu_xrd"].grad == 0)  # every dimension under the floor: no KL gradient
    out = _output(reduction=reduction)
    small = training_loss(out, rho, model_cfg, TrainingConfig(free_bits=1e-9), progress=0.0)
    plain = loss_terms(out, rho, model_cfg)
    assert small["loss"].item() == pytest.approx(plain["loss"].item(), rel=1e-6)
    assert small["kl_xrd"].item() == pytest.approx(plain["kl_xrd"].item())  # reported KL: no floor


def test_electron_term_asks_for_the_cells_electrons():
    from pymatgen_crystalnet.model.target import density_to_target
    from pymatgen_crystalnet.training.objective import ELECTRON_EPS, electron_term

    model_cfg = CrystalNetConfig(**SMALL)  # log(1 + ρ) target
    rho = torch.rand(4, 5) * 3
    out = _output()
    out["density"] = density_to_target(0.5 * rho, model_cfg).requires_grad_(True)  # half the electrons
    expected = torch.log((0.5 * rho.mean(-1) + ELECTRON_EPS) / (rho.mean(-1) + ELECTRON_EPS)).abs().mean()
    assert electron_term(out["density"], rho, model_cfg).item() == pytest.approx(expected.item(), rel=1e-5)
    exact = density_to_target(rho, model_cfg)
    assert electron_term(exact, rho, model_cfg).item() == pytest.approx(0, abs=1e-6)
    plain = training_loss(out, rho, model_cfg, TrainingConfig(), progress=0.0)
    terms = training_loss(out, rho, model_cfg, TrainingConfig(electron_weight=0.2), progress=0.0)
    assert terms["loss"].item() == pytest.approx(plain["loss"].item() + 0.2 * expected.item(), rel=1e-5)
    assert terms["l1"].item() == plain["l1"].item() and terms["electrons"].item() > 0.6
    electron_term(out["density"], rho, model_cfg).backward()
    assert torch.all(out["density"].grad < 0)  # too few electrons: every point is pushed up
    with pytest.raises(ValueError, match="electron_weight"):
        TrainingConfig(electron_weight=-1.0)


def test_training_config_knobs_validate():
    cfg = TrainingConfig.from_preset("small").with_settings(
        ["max_minutes=30", "kl_warmup_epochs=3", "free_bits=0.05", "point_grid=40", "val_control=false"]
    )
    assert (cfg.max_minutes, cfg.kl_warmup_epochs, cfg.free_bits, cfg.point_grid, cfg.val_control) == (
        30.0, 3.0, 0.05, 40, False)
    for bad in ("max_minutes=-1", "free_bits=-0.1", "point_grid=1", "kl_warmup_epochs=nan"):
        with pytest.raises(ValueError):
            TrainingConfig().with_settings([bad])
    assert TrainingConfig() == TrainingConfig(max_minutes=20)  # the budget is not the run's identity


def test_temperature_scales_the_latent_noise():
    torch.manual_seed(0)
    model = CrystalNet(CrystalNetConfig(**SMALL)).eval()
    xrd, comp, pts = torch.rand(2, 1024), torch.rand(2, 118), torch.rand(7, 3)

    def predict(**kw):
        return model.predict_points(xrd, comp, pts, k=3, generator=torch.Generator().manual_seed(5), **kw)

    assert torch.equal(predict(), predict(temperature=1.0))
    assert torch.equal(predict(temperature=0.0), predict(deterministic=True))
    g = torch.Generator().manual_seed(5)
    enc = model.encode(xrd, comp)
    eps_x, eps_c = torch.randn((3, 2, 8), generator=g), torch.randn((3, 2, 8), generator=g)
    z_x = enc["mu_xrd"] + 0.5 * enc["sigma_xrd"] * eps_x
    z_c = enc["mu_composition"] + 0.5 * enc["sigma_composition"] * eps_c
    with torch.no_grad():
        expected = target_to_density(model.decode(z_x, z_c, pts), model.config)
    assert torch.allclose(predict(temperature=0.5), expected, atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        predict(temperature=-1.0)


def test_temperature_in_solve_and_evaluate_settings():
    from pymatgen_crystalnet.evaluation.config import EvaluationConfig
    from pymatgen_crystalnet.solver.config import SolveConfig

    assert SolveConfig().temperature == 1.0 and EvaluationConfig().temperature == 1.0
    assert SolveConfig(temperature=0.5).solve_kwargs()["temperature"] == 0.5
    assert EvaluationConfig().with_settings(["temperature=0.3"]).temperature == 0.3
    with pytest.raises(ValueError, match="temperature"):
        SolveConfig(temperature=-0.1)
    with pytest.raises(ValueError, match="temperature"):
        EvaluationConfig(temperature=float("inf"))


def test_epoch_log_line_holds_the_instruments(caplog):
    train = {"lr": 1e-3, "train_loss": 0.3, "train_l1": 0.2, "train_kl_xrd": 0.9, "train_kl_composition": 0.8,
             "crystals": 64, "points": 64 * 512, "steps": 2, "data_s": 0.1, "beta": 0.05}
    val = {"val_ssim": 0.8, "val_cc": 0.5, "val_nmae": 0.8, "val_psnr": 30.0, "val_crystals": 8,
           "val_control_cc": 0.4, "val_cc_drop": 0.1, "val_electrons": 0.5, "val_electrons_within_10": 0.25,
           "val_electrons_truth": 1.0, "val_xrd_kl": 0.1, "val_xrd_sigma": 0.9, "val_xrd_mu_spread": 0.3,
           "val_xrd_active": 12, "kl_per_dim": {"xrd": [0.1]}}
    row = epoch_row(3, 10, train, 2.0, val)
    assert "kl_per_dim" not in row and row["data_time_s"] == 0.1 and row["crystals_per_s"] == 32
    with caplog.at_level(logging.INFO, logger="pymatgen_crystalnet.training.history"):
        log_epoch(row, 10, validated=True)
    line = caplog.records[-1].getMessage()
    parts = ("control cc 0.4000 drop +0.1000", "e- held 0.50", "σx 0.90 sd(μx) 0.30", "active 12",
             "32 crystals/s")
    for part in parts:
        assert part in line, line

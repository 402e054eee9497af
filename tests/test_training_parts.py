"""Training pieces: validation scores vs scikit-image, rotations, schedule, augmentation, BatchNorm."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pymatgen_crystalnet.model.layers import BatchNorm
from pymatgen_crystalnet.scoring.alignment import best_scores, rotation_scores
from pymatgen_crystalnet.scoring.density_metrics import map_cc, nmae, psnr, ssim3d
from pymatgen_crystalnet.scoring.rotations import cube_rotations
from pymatgen_crystalnet.training.augment import add_noise_relu, shift_patterns
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.schedule import cosine_restarts_lr, scale_cycles
from pymatgen_crystalnet.training.synthetic import SyntheticCrystals


# ------------------------------------------------------------------ validation scores
@pytest.mark.parametrize("n", [7, 10, 13])
def test_ssim_matches_scikit_image(n):
    rng = np.random.default_rng(n)
    truth = rng.random((n, n, n)) ** 4 * 100
    pred = truth + rng.normal(0, 8, truth.shape)
    ref = structural_similarity(pred, truth, win_size=7, data_range=truth.max() - truth.min())
    mine = ssim3d(torch.from_numpy(pred), torch.from_numpy(truth)).item()
    assert mine == pytest.approx(ref, abs=1e-4)
    assert mine == pytest.approx(ref, abs=1e-10)


def test_ssim_is_batched():
    rng = np.random.default_rng(0)
    truth = torch.from_numpy(rng.random((3, 9, 9, 9)))
    pred = torch.from_numpy(rng.random((2, 3, 9, 9, 9)))
    batch = ssim3d(pred, truth)
    assert batch.shape == (2, 3)
    for s in range(2):
        for b in range(3):
            assert batch[s, b].item() == pytest.approx(ssim3d(pred[s, b], truth[b]).item(), abs=1e-12)


def test_cc_nmae_psnr_hand_values():
    t = torch.zeros(2, 2, 2)
    t[0, 0, 0] = 4.0
    t[1, 1, 1] = 2.0
    assert map_cc(2 * t + 1, t).item() == pytest.approx(1.0)
    assert map_cc(-t, t).item() == pytest.approx(-1.0)
    p = t.clone()
    p[0, 0, 0] = 3.0  # |error| = 1 over total 6 electrons; MSE = 1/8, range 4
    assert nmae(p, t).item() == pytest.approx(1 / 6)
    assert psnr(p, t).item() == pytest.approx(10 * math.log10(16 / (1 / 8)))


def test_24_distinct_proper_rotations():
    x = torch.rand(4, 4, 4)
    rots = [r.clone() for r in cube_rotations(x)]
    assert len(rots) == 24 and torch.equal(rots[0], x)
    keys = {tuple(r.flatten().tolist()) for r in rots}
    assert len(keys) == 24
    mirrored = {tuple(r.flatten().tolist()) for r in cube_rotations(torch.flip(x, (0,)))}
    assert not keys & mirrored  # no reflection among them: all proper


def test_rotation_scores_find_the_rotated_truth():
    rng = np.random.default_rng(1)
    truth = torch.from_numpy(rng.random((2, 8, 8, 8)))
    rotated = torch.rot90(torch.rot90(truth, 1, (1, 2)), 1, (2, 3))
    noise = torch.from_numpy(rng.random((2, 8, 8, 8)))
    pred = torch.stack([noise, rotated])  # sample 0: noise, sample 1: a rotation of the truth
    per_sample = rotation_scores(pred, truth)
    assert per_sample["ssim"].shape == (2, 2)
    best = best_scores(per_sample)
    assert torch.allclose(best["ssim"], torch.ones(2, dtype=torch.float64))
    assert torch.allclose(best["cc"], torch.ones(2, dtype=torch.float64))
    assert torch.allclose(best["nmae"], torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert (per_sample["ssim"][0] < 0.9).all()


# ------------------------------------------------------------------ schedule
def test_scale_cycles():
    assert scale_cycles((100, 200, 400, 800), 1500) == (100, 200, 400, 800)
    assert scale_cycles((100, 200, 400, 800), 60) == (4, 8, 16, 32)
    assert scale_cycles((100, 200, 400, 800), 2) == (1, 1)
    for epochs in (1, 3, 7, 33, 101):
        cycles = scale_cycles((100, 200, 400, 800), epochs)
        assert sum(cycles) == epochs and min(cycles) >= 1


def test_cosine_restarts_lr():
    cycles = (2, 4)
    assert cosine_restarts_lr(0, cycles, 1e-3, 1e-6) == pytest.approx(1e-3)
    assert cosine_restarts_lr(1, cycles, 1e-3, 1e-6) == pytest.approx((1e-3 + 1e-6) / 2)
    assert cosine_restarts_lr(2, cycles, 1e-3, 1e-6) == pytest.approx(1e-3)  # warm restart
    assert cosine_restarts_lr(5, cycles, 1e-3, 1e-6) == pytest.approx(
        1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 3 / 4))
    )
    assert cosine_restarts_lr(6, cycles, 1e-3, 1e-6) == pytest.approx(1e-6)


def test_training_config_presets_and_validation():
    paper = TrainingConfig.from_preset("paper")
    assert (paper.epochs, paper.batch_size, paper.n_strata, paper.lr, paper.lr_min) == (
        1500,
        128,
        10,
        1e-3,
        1e-6,
    )
    assert paper.restart_cycles == (100, 200, 400, 800)
    assert TrainingConfig.from_dict(paper.as_dict()) == paper
    assert TrainingConfig.from_preset("small").epochs < 1500
    with pytest.raises(ValueError, match="select_metric"):
        TrainingConfig(select_metric="psnr")
    with pytest.raises(ValueError, match="val_grid"):
        TrainingConfig(val_grid=5)


# ------------------------------------------------------------------ augmentation
def test_shift_patterns():
    x = torch.arange(1, 7, dtype=torch.float32).repeat(3, 1)
    out = shift_patterns(x, torch.tensor([0, 2, -1]))
    assert out[0].tolist() == [1, 2, 3, 4, 5, 6]
    assert out[1].tolist() == [0, 0, 1, 2, 3, 4]
    assert out[2].tolist() == [2, 3, 4, 5, 6, 0]


def test_noise_then_relu():
    x = torch.zeros(1000)
    out = add_noise_relu(x, torch.randn(1000), 1e-3)
    assert (out >= 0).all() and out.max() < 1e-2 and (out > 0).any()
    assert torch.equal(add_noise_relu(x, torch.randn(1000), 0.0), x)


# ------------------------------------------------------------------ pieces used by the trainer
def test_batchnorm_without_process_group_is_plain():
    torch.manual_seed(0)
    ours, ref = BatchNorm(5), torch.nn.BatchNorm1d(5)
    ours.sync = True  # no process group: falls back to nn.BatchNorm1d
    x = torch.randn(16, 5)
    assert torch.equal(ours(x), ref(x))
    assert torch.equal(ours.running_var, ref.running_var)


def test_synthetic_crystals():
    data = SyntheticCrystals(3, n_strata=3, seed=2)
    item = data[1]
    assert item["xrd"].shape == (1024,) and item["composition"].shape == (118,)
    assert item["points"].shape == (27, 3) and item["density"].shape == (27,)
    assert item["xrd"].max() == 1.0 and item["composition"].sum().item() == pytest.approx(1.0)
    data.set_epoch(1)
    assert not torch.equal(data[1]["points"], item["points"])
    data.set_epoch(0)
    assert torch.equal(data[1]["points"], item["points"])
    # the density integrates to the electrons of the cell
    grid = SyntheticCrystals(3, grid=40, seed=2)
    rho = grid[1]["density"].double()
    _, z = grid.sites[1]
    assert rho.mean().item() * grid.lattice**3 == pytest.approx(z.sum(), rel=1e-3)

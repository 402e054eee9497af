"""Density-map scores against scikit-image: SSIM, PSNR, map CC, NMAE without alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pymatgen_crystalnet.scoring.density_metrics import METRICS, grid_scores, map_cc, ssim3d
from pymatgen_crystalnet.scoring.reference import reference_scores


def _assert_close(mine: dict, ref: dict, tol: float = 1e-4) -> None:
    for key in METRICS:
        assert float(mine[key]) == pytest.approx(ref[key], abs=tol), key


@pytest.mark.parametrize("n", [7, 11, 16])
def test_scores_match_scikit_image_on_random_grids(n):
    rng = np.random.default_rng(n)
    truth = rng.random((n, n, n)) ** 4 * 100
    pred = truth + rng.normal(0, 8, truth.shape)
    data_range = truth.max() - truth.min()
    ssim = structural_similarity(pred, truth, win_size=7, data_range=data_range)
    psnr = peak_signal_noise_ratio(truth, pred, data_range=data_range)
    mine = grid_scores(torch.from_numpy(pred), torch.from_numpy(truth))
    assert mine["ssim"].item() == pytest.approx(ssim, abs=1e-10)
    assert mine["psnr"].item() == pytest.approx(psnr, abs=1e-9)
    _assert_close(mine, reference_scores(pred, truth, rotate=False), 1e-10)



def test_map_cc_of_a_constant_grid_is_zero():
    truth = torch.rand(8, 8, 8, dtype=torch.float64)
    assert map_cc(torch.full_like(truth, 3.0), truth).item() == 0.0
    assert map_cc(truth, truth).item() == pytest.approx(1.0, abs=1e-12)


def test_ssim_broadcasts_and_checks_the_window():
    rng = np.random.default_rng(0)
    truth = torch.from_numpy(rng.random((3, 9, 9, 9)))
    pred = torch.from_numpy(rng.random((2, 3, 9, 9, 9)))
    batch = ssim3d(pred, truth)
    assert batch.shape == (2, 3)
    assert batch[1, 2].item() == pytest.approx(ssim3d(pred[1, 2], truth[2]).item(), abs=1e-12)
    for bad in (4, 1, 11):
        with pytest.raises(ValueError, match="win_size"):
            ssim3d(pred, truth, win_size=bad)

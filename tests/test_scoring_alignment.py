"""Scores best over rotations and shifts: agreement with the reference loop, translation, chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.scoring.alignment import (
    aligned_scores,
    best_scores,
    circular_box_mean,
    translation_scores,
)
from pymatgen_crystalnet.scoring.density_metrics import METRICS, grid_scores, map_cc, psnr
from pymatgen_crystalnet.scoring.reference import reference_scores
from pymatgen_crystalnet.scoring.rotations import rotations, turn_index, turn_many

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def real_grids(mp_sample) -> list[np.ndarray]:
    """IAM densities (B = 1 Å²) of six Materials Project crystals on 20³ grids."""
    return [iam_density_grid(canonical_cell(row["structure"]), 20) for row in mp_sample[:6]]


def _assert_close(mine: dict, ref: dict, tol: float = 1e-4) -> None:
    for key in METRICS:
        assert float(mine[key]) == pytest.approx(ref[key], abs=tol), key


def test_scores_match_scikit_image_on_real_grids(real_grids):
    for truth, pred in itertools.pairwise(real_grids):
        mine = grid_scores(torch.from_numpy(pred), torch.from_numpy(truth))
        _assert_close(mine, reference_scores(pred, truth, rotate=False), 1e-8)
        # and best over the 24 rotations, batched
        aligned = aligned_scores(torch.from_numpy(pred)[None, None], torch.from_numpy(truth)[None])
        _assert_close({k: v[0, 0] for k, v in aligned.rotation.items()}, reference_scores(pred, truth), 1e-8)


def test_per_rotation_scores_are_those_of_the_turned_prediction():
    rng = np.random.default_rng(3)
    truth = rng.random((9, 9, 9)) ** 3 * 50
    preds = rng.random((2, 3, 9, 9, 9)) ** 3 * 50  # S = 2 samples of B = 3 crystals
    truths = np.stack([truth, truth[::-1], truth**1.1])
    out = aligned_scores(torch.from_numpy(preds), torch.from_numpy(truths))
    assert out.per_rotation["ssim"].shape == (24, 2, 3) and out.rotation["cc"].shape == (2, 3)
    for r, rot in enumerate(rotations()):
        for s, b in itertools.product(range(2), range(3)):
            ref = reference_scores(np.ascontiguousarray(rot.apply(preds[s, b])), truths[b], rotate=False)
            _assert_close({k: v[r, s, b] for k, v in out.per_rotation.items()}, ref, 1e-9)


def test_turned_circular_window_means_are_the_window_means_of_the_turned_grid():
    rng = np.random.default_rng(2)
    grid = torch.from_numpy(rng.random((1, 6, 6, 6)))
    w = 3
    turned_means = turn_many(circular_box_mean(grid, w), turn_index(6, tuple(range(24)), w - 1, "cpu"))
    for r, rot in enumerate(rotations()):
        expected = circular_box_mean(rot.apply(grid).contiguous(), w)
        torch.testing.assert_close(turned_means[r], expected, rtol=0, atol=1e-12)


def test_turned_truth_scores_one_and_shifted_truth_needs_the_translation_variant(real_grids):
    truth = torch.from_numpy(real_grids[1])
    turned = rotations()[13].apply(truth)
    moved = torch.roll(turned, (3, -5, 7), (0, 1, 2))
    noise = torch.rand_like(truth) * truth.mean()
    pred = torch.stack([noise, turned, moved])[:, None]  # S = 3 samples of one crystal
    out = aligned_scores(pred, truth[None], translation=True)
    rot, tra = out.rotation, out.translation
    assert rot["ssim"][1, 0].item() == pytest.approx(1.0, abs=1e-12)  # a turn: found by rotation
    assert rot["cc"][1, 0].item() == pytest.approx(1.0, abs=1e-12)
    assert rot["cc"][2, 0].item() < 0.9 and rot["ssim"][2, 0].item() < 0.99  # a turn plus a shift: not
    for s in (1, 2):
        assert tra["ssim"][s, 0].item() == pytest.approx(1.0, abs=1e-12)
        assert tra["cc"][s, 0].item() == pytest.approx(1.0, abs=1e-12)
        assert tra["nmae"][s, 0].item() == pytest.approx(0.0, abs=1e-12)
        assert tra["psnr"][s, 0].item() > 100
    assert tra["cc"][0, 0].item() < 0.5


def test_translation_aware_is_never_below_rotation_only(real_grids):
    rng = np.random.default_rng(7)
    truths = torch.from_numpy(np.stack(real_grids[:3]))
    preds = torch.from_numpy(np.stack([np.stack(real_grids[3:6]), rng.random((3, 20, 20, 20)) * 2]))
    out = aligned_scores(preds, truths, translation=True, n_peaks=2)
    for key in ("ssim", "psnr", "cc"):
        assert (out.translation[key] >= out.rotation[key]).all(), key
    assert (out.translation["nmae"] <= out.rotation["nmae"]).all()
    assert (out.translation["cc"] > out.rotation["cc"]).any()


def test_translation_cc_and_psnr_are_exhaustive_over_shifts():
    rng = np.random.default_rng(11)
    n = 8
    truth = torch.from_numpy(rng.random((n, n, n)) ** 3)
    pred = torch.from_numpy(rng.random((n, n, n)) ** 3)
    best_cc, best_psnr = -np.inf, -np.inf
    for rot in rotations():
        turned = rot.apply(pred)
        moved = torch.stack([torch.roll(turned, t, (0, 1, 2)) for t in itertools.product(range(n), repeat=3)])
        best_cc = max(best_cc, map_cc(moved, truth).max().item())
        best_psnr = max(best_psnr, psnr(moved, truth).max().item())
    mine = translation_scores(pred[None, None], truth[None])
    assert mine["cc"].item() == pytest.approx(best_cc, abs=1e-10)
    assert mine["psnr"].item() == pytest.approx(best_psnr, abs=1e-8)


def test_chunking_and_best_scores_do_not_change_results(real_grids):
    truths = torch.from_numpy(np.stack(real_grids[:2]))
    preds = torch.from_numpy(np.stack([np.stack(real_grids[2:4]), np.stack(real_grids[4:6])]))
    whole = aligned_scores(preds, truths, translation=True, max_elements=1 << 30)
    small = aligned_scores(preds, truths, translation=True, max_elements=3 * 20**3)
    for key in METRICS:
        torch.testing.assert_close(whole.rotation[key], small.rotation[key], rtol=0, atol=1e-10)
        torch.testing.assert_close(whole.translation[key], small.translation[key], rtol=0, atol=1e-10)
    best = best_scores(whole.rotation)
    assert best["ssim"].shape == (2,)
    assert torch.equal(best["nmae"], whole.rotation["nmae"].amin(0))
    assert torch.equal(best["psnr"], whole.rotation["psnr"].amax(0))


def test_shape_errors():
    with pytest.raises(ValueError, match="Expected prediction"):
        aligned_scores(torch.zeros(2, 8, 8, 8), torch.zeros(2, 8, 8, 8))
    with pytest.raises(ValueError, match="cubic grids"):
        aligned_scores(torch.zeros(1, 1, 8, 8, 9), torch.zeros(1, 8, 8, 9))

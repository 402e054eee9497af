"""benchmarks/electron_decoding.py: the decodings hold the electrons they are asked to."""

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def bench(load_script):
    return load_script("benchmarks/electron_decoding.py")


def test_sharpening_holds_the_target_and_raises_the_peaks_more_than_the_valleys(bench):
    rng = np.random.default_rng(0)
    grids = torch.from_numpy(rng.gamma(0.5, 2.0, size=(2, 3, 6, 6, 6)))  # (k, B, n, n, n)
    target = grids.mean(dim=(0, -3, -2, -1)) * torch.tensor([1.5, 2.0, 0.8])
    out = bench.sharpen(grids, target)
    np.testing.assert_allclose(out.mean(dim=(-3, -2, -1)).numpy(), target.expand(2, 3).numpy(), rtol=1e-6)
    # a monotone map of each grid: the order of the values is kept
    for k in range(2):
        for b in range(3):
            assert torch.equal(torch.argsort(out[k, b].flatten()), torch.argsort(grids[k, b].flatten()))
    # more electrons (γ > 1): the maximum grows by a larger factor than the mean
    assert (out[:, 1].amax(dim=(-3, -2, -1)) / grids[:, 1].amax(dim=(-3, -2, -1)) > 2.0).all()


def test_scaling_decodings_keep_the_shape(bench, eval_data):
    from pymatgen_crystalnet.data.density_bank import cell_electrons, cell_volumes
    from pymatgen_crystalnet.evaluation.batch import Batch

    batch = Batch.load(eval_data, np.array([0, 1]), 12, torch.device("cpu"), None, seed=0)
    pred = torch.stack([0.5 * batch.truth, 0.7 * batch.truth])
    truth_means = cell_electrons(eval_data)[[0, 1]] / cell_volumes(eval_data)[[0, 1]]
    scaled = bench.decode(batch, pred, "scaled, true count")
    np.testing.assert_allclose(scaled.mean(dim=(-3, -2, -1)).numpy(), np.broadcast_to(truth_means, (2, 2)))
    assert torch.equal(bench.decode(batch, pred, "as predicted"), pred)
    assert set(bench.DECODINGS) == {"as predicted", "scaled, true count", "sharpened, true count",
                                    "scaled, formula count"}  # fmt: skip

"""Prepared training batches: the paper's sampling semantics, the densities, the cache, the trainer path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from pymatgen_crystalnet.data.bank_batches import (
    BankedCrystals,
    composition_in_mode,
    interpolate_log1p,
    stratified_points,
)
from pymatgen_crystalnet.data.density_bank import bank_key, cell_electrons, cell_volumes, density_bank
from pymatgen_crystalnet.data.reader import apply_composition_mode, load_export, trilinear_periodic
from pymatgen_crystalnet.data.reader import stratified_points as reader_stratified_points


def test_stratified_points_one_uniform_point_per_cell():
    s = 4
    rng = np.random.default_rng(0)
    u = rng.random((50, s**3, 3), dtype=np.float32)
    pts = stratified_points(u, s)
    assert pts.shape == (50, s**3, 3) and pts.dtype == np.float32
    assert np.all(pts >= 0) and np.all(pts < 1)
    cells = np.floor(pts * s).astype(int)
    expected = np.stack(np.meshgrid(*[np.arange(s)] * 3, indexing="ij"), -1).reshape(-1, 3)
    assert np.array_equal(cells, np.broadcast_to(expected, cells.shape))  # cell c holds point c
    # the same points as the item path's sampler for the same uniform numbers
    gen = np.random.default_rng(7)
    ref = reader_stratified_points(gen, s)
    u_ref = (np.random.default_rng(7).random((s**3, 3))).astype(np.float32)[None]
    assert np.allclose(stratified_points(u_ref, s)[0], ref, atol=1e-6)
    # within its cell a point is uniform: offsets pass a KS test against U(0, 1)
    offsets = (pts * s - cells).reshape(-1)
    assert stats.kstest(offsets, "uniform").pvalue > 1e-3
    with pytest.raises(ValueError, match="shape"):
        stratified_points(u[:, :5], s)


def test_stratified_points_never_reach_one():
    u = np.full((1, 8, 3), np.nextafter(np.float32(1), np.float32(0)), dtype=np.float32)
    assert np.all(stratified_points(u, 2) < 1)


def test_interpolation_is_exact_at_nodes_and_matches_the_numpy_reference():
    rng = np.random.default_rng(1)
    n = 6
    grids = rng.gamma(0.5, 2.0, size=(3, n, n, n)).astype(np.float16)
    crystals = np.array([2, 0])
    nodes = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    pts = np.broadcast_to((nodes / n).astype(np.float32), (2, n**3, 3))
    at_nodes = interpolate_log1p(grids, crystals, pts)
    assert np.allclose(at_nodes, grids[crystals].reshape(2, -1).astype(np.float32), rtol=2e-5, atol=1e-6)
    # between nodes: trilinear in log(1 + rho), periodic (points past 1 wrap)
    p = rng.random((2, 40, 3)).astype(np.float32) * 2 - 0.5
    got = interpolate_log1p(grids, crystals, p)
    for b, c in enumerate(crystals):
        ref = np.expm1(trilinear_periodic(np.log1p(grids[c].astype(np.float64)), p[b].astype(np.float64)))
        assert np.allclose(got[b], ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["full", "no_ratios", "none"])
def test_composition_modes_match_the_item_path(mode):
    comp = np.zeros((3, 118), dtype=np.float32)
    comp[0, [10, 16]] = 0.5
    comp[1, 25] = 1.0
    comp[2, [0, 7, 8]] = [0.2, 0.3, 0.5]
    got = composition_in_mode(comp, mode)
    for i in range(3):
        assert np.array_equal(got[i], apply_composition_mode(comp[i], mode))


def test_drop_element_is_uniform_over_present_elements():
    comp = np.zeros((6000, 118), dtype=np.float32)
    comp[:, [2, 7, 40]] = 1 / 3
    comp[0] = 0
    comp[0, 5] = 1.0  # a single element is never dropped
    u = np.random.default_rng(2).random(6000)
    out = composition_in_mode(comp, "drop_element", u)
    assert np.array_equal(out[0], (comp[0] > 0).astype(np.float32))
    dropped = np.argmax((comp[1:] > 0) & (out[1:] == 0), axis=1)
    assert np.all(out[1:].sum(1) == 2)
    counts = np.array([np.sum(dropped == z) for z in (2, 7, 40)])
    assert stats.chisquare(counts).pvalue > 1e-3
    with pytest.raises(ValueError, match="uniform"):
        composition_in_mode(comp, "drop_element")


def test_bank_holds_the_iam_grids_and_is_cached(eval_export, tmp_path):
    data = load_export(eval_export).subset("train")
    bank = density_bank(data, 12, cache_dir=tmp_path)
    assert bank.shape == (len(data), 12, 12, 12) and bank.dtype == np.float16
    for i in range(len(data)):
        assert np.allclose(bank[i], data.iam_grid(i, 12), rtol=1e-3, atol=1e-4)
    files = list(tmp_path.glob("density-bank-n12-*.npy"))
    assert len(files) == 1
    marked = np.load(files[0], mmap_mode="r+")
    marked[0, 0, 0, 0] = 123.0  # a value only the cache holds: read back, not recomputed
    marked.flush()
    del marked
    again = density_bank(data, 12, cache_dir=tmp_path)
    assert again[0, 0, 0, 0] == 123.0 and np.array_equal(again[1:], bank[1:])
    # another crystal set or size has another key (no stale cache)
    assert bank_key(data, 12) != bank_key(data, 16)
    assert bank_key(data, 12) != bank_key(data.take([0, 1]), 12)
    assert np.allclose(cell_volumes(data), np.abs(np.linalg.det(data.lattice)))
    assert cell_electrons(data)[0] == sum(data.atoms(0)[1])
    with pytest.raises(ValueError, match="at least 2"):
        density_bank(data, 1)


def test_interpolated_training_densities_are_close_to_the_exact_iam(eval_export):
    data = load_export(eval_export)
    banked = BankedCrystals(data, grid_n=48, points_per_axis=6)
    rng = np.random.default_rng(3)
    errors = []
    for i in range(len(banked)):
        u = rng.random((1, 216, 3), dtype=np.float32)
        batch = banked.batch([i], u)
        exact = data.iam_density(i, batch["points"][0].double().numpy())
        errors.append(np.abs(np.log1p(batch["density"][0].double().numpy()) - np.log1p(exact)).mean())
    # measured about 0.004 on cubic and trigonal Materials Project crystals; the L1 loss is ~0.2
    assert np.mean(errors) < 0.01, errors


def test_items_and_batches_follow_the_trainer_contract(eval_export):
    data = load_export(eval_export).subset("train")
    banked = BankedCrystals(data, grid_n=12, points_per_axis=3, composition_mode="no_ratios", seed=5)
    item = banked[1]
    assert item["xrd"].shape == (1024,) and item["composition"].shape == (118,)
    assert item["points"].shape == (27, 3) and item["density"].shape == (27,) and item["index"] == 1
    assert torch.equal(item["composition"], torch.from_numpy((data.composition[1] > 0).astype(np.float32)))
    assert torch.equal(banked[1]["points"], item["points"])  # reproducible within an epoch
    banked.set_epoch(1)
    assert not torch.equal(banked[1]["points"], item["points"])  # new points each epoch
    batch = banked.batch(torch.tensor([0, 2]), torch.rand(2, 27, 3))
    assert batch["xrd"].dtype == torch.float32 and batch["density"].shape == (2, 27)
    assert torch.all(batch["density"] >= 0)

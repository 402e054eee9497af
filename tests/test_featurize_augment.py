"""Augmentations (featurize/augment.py): exact shifts, noise statistics, broadening, truncation."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.featurize.augment import (
    add_noise,
    augment_xrd,
    broaden_peaks,
    max_shift_bins,
    shift_pattern,
    truncate_two_theta,
)
from pymatgen_crystalnet.featurize.xrd_vector import BIN_WIDTH, N_BINS


def _delta(at: int, n: int = N_BINS, batch: tuple[int, ...] = ()) -> np.ndarray:
    v = np.zeros((*batch, n), dtype=np.float32)
    v[..., at] = 1.0
    return v


def test_add_noise_statistics():
    x = np.zeros((200, N_BINS), dtype=np.float32)
    out = add_noise(x, 0.001, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == x.shape and out.min() == 0.0
    # ReLU of N(0, σ²): half the entries are 0, the rest average σ·√(2/π).
    assert np.mean(out == 0) == pytest.approx(0.5, abs=0.005)
    assert out[out > 0].mean() == pytest.approx(0.001 * np.sqrt(2 / np.pi), rel=0.01)
    ones = add_noise(np.ones((200, N_BINS)), 0.001, 1)
    assert ones.mean() == pytest.approx(1.0, abs=1e-5)
    assert ones.std() == pytest.approx(0.001, rel=0.01)
    assert not np.any(x)  # input untouched


def test_add_noise_reproducible():
    x = np.random.default_rng(3).random((4, 118))
    a = add_noise(x, rng=np.random.default_rng(7))
    b = add_noise(x, rng=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, add_noise(x, rng=8))
    assert np.array_equal(add_noise(x, 0.0, 1), x)
    with pytest.raises(ValueError, match="sigma"):
        add_noise(x, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        add_noise([np.nan, 1.0])


def test_max_shift_bins():
    assert BIN_WIDTH == 180 / 1024
    assert max_shift_bins(0.6) == 3  # 0.6 / 0.17578 = 3.41
    assert max_shift_bins(3 * BIN_WIDTH) == 3
    assert max_shift_bins(0.1) == 0
    with pytest.raises(ValueError):
        max_shift_bins(-1)


def test_shift_exact():
    v = _delta(500)
    assert np.argmax(shift_pattern(v, shifts=2)) == 502
    assert np.argmax(shift_pattern(v, shifts=-3)) == 497
    edge = np.zeros(N_BINS)
    edge[:5] = [1, 2, 3, 4, 5]
    right = shift_pattern(edge, shifts=3)
    assert right[:8].tolist() == [0, 0, 0, 1, 2, 3, 4, 5]
    left = shift_pattern(edge, shifts=-2)
    assert left[:4].tolist() == [3, 4, 5, 0]
    top = np.zeros(N_BINS)
    top[-1] = 1.0
    assert not np.any(shift_pattern(top, shifts=1))  # shifted off the axis
    assert edge[:5].tolist() == [1, 2, 3, 4, 5]  # input untouched


def test_shift_random_per_sample():
    batch = _delta(500, batch=(7000,))
    out, k = shift_pattern(batch, 0.6, np.random.default_rng(0), return_shifts=True)
    assert out.dtype == np.float32 and k.shape == (7000,)
    assert np.array_equal(np.argmax(out, axis=-1), 500 + k)
    assert k.min() == -3 and k.max() == 3
    counts = np.bincount(k + 3, minlength=7) / k.size
    assert np.allclose(counts, 1 / 7, atol=0.015)
    # Leading dims of any rank; same generator state → same shifts.
    cube = _delta(100, batch=(3, 4))
    a, ka = shift_pattern(cube, rng=5, return_shifts=True)
    b, kb = shift_pattern(cube, rng=5, return_shifts=True)
    assert ka.shape == (3, 4) and np.array_equal(a, b) and np.array_equal(ka, kb)
    with pytest.raises(ValueError, match="integers"):
        shift_pattern(cube, shifts=0.5)


def test_augment_xrd_is_shift_then_noise():
    v = _delta(300, batch=(16,))
    out = augment_xrd(v, np.random.default_rng(11))
    gen = np.random.default_rng(11)
    expected = add_noise(shift_pattern(v, 0.6, gen), 0.001, gen)
    assert np.array_equal(out, expected)
    assert np.all(np.abs(np.argmax(out, axis=-1) - 300) <= 3)
    assert out.min() >= 0


def test_broaden_peaks_width_and_norm():
    width_bins = 10
    v = _delta(512)
    out = broaden_peaks(v, width_bins * BIN_WIDTH)
    assert out.max() == pytest.approx(1.0) and np.argmax(out) == 512
    # FWHM of 10 bins: the half-maximum points lie 5 bins either side of the centre.
    g = np.exp(-0.5 * (np.arange(-8, 9) / (width_bins / 2.354820045)) ** 2)
    assert np.allclose(out[504:521], g, atol=2e-3)
    # Without renormalising the area is kept.
    raw = broaden_peaks(v, width_bins * BIN_WIDTH, renormalise=False)
    assert raw.sum() == pytest.approx(1.0, rel=1e-6)
    assert raw.max() == pytest.approx(1 / (np.sqrt(2 * np.pi) * width_bins / 2.354820045), rel=1e-3)
    # No wrap-around: a peak at the first bin does not leak into the last ones.
    assert broaden_peaks(_delta(0), 1.0)[-20:].max() == 0.0
    # Zero width leaves the pattern as it is.
    assert np.allclose(broaden_peaks(v, 0.0), v)


def test_broaden_peaks_per_sample_range():
    batch = _delta(512, batch=(50,))
    out = broaden_peaks(batch, (0.2, 2.0), np.random.default_rng(0))
    widths = (out >= 0.5).sum(axis=-1)
    assert widths.min() >= 1 and widths.max() <= 2.0 / BIN_WIDTH + 1
    assert np.unique(widths).size > 5  # widths differ between samples
    assert np.allclose(out.max(axis=-1), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        broaden_peaks(batch, -0.1)


def test_truncate_two_theta():
    v = np.ones(N_BINS, dtype=np.float32)
    out = truncate_two_theta(v, 90.0)
    assert out[:513].min() == 1.0 and not np.any(out[513:])  # bin_index(90°) = 512
    lo = truncate_two_theta(v, 90.0, two_theta_min=10.0)
    assert not np.any(lo[:56]) and lo[56] == 1.0  # bin_index(10°) = 56
    # The strongest peak cut away: the rest is rescaled to max 1.
    w = np.zeros(N_BINS)
    w[100], w[800] = 0.4, 1.0
    t = truncate_two_theta(w, 120.0)
    assert t[100] == pytest.approx(1.0) and t[800] == 0.0
    assert truncate_two_theta(w, 120.0, renormalise=False)[100] == pytest.approx(0.4)
    # Per sample limits.
    batch = np.ones((3, N_BINS))
    per = truncate_two_theta(batch, [30.0, 60.0, 180.0])
    assert (per > 0).sum(axis=-1).tolist() == [171, 342, 1024]
    rand = truncate_two_theta(batch, (40.0, 50.0), np.random.default_rng(0))
    assert np.all(((rand > 0).sum(axis=-1) >= 228) & ((rand > 0).sum(axis=-1) <= 285))
    with pytest.raises(ValueError, match="2θ limits"):
        truncate_two_theta(v, 200.0)
    with pytest.raises(ValueError, match="1024-bin"):
        truncate_two_theta(np.ones(10), 90.0)

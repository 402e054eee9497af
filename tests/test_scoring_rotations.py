"""The 24 proper rotations of the cubic grid and their gather-index tables."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from pymatgen_crystalnet.scoring.rotations import rotations, turn_index, turn_many


def test_24_distinct_proper_rotations_forming_a_group():
    rots = rotations()
    assert len(rots) == 24
    mats = [r.matrix for r in rots]
    assert np.array_equal(mats[0], np.eye(3, dtype=int))
    assert all(round(np.linalg.det(m)) == 1 for m in mats)  # proper
    keys = {m.tobytes() for m in mats}
    assert len(keys) == 24  # distinct
    assert all((a @ b).tobytes() in keys for a in mats for b in mats)  # closed: the group O
    x = torch.rand(5, 5, 5)
    turned = {tuple(r.apply(x).flatten().tolist()) for r in rots}
    assert len(turned) == 24
    mirrored = {tuple(r.apply(torch.flip(x, (0,))).flatten().tolist()) for r in rots}
    assert not turned & mirrored  # no reflection among them


def test_rotation_matrix_describes_the_grid_action():
    n = 6
    g = np.arange(n**3).reshape(n, n, n)
    centre = (n - 1) / 2
    for rot in rotations():
        out = rot.apply(g)
        assert isinstance(out, np.ndarray)
        np.testing.assert_array_equal(rot.apply(torch.from_numpy(g)).numpy(), out)
        for v in itertools.product(range(n), repeat=3):
            u = rot.matrix @ (np.array(v) - centre) + centre
            assert out[tuple(np.rint(u).astype(int))] == g[v]
        np.testing.assert_array_equal(rot.inverse().apply(out), g)


def test_index_tables_turn_grids_as_the_rotations_do():
    rng = np.random.default_rng(5)
    grids = torch.from_numpy(rng.random((2, 5, 5, 5)))
    which = (0, 7, 13, 23)
    turned = turn_many(grids, turn_index(5, which, 0, "cpu"))
    assert turned.shape == (4, 2, 5, 5, 5)
    for j, r in enumerate(which):
        assert torch.equal(turned[j], rotations()[r].apply(grids))
    every = turn_many(grids, turn_index(5, tuple(range(24)), 0, "cpu"))
    assert all(torch.equal(every[r], rot.apply(grids)) for r, rot in enumerate(rotations()))

"""What a model must beat: the control's pairing, the flat map and the other crystal's truth."""

from __future__ import annotations

import numpy as np
import torch

from pymatgen_crystalnet.evaluation.baselines import control_partners, flat_map, other_crystal_grid
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.scoring.density_metrics import grid_scores


def test_control_partners_pair_within_the_system_never_with_itself():
    systems = ["cubic"] * 7 + ["trigonal"] * 4 + ["hexagonal"] + ["cubic"] * 2
    partners = control_partners(systems, seed=3)
    assert partners[11] == -1  # alone in its system
    for i, p in enumerate(partners):
        if i == 11:
            continue
        assert p != i and systems[p] == systems[i]
    used = partners[partners >= 0]
    assert sorted(used.tolist()) == sorted(i for i in range(len(systems)) if i != 11)  # each once
    assert np.array_equal(partners, control_partners(systems, seed=3))  # deterministic
    assert not np.array_equal(partners, control_partners(systems, seed=4))
    # a system's pairing does not depend on the other systems
    only_trigonal = control_partners(["trigonal"] * 4, seed=3)
    assert np.array_equal(partners[7:11] - 7, only_trigonal)
    assert control_partners(["cubic", "cubic"])[0] == 1


def test_baselines_on_real_iam_grids_behave_as_the_design_says(mp_sample):
    """A flat map reaches a high SSIM but has CC = 0; another crystal's truth too."""
    rows = [r for r in mp_sample if r["crystal_system"] in ("cubic", "trigonal")]
    assert len(rows) == 6
    truth = torch.from_numpy(np.stack([iam_density_grid(canonical_cell(r["structure"]), 50) for r in rows]))
    flat = grid_scores(flat_map(truth), truth)
    assert flat["ssim"].mean().item() > 0.85  # the paper's headline range from a flat map
    assert torch.all(flat["cc"] == 0)
    assert torch.all(flat["nmae"] > 1.0)
    systems = [r["crystal_system"] for r in rows]
    partners = control_partners(systems)
    other = torch.from_numpy(np.stack([other_crystal_grid(truth[p].numpy(), 50) for p in partners]))
    scores = grid_scores(other, truth)  # as it is (the protocol's rotation search can only add)
    assert scores["ssim"].mean().item() > 0.7
    assert torch.all(scores["cc"] < 0.95)
    exact = grid_scores(truth, truth)  # the truth itself
    assert torch.allclose(exact["cc"], torch.ones(6, dtype=torch.float64))
    assert torch.all(exact["ssim"] > scores["ssim"]) and torch.all(exact["cc"] > scores["cc"])


def test_other_crystal_grid_is_taken_fractional_to_fractional():
    rng = np.random.default_rng(0)
    g = rng.random((8, 8, 8))
    assert other_crystal_grid(g, 8) is not None and np.array_equal(other_crystal_grid(g, 8), g)
    down = other_crystal_grid(g, 4)  # points i/4 = 2i/8: the grid's own values
    np.testing.assert_allclose(down, g[::2, ::2, ::2], atol=1e-12)

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.physics.form_factors import coefficient_table
from pymatgen_crystalnet.physics.iam import (
    build_plan,
    electron_count,
    evaluate_plan,
    iam_density,
    iam_density_direct,
    iam_density_from_arrays,
    iam_density_grid,
    iam_grid_from_arrays,
    structure_arrays,
)
from pymatgen_crystalnet.physics.iam_torch import (
    evaluate_plans_torch,
    iam_density_torch,
    stack_plans,
)


def grid_points(n):
    axis = np.arange(n) / n
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)


@pytest.fixture(scope="module")
def oblique():
    """A very oblique triclinic cell with a heavy, a light and a wide-form-factor atom."""
    lattice = Lattice.from_parameters(3.1, 4.2, 8.9, 40.0, 110.0, 75.0)
    return Structure(lattice, ["Cs", "O", "H"], [[0.1, 0.0, 0.0], [0.3, 0.2, 0.1], [0.5, 0.7, 0.9]])


def test_electron_count_analytic(nacl):
    _, _, zs, occ = structure_arrays(nacl)
    assert electron_count(zs, occ) == pytest.approx(4 * 28, rel=1e-3)


def test_grid_integrates_to_electrons(nacl):
    # the mean of a fine periodic grid is the cell integral (spectrally accurate here)
    grid = iam_density_grid(nacl, 64)
    assert grid.mean() * nacl.volume == pytest.approx(4 * 28, rel=1e-3)
    assert grid.mean() * nacl.volume == pytest.approx(
        electron_count(*structure_arrays(nacl)[2:]), rel=1e-6
    )


def test_points_match_direct_sum_on_oblique_cell(oblique):
    pts = np.random.default_rng(0).random((400, 3)) * 3 - 1  # also outside the cell
    fast = iam_density(oblique, pts)
    direct = iam_density_direct(oblique, pts)
    assert np.all(direct > 0)
    np.testing.assert_allclose(fast, direct, rtol=1e-6, atol=1e-9 * direct.max())
    # periodicity
    np.testing.assert_allclose(iam_density(oblique, pts + np.array([1, -2, 3])), fast, rtol=1e-9)


def test_density_peaks_at_nucleus_and_is_symmetric(nacl):
    rho = iam_density(nacl, np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]]))
    assert rho[1] > rho[0] > rho[2] > 0  # Cl (17 e) sharper and higher than Na (11 e)
    # a mirror of the cubic cell leaves the density unchanged
    pts = np.random.default_rng(1).random((50, 3))
    np.testing.assert_allclose(iam_density(nacl, pts), iam_density(nacl, 1 - pts), rtol=1e-9)


def test_grid_matches_points_and_direct(oblique, mp_sample):
    n = 20
    pts = grid_points(n)
    for structure in [oblique, mp_sample[0]["structure"], mp_sample[-1]["structure"]]:
        grid = iam_density_grid(structure, n)
        direct = iam_density_direct(structure, pts)
        assert np.abs(grid - direct).max() <= 1e-6 * direct.max()
    grid = iam_density_grid(oblique, (12, 16, 30))
    assert grid.shape == (12, 16, 30)
    axes = [np.arange(m) / m for m in grid.shape]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    np.testing.assert_allclose(grid, iam_density(oblique, pts), rtol=1e-6, atol=1e-9)


def test_split_width_does_not_change_values(oblique):
    lat, frac, zs, _ = structure_arrays(oblique)
    pts = np.random.default_rng(2).random((100, 3))
    ref = evaluate_plan(build_plan(lat, frac, zs, split_width=np.inf), pts)
    for width in (2.0, 12.0, 40.0, 1e-3):
        got = evaluate_plan(build_plan(lat, frac, zs, split_width=width), pts)
        np.testing.assert_allclose(got, ref, rtol=1e-7)


def test_occupancy_and_b_factor(nacl):
    lat, frac, zs, _ = structure_arrays(nacl)
    pts = np.random.default_rng(3).random((30, 3))
    half = iam_density_from_arrays(lat, frac, zs, pts, occupancies=np.full(len(zs), 0.5))
    full = iam_density_from_arrays(lat, frac, zs, pts)
    np.testing.assert_allclose(half, full / 2, rtol=1e-9)
    # a larger B smears the nucleus: lower peak
    peak_b1 = iam_density_from_arrays(lat, frac, zs, frac[:1], b_factor=1.0)
    peak_b3 = iam_density_from_arrays(lat, frac, zs, frac[:1], b_factor=3.0)
    assert peak_b3[0] < 0.5 * peak_b1[0]


def test_explicit_coefficient_table_gives_same_numbers(nacl):
    lat, frac, zs, _ = structure_arrays(nacl)
    pts = np.random.default_rng(4).random((20, 3))
    table = np.array(coefficient_table())
    np.testing.assert_allclose(
        iam_density_from_arrays(lat, frac, zs, pts, coefficients=table),
        iam_density_from_arrays(lat, frac, zs, pts),
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"b_factor": 0.0}, "positive Debye"),
        ({"b_factor": float("nan")}, "positive Debye"),
        ({"atomic_numbers": [99]}, "No X-ray form factor"),
        ({"atomic_numbers": [0]}, "No X-ray form factor"),
        ({"lattice": np.zeros((3, 3))}, "singular"),
        ({"frac_coords": [[np.nan, 0, 0]]}, "NaN"),
        ({"atomic_numbers": [1, 1]}, "atomic numbers"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = {"lattice": np.eye(3) * 4, "frac_coords": [[0, 0, 0]], "atomic_numbers": [8]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        iam_density_from_arrays(
            args.pop("lattice"),
            args.pop("frac_coords"),
            args.pop("atomic_numbers"),
            [[0, 0, 0]],
            **args,
        )


def test_grid_bad_size(nacl):
    with pytest.raises(ValueError, match="Grid size"):
        iam_density_grid(nacl, 0)


def test_torch_matches_numpy_batched(nacl, oblique):
    structures = [nacl, oblique]
    pts = np.random.default_rng(5).random((2, 250, 3))
    ref = np.stack([iam_density(s, pts[i]) for i, s in enumerate(structures)])
    n_atoms = max(len(s) for s in structures)
    lat = torch.tensor(np.stack([s.lattice.matrix for s in structures]))
    frac = torch.zeros(2, n_atoms, 3, dtype=torch.float64)
    zs = torch.zeros(2, n_atoms, dtype=torch.long)
    for i, s in enumerate(structures):
        frac[i, : len(s)] = torch.tensor(s.frac_coords)
        zs[i, : len(s)] = torch.tensor([site.specie.Z for site in s])
    out64 = iam_density_torch(lat, frac, zs, torch.tensor(pts)).numpy()
    np.testing.assert_allclose(out64, ref, rtol=1e-10)
    out32 = iam_density_torch(lat, frac, zs, torch.tensor(pts, dtype=torch.float32))
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), ref, rtol=2e-4, atol=1e-5 * ref.max())


def test_torch_plan_batch_reuse(oblique):
    plan = build_plan(*structure_arrays(oblique)[:3])
    batch = stack_plans([plan, plan], dtype=torch.float64)
    pts = torch.rand(2, 64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = evaluate_plans_torch(batch, pts)
    np.testing.assert_allclose(out[1].numpy(), evaluate_plan(plan, pts[1].numpy()), rtol=1e-10)
    with pytest.raises(ValueError, match="shape"):
        evaluate_plans_torch(batch, pts[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_on_gpu(oblique):
    plan = build_plan(*structure_arrays(oblique)[:3])
    pts = torch.rand(1, 500, 3, dtype=torch.float64)
    out = evaluate_plans_torch(stack_plans([plan], dtype=torch.float64, device="cuda"), pts.cuda())
    np.testing.assert_allclose(out.cpu().numpy()[0], evaluate_plan(plan, pts[0].numpy()), rtol=1e-9)


def test_grid_from_arrays_matches_structure_path(oblique):
    lat, frac, zs, occ = structure_arrays(oblique)
    np.testing.assert_allclose(
        iam_grid_from_arrays(lat, frac, zs, 10, occupancies=occ), iam_density_grid(oblique, 10)
    )

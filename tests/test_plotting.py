"""The pictures: Rietveld-style pattern panels and density slices drawn in the cell's metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

pytest.importorskip("matplotlib")

from pymatgen_crystalnet.physics.agreement import simulate_profile
from pymatgen_crystalnet.plotting import (
    plot_density_slices,
    plot_density_views,
    plot_rietveld,
    save_figure,
    solve_figure,
)
from pymatgen_crystalnet.plotting._figure import new_figure
from pymatgen_crystalnet.plotting.density import plane_basis
from pymatgen_crystalnet.plotting.rietveld import estimate_fwhm, looks_like_sticks

EXAMPLE = Path(__file__).parents[1] / "src" / "pymatgen_crystalnet" / "examples" / "BaO_MoKa.xy"


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v))))


def _mesh_edges(mesh) -> tuple[np.ndarray, np.ndarray]:
    """The two edge vectors of the drawn map, from its first corner (Å)."""
    corners = mesh.get_coordinates()  # (M + 1, N + 1, 2)
    return corners[-1, 0] - corners[0, 0], corners[0, -1] - corners[0, 0]


@pytest.mark.parametrize(
    ("lattice", "angles"),
    [
        (Lattice.from_parameters(4.0, 4.0, 4.0, 60, 60, 60), (60, 60, 60)),  # fcc primitive
        (Lattice.hexagonal(4.5, 8.0), (90, 90, 120)),  # trigonal/hexagonal axes
        (Lattice.cubic(5.0), (90, 90, 90)),
    ],
)
def test_slices_are_drawn_in_the_cells_metric(lattice, angles):
    fig = new_figure(10, 3)
    axes = fig.subplots(1, 4)
    grid = np.random.default_rng(0).random((10, 12, 14)) + 0.1
    plot_density_slices(axes, grid, lattice)
    # slices ⊥ a, b, c span (b, c), (a, c), (a, b): angles α, β, γ; the projection is in (a, b)
    expected = [angles[0], angles[1], angles[2], angles[2]]
    lengths = [(lattice.b, lattice.c), (lattice.a, lattice.c), (lattice.a, lattice.b), (lattice.a, lattice.b)]
    for ax, want, (len_p, len_q) in zip(axes, expected, lengths):
        mesh = ax.collections[0]
        e_p, e_q = _mesh_edges(mesh)
        assert _angle(e_p, e_q) == pytest.approx(want, abs=1e-6)
        # n pixels, each centred on a grid point: the map spans one cell length per axis
        assert np.linalg.norm(e_p) == pytest.approx(len_p, rel=1e-9)
        assert np.linalg.norm(e_q) == pytest.approx(len_q, rel=1e-9)
        assert "Å" in ax.get_xlabel() and "Å" in ax.get_ylabel()
        assert ax.get_aspect() == 1.0
    assert axes[0].get_title() == "slice a = 0.50" and axes[3].get_title() == "mean along c"


def test_slice_values_and_plane_basis():
    lattice = Lattice.from_parameters(3.0, 4.0, 5.0, 70, 80, 100)
    e_p, e_q = plane_basis(lattice, 0, 1)
    assert e_p == pytest.approx([3.0, 0.0])
    assert np.linalg.norm(e_q) == pytest.approx(4.0) and _angle(e_p, e_q) == pytest.approx(100.0)
    grid = np.arange(4 * 5 * 6, dtype=float).reshape(4, 5, 6) + 1
    fig = new_figure(8, 3)
    axes = fig.subplots(1, 3)
    plot_density_slices(axes, grid, lattice, position=0.25, norm=None)
    # the slice ⊥ b at b = 0.25 is grid[:, round(0.25·5) = 1, :], drawn unchanged
    assert np.array_equal(np.asarray(axes[1].collections[0].get_array()).reshape(4, 6), grid[:, 1, :])


def test_slices_refuse_bad_input():
    fig = new_figure(8, 3)
    axes = fig.subplots(1, 4)
    with pytest.raises(ValueError, match="3D grid"):
        plot_density_slices(axes, np.ones((4, 4)), Lattice.cubic(3))
    with pytest.raises(ValueError, match="three or four axes"):
        plot_density_slices(axes[:2], np.ones((4, 4, 4)), Lattice.cubic(3))
    with pytest.raises(ValueError, match="non-singular"):
        plot_density_slices(axes, np.ones((4, 4, 4)), np.zeros((3, 3)))


def test_density_views_without_lattice_are_fractional():
    fig = plot_density_views({"a": np.ones((6, 6, 6)), "b": np.full((6, 6, 6), 2.0)}, "t")
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert labels and all("fractional" in label for label in labels)


def _profile(tt, positions, heights, fwhm=0.1, background=50.0):
    return background + simulate_profile(positions, heights, tt, fwhm=fwhm)


def _line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert found, f"no line labelled {label!r} in {[ln.get_label() for ln in ax.get_lines()]}"
    return found[0]


def test_rietveld_profile_difference_and_ticks():
    tt = np.arange(10, 60, 0.01)
    obs = _profile(tt, [20, 30, 41], [1000, 500, 250])
    calc = _profile(tt, [20, 30, 41], [900, 550, 250])
    fig = new_figure(8, 4)
    ax = fig.subplots()
    plot_rietveld(
        ax, observed_x=tt, observed_y=obs, calculated_x=tt, calculated_y=calc, sticks_x=[20, 30, 41],
        shade=[(50, 60)],
    )  # fmt: skip
    measured = _line(ax, "measured")
    assert np.array_equal(measured.get_ydata(), obs)  # the profile as measured, every point
    diff = _line(ax, "difference")
    offset = diff.get_ydata() - (obs - calc)
    assert np.ptp(offset) < 1e-9 and offset[0] < 0  # obs − calc, offset below the patterns
    ticks = _line(ax, "reflections")
    assert list(ticks.get_xdata()) == [20, 30, 41]
    assert "2θ" in ax.get_xlabel() and ax.get_ylabel() == "intensity"
    assert ax.get_xlim() == (10.0, tt.max())


def test_rietveld_sticks_rendered_on_the_profile():
    tt = np.arange(10, 60, 0.01)
    obs = _profile(tt, [20, 30], [1000, 500], fwhm=0.2, background=0.0)
    assert estimate_fwhm(tt, obs) == pytest.approx(0.2, rel=0.05)
    fig = new_figure(8, 4)
    ax = fig.subplots()
    plot_rietveld(ax, observed_x=tt, observed_y=obs, calculated_x=[20, 30], calculated_y=[1000, 500])
    calc = _line(ax, "calculated")
    assert calc.get_xdata().size == tt.size and calc.get_ydata().max() == pytest.approx(1000, rel=1e-3)
    diff = _line(ax, "difference").get_ydata()
    assert np.ptp(diff) < 0.01 * 1000  # matched sticks leave a flat difference
    assert list(_line(ax, "reflections").get_xdata()) == [20, 30]


def test_rietveld_sticks_against_sticks():
    x = np.linspace(0, 180, 1024)
    obs = np.zeros(1024)
    calc = np.zeros(1024)
    obs[[100, 200]] = [1.0, 0.5]
    calc[[100, 200, 300]] = [0.8, 0.5, 0.1]
    assert looks_like_sticks(x, obs) and not looks_like_sticks(np.arange(100.0), np.ones(100))
    fig = new_figure(8, 4)
    ax = fig.subplots()
    plot_rietveld(ax, observed_x=x, observed_y=obs, calculated_x=x, calculated_y=calc)
    diff = next(c for c in ax.collections if c.get_label() == "difference")
    heights = sorted(float(seg[1, 1] - seg[0, 1]) for seg in diff.get_segments())
    assert heights == pytest.approx([-0.1, 0.2])  # bin 200 matches; 100 and 300 differ


def test_rietveld_refuses_bad_arrays():
    ax = new_figure(4, 3).subplots()
    with pytest.raises(ValueError, match="differ in length"):
        plot_rietveld(ax, observed_x=[1, 2], observed_y=[1], calculated_x=[1], calculated_y=[1])
    with pytest.raises(ValueError, match="NaN"):
        plot_rietveld(ax, observed_x=[1, 2], observed_y=[1, np.nan], calculated_x=[1], calculated_y=[1])


@pytest.fixture(scope="module")
def bao_solution():
    from pymatgen_crystalnet.io.patterns import read_profile
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver

    profile = read_profile(EXAMPLE, wavelength="MoKa")
    solver = CrystalNetSolver.from_pretrained(device="cpu")
    return profile, solver.solve(profile, "BaO", n_candidates=2, grid=12, seed=0, structures=False)


def test_solve_figure_draws_the_measured_profile(bao_solution, tmp_path):
    profile, result = bao_solution
    fig = solve_figure(result, max_candidates=2, profile=profile)
    pattern_axes = [ax for ax in fig.axes if "cosine" in ax.get_title()]
    assert len(pattern_axes) == 2
    for ax in pattern_axes:
        measured = _line(ax, "measured")
        assert np.array_equal(measured.get_xdata(), profile.two_theta)  # the profile, not picked sticks
        assert _line(ax, "calculated (density)").get_xdata().size == profile.two_theta.size
        _line(ax, "difference")
        # the 12³ grid resolves 2θ up to about 53° at Mo Kα; beyond it is shaded
        assert any(p.get_label() == "not compared" for p in ax.patches)
    density_axes = [ax for ax in fig.axes if ax.get_xlabel().startswith("along")]
    assert len(density_axes) == 8
    e_p, e_q = _mesh_edges(density_axes[0].collections[0])
    assert _angle(e_p, e_q) == pytest.approx(60.0, abs=1e-6)  # the fcc primitive cell, not a square
    save_figure(fig, tmp_path / "solve.png")
    assert (tmp_path / "solve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_solve_figure_without_profile_and_with_structure(bao_solution):
    import copy

    profile, result = bao_solution
    fig = solve_figure(result, max_candidates=1)  # nothing but the model vector is known
    ax = next(ax for ax in fig.axes if "cosine" in ax.get_title())
    assert "Mo Kα" in ax.get_xlabel()
    assert [c for c in ax.collections if c.get_label() == "input (model vector)"]

    with_model = copy.copy(result)
    best = copy.copy(result.candidates[0])
    best.structure = Structure.from_spacegroup(  # an atomic model, as a structure solution gives
        "Fm-3m", Lattice.cubic(5.615), ["Ba", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    with_model.candidates = [best]
    with_model.profile = profile  # read from the result when not passed
    fig = solve_figure(with_model, max_candidates=1)
    ax = next(ax for ax in fig.axes if "cosine" in ax.get_title())
    model = _line(ax, "calculated (atomic model)")
    density = _line(ax, "calculated (density)")
    assert density.get_linestyle() == "--"
    measured = _line(ax, "measured").get_ydata()
    # the true structure fits the measured BaO profile better than the density does
    assert np.sum((measured - model.get_ydata()) ** 2) < np.sum((measured - density.get_ydata()) ** 2)


def test_crystalnet_solve_draws_the_profile_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import pymatgen_crystalnet.plotting as plotting
    from pymatgen_crystalnet.cli.solve import solve

    seen = {}
    original = plotting.solve_figure

    def spy(result, *args, **kwargs):
        fig = original(result, *args, **kwargs)
        seen["measured"] = [
            len(ln.get_xdata()) for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "measured"
        ]
        return fig

    monkeypatch.setattr(plotting, "solve_figure", spy)
    args = [str(EXAMPLE), "-c", "BaO", "-w", "MoKa", "-n", "2", "--grid", "12", "--device", "cpu",
            "-o", str(tmp_path / "out")]  # fmt: skip
    run = CliRunner().invoke(solve, args, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert seen["measured"] == [5701, 5701]  # every point of the file, in each candidate's panel
    assert (tmp_path / "out" / "solve.png").stat().st_size > 10_000

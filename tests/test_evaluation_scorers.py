"""One batch of crystals and the scorers of each method family."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymatgen_crystalnet.evaluation.batch import Batch, truth_grid
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate
from pymatgen_crystalnet.evaluation.scorers import (
    AblationScorer,
    BaselineScorer,
    ControlScorer,
    ModelScorer,
    Sampler,
    make_scorers,
)

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_batch_holds_truth_inputs_and_partners(eval_data):
    rows = np.array([0, 3, 5])
    batch = Batch.load(eval_data, rows, 8, CPU, np.array([4, -1, 0]), seed=7)
    assert batch.size == 3 and batch.truth.shape == (3, 8, 8, 8) and batch.truth.dtype == torch.float64
    np.testing.assert_allclose(batch.truth[1].numpy(), truth_grid(eval_data, 3, 8)[0])
    assert batch.paired.tolist() == [0, 2] and batch.partner_rows.tolist() == [4, 0]
    assert batch.patterns.shape == (3, eval_data.xrd.shape[1])
    own = torch.from_numpy(eval_data.xrd[4]).float()
    torch.testing.assert_close(batch.patterns_of(np.array([4]))[0], own)
    # a crystal's composition input does not depend on the batch it is in
    alone = Batch.load(eval_data, np.array([5]), 8, CPU, None, seed=7)
    for mode in ("full", "drop_element", "none"):
        assert torch.equal(batch.composition(mode)[2], alone.composition(mode)[0])
    assert alone.paired.size == 0 and alone.partner_rows.size == 0
    # put records floats for the crystals named
    batch.put("flat", {k: torch.tensor([1.0, 2.0]) for k in ("ssim", "psnr", "cc", "nmae")}, [0, 2])
    assert batch.scores[0]["flat"]["cc"] == 1.0 and batch.scores[2]["flat"]["nmae"] == 2.0
    assert "flat" not in batch.scores[1]
    rows_out = batch.crystal_rows(None)
    assert [r["control_partner"] for r in rows_out] == [str(eval_data.material_id[4]), None,
                                                          str(eval_data.material_id[0])]  # fmt: skip


def test_baseline_scorer_scores_every_crystal_flat_and_the_paired_ones_against_their_partner(eval_data):
    batch = Batch.load(eval_data, np.array([0, 1, 2]), 8, CPU, np.array([2, -1, 0]), seed=0)
    BaselineScorer(EvaluationConfig(grid=8, translation=True)).score(batch)
    assert all(s["flat"]["cc"] == 0.0 for s in batch.scores)
    assert [("other_crystal" in s, "other_crystal_translation" in s) for s in batch.scores] == [
        (True, True),
        (False, False),
        (True, True),
    ]
    # crystals 0 and 2 are each other's partner: the same pair of grids, scored both ways round
    a, b = batch.scores[0]["other_crystal"], batch.scores[2]["other_crystal"]
    assert a["cc"] == pytest.approx(b["cc"], abs=1e-12)


def test_sampler_draws_one_seeded_stream_per_family(eval_data, tiny_crystalnet):
    model = tiny_crystalnet(seed=3).eval()
    batch = Batch.load(eval_data, np.array([0, 1]), 8, CPU, None, seed=0)
    x, c = batch.patterns, batch.composition("full")
    one, two = Sampler(model, 8, 5, CPU), Sampler(model, 8, 5, CPU)
    first = one.sample(x, c, 2, "model")
    assert first.shape == (2, 2, 8, 8, 8)
    assert torch.equal(first, two.sample(x, c, 2, "model"))  # same seed, same draws
    assert not torch.equal(one.sample(x, c, 2, "model"), first)  # the stream moves on
    assert not torch.equal(two.sample(x, c, 2, "control"), first)  # another family, another stream
    assert torch.equal(one.means(x, c), one.means(x, c))  # the latent means: deterministic


def test_make_scorers_follows_the_config(tiny_crystalnet):
    sampler = Sampler(tiny_crystalnet(seed=0), 8, 0, CPU)
    kinds = [type(s) for s in make_scorers(EvaluationConfig(grid=8), sampler, "full")]
    assert kinds == [ModelScorer, ControlScorer, BaselineScorer, AblationScorer]
    lean = EvaluationConfig(grid=8, control=False, baselines=False, ablations=False)
    assert [type(s) for s in make_scorers(lean, sampler, "full")] == [ModelScorer]
    assert [type(s) for s in make_scorers(EvaluationConfig(grid=8), None, "full")] == [BaselineScorer]


def test_a_family_scores_the_same_whichever_other_families_run(eval_data, tiny_crystalnet):
    """Each family draws from its own generator: switching ablations and baselines off changes nothing."""
    model = tiny_crystalnet(seed=2)
    base = {"grid": 8, "samples": 2, "limit": 4, "batch_size": 2, "translation": False, "verification": False}
    full = evaluate(model, eval_data, EvaluationConfig(ablation_samples=2, **base), progress=False)
    lean = evaluate(
        model, eval_data, EvaluationConfig(ablations=False, baselines=False, **base), progress=False
    )
    for a, b in zip(full.crystals, lean.crystals):
        assert "ablation:full" in a["scores"] and "ablation:full" not in b["scores"]
        for method in ("model", "strict", "control"):
            if method in a["scores"]:
                assert a["scores"][method] == b["scores"][method], method
    assert any("control" in row["scores"] for row in full.crystals)


def test_record_electrons_counts_each_density_against_the_cells_atoms(eval_data):
    rows = np.array([0, 3])
    batch = Batch.load(eval_data, rows, 24, CPU, None, seed=0)
    truth = batch.truth
    samples = torch.stack([truth, 0.5 * truth, torch.zeros_like(truth)])  # (k=3, B, n, n, n)
    batch.record_electrons(samples, 2.0 * truth)
    for b, i in enumerate(rows):
        record = batch.electrons[b]
        start, stop = eval_data.atom_offsets[i], eval_data.atom_offsets[i + 1]
        assert record["expected"] == pytest.approx(float(np.sum(eval_data.atomic_numbers[start:stop])))
        # the IAM truth on 24³ holds the cell's electrons (a band-limited density: the grid mean is exact)
        assert record["truth"] == pytest.approx(1.0, abs=0.02)
        assert record["samples"] == pytest.approx([record["truth"], 0.5 * record["truth"], 0.0], abs=1e-4)
        assert record["strict"] == pytest.approx(2.0 * record["truth"], abs=1e-4)
    assert [r["electrons"] for r in batch.crystal_rows(None)] == batch.electrons


def test_evaluation_summary_reports_the_electrons_held(eval_data, tiny_crystalnet):
    parts = ("ablations", "translation", "control", "baselines", "verification", "examples")
    off = dict.fromkeys(parts, False)
    config = EvaluationConfig(split="all", grid=8, samples=2, batch_size=4, **off)
    result = evaluate(tiny_crystalnet(seed=2), eval_data, config, metadata={}, progress=False)
    rows = [r for r in result.crystals if r["crystal_system"] == "cubic"]
    samples = [v for r in rows for v in r["electrons"]["samples"]]
    table = result.as_dict()["summary"]["electrons"]["all"]["cubic"]
    assert table["n"] == len(rows) and table["samples"]["n"] == 2 * len(rows)
    assert table["samples"]["mean"] == pytest.approx(np.mean(samples))
    assert table["within_10"] == pytest.approx(np.mean([abs(v - 1) <= 0.1 for v in samples]))
    from pymatgen_crystalnet.evaluation.report import render_markdown

    assert "### Electrons held" in render_markdown(result.as_dict())


def test_formula_counts_take_z_from_the_volume_and_scaling_holds_them(eval_data):
    from pymatgen_crystalnet.data.density_bank import cell_electrons, cell_volumes

    rows = np.array([0, 3, 5])
    batch = Batch.load(eval_data, rows, 24, CPU, None, seed=0)
    z, counts = batch.formula_counts()
    content = cell_electrons(eval_data)[rows]
    # the fixture's crystals have their Z right from the cell volume: the counts are their atoms'
    np.testing.assert_allclose(counts, content, rtol=1e-9)
    assert (z >= 1).all()
    samples = torch.stack([batch.truth, 0.25 * batch.truth])
    held = batch.hold_formula_electrons(samples)
    volumes = cell_volumes(eval_data)[rows]
    means = held.double().mean(dim=(-3, -2, -1)).numpy()
    np.testing.assert_allclose(means * volumes, np.broadcast_to(counts, means.shape), rtol=1e-9)
    assert torch.allclose(held[0], held[1])  # a scale changes nothing else
    assert torch.equal(batch.hold_formula_electrons(torch.zeros_like(samples)), torch.zeros_like(samples))
    only = batch.hold_formula_electrons(samples[:, [1]], np.array([1]))
    assert only.double().mean().item() * volumes[1] == pytest.approx(counts[1])


def test_formula_mode_scales_the_model_and_control_but_not_the_map_cc(eval_data, tiny_crystalnet):
    model = tiny_crystalnet(seed=2)
    model.config.nonnegative = True  # a density, as every shipped model gives (the tiny one may dip below 0)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias.add_(1.0)  # random weights give densities near 0: lift them so that they hold electrons
    base = {"grid": 8, "samples": 2, "limit": 6, "batch_size": 3, "ablations": False, "baselines": False,
            "verification": False, "translation": False, "examples": False}  # fmt: skip
    raw = evaluate(model, eval_data, EvaluationConfig(**base), progress=False)
    held = evaluate(model, eval_data, EvaluationConfig(electrons="formula", **base), progress=False)
    changed = 0
    for a, b in zip(raw.crystals, held.crystals, strict=True):
        for method in ("model", "strict", "control"):
            if method in a["scores"]:
                assert b["scores"][method]["cc"] == pytest.approx(a["scores"][method]["cc"], abs=1e-5)
                changed += b["scores"][method]["nmae"] != pytest.approx(a["scores"][method]["nmae"])
        assert b["electrons"]["samples"] == a["electrons"]["samples"]  # as predicted, recorded beside
        assert "formula" not in a["electrons"]
        assert b["electrons"]["formula"]["samples"] == pytest.approx([1.0, 1.0], rel=1e-4)
    assert changed > 0
    table = held.as_dict()["summary"]["electrons"]["all"]
    assert all(v["formula"]["within_10"] == 1.0 for v in table.values())
    from pymatgen_crystalnet.evaluation.report import render_markdown

    assert "Scaled to the formula's electrons" in render_markdown(held.as_dict())
    with pytest.raises(ValueError, match="electrons must be one of predicted, formula"):
        EvaluationConfig(electrons="atoms")

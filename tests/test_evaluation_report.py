"""The report: JSON and Markdown written atomically; figures through the writer it is given."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate
from pymatgen_crystalnet.evaluation.report import render_markdown, write_report


def test_write_report_replaces_atomically(tmp_path, eval_data, tiny_crystalnet):
    model = tiny_crystalnet()
    config = EvaluationConfig(grid=8, samples=1, limit=2, ablations=False, verification=False, examples=False)
    result = evaluate(model, eval_data, config, metadata={}, progress=False)
    json_path, _ = write_report(result, tmp_path / "r")
    json_path.write_text("old")
    write_report(result.as_dict(), tmp_path / "r")
    assert json.loads(json_path.read_text())["format"] == "crystalnet-evaluation"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["evaluation.json", "evaluation.md"]


@pytest.fixture(scope="module")
def with_examples(eval_data, tiny_crystalnet):
    """An evaluation of the first crystals of both systems that keeps its examples."""
    config = EvaluationConfig(
        split="all", grid=8, samples=1, ablations=False, translation=False, verification=False
    )
    return evaluate(tiny_crystalnet(seed=4), eval_data, config, metadata={}, progress=False)


def test_figures_are_drawn_by_the_writer_given_and_none_without_one(tmp_path, with_examples):
    assert set(with_examples.examples) == {"cubic", "trigonal"}
    write_report(with_examples, tmp_path / "plain")  # no writer: no figures
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["evaluation.json", "evaluation.md"]
    assert "figures" not in json.loads((tmp_path / "plain" / "evaluation.json").read_text())

    calls = []

    def writer(example, path, title):
        calls.append((example.material_id, path.name, title))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"figure of " + example.material_id.encode())

    json_path, md_path = write_report(with_examples, tmp_path / "drawn", figure_writer=writer)
    figures = json.loads(json_path.read_text())["figures"]
    assert len(calls) == len(figures) == 4  # best and worst of each system
    for fig, (material_id, name, title) in zip(figures, calls):
        assert fig["material_id"] == material_id and fig["file"] == f"figures/{name}"
        assert fig["kind"] in title and fig["system"] in title
        assert (tmp_path / "drawn" / fig["file"]).read_bytes() == b"figure of " + material_id.encode()
    assert md_path.read_text() == render_markdown(json.loads(json_path.read_text()))
    assert "![cubic best" in md_path.read_text()


def test_plotting_writer_draws_a_png(tmp_path, with_examples):
    from pymatgen_crystalnet.plotting import write_density_example

    example = with_examples.examples["cubic"]["best"]
    write_density_example(example, tmp_path / "ex.png", "a title")
    assert (tmp_path / "ex.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_evaluation_layer_does_not_import_plotting():
    """Neither at import time nor inside any function (a lazy import would hide from the first check)."""
    import ast
    from pathlib import Path

    import pymatgen_crystalnet.evaluation as package

    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n.startswith(("pymatgen_crystalnet.plotting", "matplotlib")) for n in names), (
                f"{path.name} line {node.lineno} imports {names}"
            )
    code = (
        "import sys\n"
        "import pymatgen_crystalnet.evaluation.report, pymatgen_crystalnet.evaluation.protocol\n"
        "import pymatgen_crystalnet.evaluation.merge, pymatgen_crystalnet.evaluation.scorers\n"
        "bad = [m for m in sys.modules if m.startswith(('pymatgen_crystalnet.plotting', 'matplotlib'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

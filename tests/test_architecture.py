"""The house's layers: docs/architecture.md, the import contract and the size of modules agree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the check runs in CI on 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "pymatgen_crystalnet"
#: folders of the package that hold data files, not code
DATA_FOLDERS = {"pretrained", "examples", "__pycache__"}
#: a module longer than this must say at its top why it is kept whole
MAX_LINES = 400
KEPT_WHOLE = "Kept whole:"


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return contract["layers"]


def doc_layers() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```text\n# layers, top to bottom\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md must hold the layer list in a ```text block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def layer_names(layers: list[str]) -> set[str]:
    return {name.strip().strip("()") for layer in layers for name in layer.split("|")}


def lint_imports_command() -> list[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    return [str(exe)]


def test_architecture_doc_states_the_contract():
    assert doc_layers() == contract_layers()


def test_every_module_is_in_a_layer():
    top = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    top = {n for n in top if not n.startswith("__") and n not in DATA_FOLDERS and n != "py"}
    top.discard("py")  # py.typed
    missing = sorted(n for n in top if n not in layer_names(contract_layers()))
    assert not missing, f"modules outside the import contract: {missing}"


def test_docstring_names_the_layers():
    import pymatgen_crystalnet

    doc = pymatgen_crystalnet.__doc__ or ""
    for name in layer_names(contract_layers()):
        assert name in doc, f"the package docstring does not mention layer {name!r}"


def test_large_modules_say_why():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().splitlines()
        if len(lines) > MAX_LINES and KEPT_WHOLE not in "\n".join(lines[:30]):
            offenders.append(f"{path.relative_to(ROOT)} ({len(lines)} lines)")
    assert not offenders, f"modules over {MAX_LINES} lines without '{KEPT_WHOLE}' at the top: {offenders}"


def test_import_contract_holds():
    out = subprocess.run(lint_imports_command(), cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_import_contract_fails_on_an_upward_import(tmp_path):
    """A deliberate arrow from physics up to the CLI breaks the contract (the check can fail)."""
    copy = tmp_path / "src"
    skip = shutil.ignore_patterns("pretrained", "examples")
    shutil.copytree(PACKAGE, copy / "pymatgen_crystalnet", ignore=skip)
    (copy / "pymatgen_crystalnet" / "physics" / "upward.py").write_text(
        "from pymatgen_crystalnet.cli import main  # noqa: F401\n"
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    out = subprocess.run(lint_imports_command(), cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "pymatgen_crystalnet.physics.upward -> pymatgen_crystalnet.cli" in out.stdout


def test_architecture_doc_names_every_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py" or "pretrained" in path.parts:
            continue
        if f"`{path.stem}`" not in text:
            missing.append(str(path.relative_to(PACKAGE)))
    assert not missing, f"docs/architecture.md does not name: {sorted(missing)}"

"""Every code block of README.md and docs/*.md works as written.

The fenced blocks are extracted and checked in a scratch copy of the repository root (the
top-level entries linked, outputs written to the scratch folder; ``../shared`` linked beside it
where the development data are present), offline:

- ```python blocks run, in order, one namespace per document (a block may use the names an
  earlier block of its document defined); a workflow report a block makes must hold no failed
  job. Their ``from pymatgen_crystalnet… import …`` lines
  are also checked on their own, so a name imported from the wrong module fails even in a
  block that is not run.
- ```bash (and unlabelled) blocks: every ``crystalnet …`` and ``mrun …`` command is parsed by
  its click command (the sub-command and every option must exist; a missing input file fails
  unless it is written by a documented command: ``out/``, ``runs/``, ``exports/``, …). A
  block marked ``<!-- test: run -->`` just before it is run as well (exit status 0).

A block is kept from running only by a visible HTML comment just before it, with its reason:
``<!-- no-test: REASON -->`` (still compiled and import-checked) or ``<!-- slow-test: REASON -->``
(runs under ``-m slow``).

Two files that the docs make with hour-long commands (``stores/cubic_trigonal`` and
``exports/cubic_trigonal.npz``, from ``crystalnet data build`` over the whole corpus) are made
here as small stand-ins of the same format, from the 30-crystal corpus in ``tests/data``.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: folders that documented commands write; a parsed command may name a missing file there
OUTPUT_DIRS = ("out/", "runs/", "stores/", "exports/", "eval/", "/tmp/")
#: user files the docs name as examples of an option's value
USER_FILES = {"my.yaml", "my_launchpad.yaml", "gpu_worker.yaml", "cpu_worker.yaml"}
PLACEHOLDER = "PLACEHOLDER"

_FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(no-test|slow-test|test):\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    document: Path
    line: int
    lang: str
    code: str
    marker: str | None = None  # "no-test", "slow-test" or "run"
    reason: str = ""

    @property
    def id(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the marker comment before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start = i
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise AssertionError(f"{path}:{start + 1}: unclosed code fence")
        marker, reason = None, ""
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        if found := _MARKER.match(previous.strip()):
            kind, text = found.groups()
            marker, reason = ("run", "") if (kind, text) == ("test", "run") else (kind, text)
        blocks.append(Block(path, start + 1, fence.group(1).lower(), "\n".join(lines[start + 1 : end]),
                            marker, reason))  # fmt: skip
        i = end + 1
    return blocks


ALL_BLOCKS = [b for doc in DOCUMENTS for b in extract_blocks(doc)]
PYTHON = [b for b in ALL_BLOCKS if b.lang in ("python", "py")]
SHELL = [b for b in ALL_BLOCKS if b.lang in ("bash", "sh", "shell", "console", "")]


def _params(blocks: list[Block]) -> list:
    return [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.marker == "slow-test" else [])
            for b in blocks]  # fmt: skip


# ---------------------------------------------------------------- the scratch repository


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder that looks like the repository root: its entries linked, outputs local."""
    base = tmp_path_factory.mktemp("docs")
    root = base / "repo"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name.startswith(".") or entry.name in {"out", "runs", "stores", "exports", "eval"}:
            continue
        (root / entry.name).symlink_to(entry)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (base / "shared").symlink_to(shared)
    return root


def _stand_ins(root: Path, code: str) -> None:
    """Small stand-ins of the dataset that the docs build with an hour-long command."""
    if "cubic_trigonal" not in code or (root / "exports" / "cubic_trigonal.npz").is_file():
        return
    from pymatgen_crystalnet.data.config import BuildConfig
    from pymatgen_crystalnet.data.export import export_dataset
    from pymatgen_crystalnet.data.pipeline import build_dataset

    store = root / "stores" / "cubic_trigonal"
    build_dataset(REPO / "tests" / "data" / "mini_corpus.jsonl.gz", store, limit=8, progress=False,
                  config=BuildConfig(crystal_systems=["cubic", "trigonal"]))  # fmt: skip
    export_dataset(store, root / "exports" / "cubic_trigonal.npz")


@pytest.fixture
def in_workspace(workspace, monkeypatch) -> Iterator[Path]:
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("MP_API_KEY", "")  # offline: nothing may reach the Materials Project
    yield workspace


# ---------------------------------------------------------------- python blocks


def _check_imports(block: Block) -> None:
    """Every ``from pymatgen_crystalnet.X import a, b`` names something X holds."""
    tree = ast.parse(block.code, filename=block.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pymatgen_crystalnet"):
            module = importlib.import_module(node.module)  # type: ignore[arg-type]
            for alias in node.names:
                assert hasattr(module, alias.name), f"{block.id}: {node.module} has no {alias.name!r}"


_NAMESPACES: dict[Path, dict] = {}


@pytest.mark.parametrize("block", _params(PYTHON))
def test_python_block(block: Block, in_workspace):
    compile(block.code, block.id, "exec")
    if "../shared/" in block.code and not (in_workspace.parent / "shared").is_dir():
        pytest.skip(f"{block.id}: the development data ../shared/data are not present")
    _check_imports(block)
    if block.marker == "no-test":
        assert block.reason, f"{block.id}: a no-test marker needs its reason"
        pytest.skip(f"{block.id}: {block.reason}")
    if block.marker == "slow-test":
        assert block.reason, f"{block.id}: a slow-test marker needs its reason"
    _stand_ins(in_workspace, block.code)
    namespace = _NAMESPACES.setdefault(block.document, {"__name__": "__docs__"})
    exec(compile(block.code, block.id, "exec"), namespace)
    for name, value in namespace.items():  # a workflow report that the block made: no job failed
        if type(value).__name__ == "WorkflowReport":
            assert not value.failed, f"{block.id}: {name} has failed jobs:\n{value.table()}"


# ---------------------------------------------------------------- shell blocks


def _commands(code: str) -> list[list[str]]:
    """Commands of a shell block (continuations joined, comments dropped), from the program on."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.replace("$(which crystalnet)", "crystalnet")
        tokens = shlex.split(line, comments=True)
        for k, token in enumerate(tokens):
            program = token.rsplit("/", 1)[-1]
            if program in ("crystalnet", "mrun"):
                commands.append([program, *tokens[k + 1 :]])
                break
    return commands


def _with_placeholders(args: list[str]) -> list[str]:
    """``...`` after an option stands for its value; elsewhere for further options."""
    out = []
    for k, arg in enumerate(args):
        if arg == "...":
            if k > 0 and args[k - 1].startswith("-"):
                out.append(PLACEHOLDER)
            continue
        out.append(arg)
    return out


def _root_command(program: str) -> click.Command:
    if program == "crystalnet":
        from pymatgen_crystalnet.cli import main

        return main
    from maggma.cli import run

    return run


def _parse(program: str, args: list[str]) -> None:
    """Parse like the shell would run it (nothing is executed): command and options must exist."""
    command = _root_command(program)
    ctx = command.make_context(program, list(args))
    while isinstance(command, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            break
        name, sub, remaining = command.resolve_command(ctx, rest)
        assert sub is not None, f"{program}: no command {rest[0]!r}"
        ctx = sub.make_context(name, remaining, parent=ctx)
        command = sub


def _allowed_missing(message: str) -> bool:
    found = re.search(r"'([^']+)' does not exist", message)
    if not found:
        return False
    path = found.group(1)
    return path.startswith(OUTPUT_DIRS) or path in USER_FILES or PLACEHOLDER in path


def _run(program: str, args: list[str], root: Path) -> None:
    if program == "crystalnet":
        from click.testing import CliRunner

        from pymatgen_crystalnet.cli import main

        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    mrun = Path(sys.executable).parent / "mrun"
    done = subprocess.run([str(mrun), *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("block", _params(SHELL))
def test_shell_block(block: Block, in_workspace):
    commands = _commands(block.code)
    if not commands:
        pytest.skip(f"{block.id}: no crystalnet or mrun command (set-up or other tools)")
    _stand_ins(in_workspace, block.code)
    for program, *args in commands:
        args = _with_placeholders(args)
        where = f"{block.id}: {program} {' '.join(args)}"
        try:
            _parse(program, args)
        except click.BadParameter as exc:
            if not _allowed_missing(exc.format_message()):
                raise AssertionError(f"{where}: {exc.format_message()}") from exc
        except click.ClickException as exc:
            raise AssertionError(f"{where}: {exc.format_message()}") from exc
    if block.marker == "no-test" or block.marker == "slow-test":
        assert block.reason, f"{block.id}: a {block.marker} marker needs its reason"
    if block.marker == "run" or block.marker == "slow-test":
        for program, *args in commands:
            _run(program, args, in_workspace)


# ---------------------------------------------------------------- the documents themselves


def test_the_extraction_finds_the_blocks():
    readme = extract_blocks(REPO / "README.md")
    assert [b.lang for b in readme][:3] == ["bash", "bash", "bash"]
    assert PYTHON and SHELL
    assert _commands("x && .venv/bin/crystalnet -v data build --source a \\\n   --store b  # note") == [
        ["crystalnet", "-v", "data", "build", "--source", "a", "--store", "b"]
    ]
    with pytest.raises(click.NoSuchOption):
        _parse("crystalnet", ["solve", "x.xy", "--no-such-option"])
    with pytest.raises(click.UsageError):
        _parse("crystalnet", ["no-such-command"])


def test_readme_top_is_three_commands():
    """Set-up, the main job, the tests: the first three blocks, under the first heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    top = sections[1]
    blocks = [m.group(1).strip() for m in re.finditer(r"```bash\n(.*?)```", top, re.S)]
    assert len(blocks) == 3, blocks
    assert "pip install" in blocks[0] and "crystalnet solve" in blocks[1] and "pytest" in blocks[2]


def test_docs_cite_science_not_design():
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        assert "DESIGN" not in text, f"{doc.name} cites DESIGN; cite docs/science.md"

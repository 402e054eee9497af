"""A solve's result set is written into its folder all at once, replacing the previous set."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.io.common import VolumetricData
from pymatgen.io.vasp import Chgcar

from pymatgen_crystalnet.io.result_folder import OutputFolderError, clean_stale_staging
from pymatgen_crystalnet.solver.output import (
    check_result_folder,
    is_result_file,
    result_file_names,
    write_result_set,
)
from pymatgen_crystalnet.solver.result import SolveResult
from test_solver_result import make_result

SRC = Path(__file__).parents[1] / "src"


@pytest.fixture(scope="module")
def result(nacl):
    return make_result(nacl)


def _fewer(result: SolveResult, n: int) -> SolveResult:
    return SolveResult(**{**result.__dict__, "candidates": result.candidates[:n], "structures": []})


def _png(res, path):
    path.write_bytes(b"\x89PNG\r\n\x1a\nfigure of " + str(len(res)).encode())


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(folder.iterdir())}


def _hidden(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_the_set_is_written_and_reads_back(result, tmp_path):
    out = tmp_path / "out"
    names = write_result_set(result, out, figure=_png, extra_summary={"pattern": "p.xy"})
    assert sorted(names) == sorted(p.name for p in out.iterdir())
    assert names == result_file_names(result)
    assert {"candidate_1.vasp", "candidate_1.xsf", "candidate_1.cif", "candidate_2.cube",
            "structure_1.cif", "structure_2.cif", "summary.json", "solve.png"} == set(names)  # fmt: skip
    chg = Chgcar.from_file(out / "candidate_1.vasp")
    assert chg.structure.composition.reduced_formula == "NaCl"
    np.testing.assert_allclose(chg.data["total"] / chg.structure.volume, result[0].grid, rtol=1e-4, atol=1e-6)
    cube = VolumetricData.from_cube(out / "candidate_2.cube")
    assert len(cube.structure) == 0 and cube.data["total"].shape == result[1].grid.shape
    cif = Structure.from_file(out / "structure_1.cif")
    assert StructureMatcher().fit(cif, result.structures[0].structure)
    assert "_symmetry_space_group_name_H-M   Fm-3m" in (out / "candidate_1.cif").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pattern"] == "p.xy" and summary["files"] == names
    assert summary["structures"][0]["rwp"] == 0.031
    assert not _hidden(tmp_path)


def test_fewer_candidates_leave_no_stale_files(result, tmp_path):
    out = tmp_path / "out"
    write_result_set(result, out, figure=_png)
    write_result_set(_fewer(result, 1), out, figure=None)
    assert sorted(p.name for p in out.iterdir()) == ["candidate_1.cif", "candidate_1.vasp",
                                                     "candidate_1.xsf", "summary.json"]  # fmt: skip
    assert len(json.loads((out / "summary.json").read_text())["candidates"]) == 1
    assert not _hidden(tmp_path)


def test_a_directory_in_the_way_is_an_error_and_the_folder_is_unchanged(result, tmp_path):
    out = tmp_path / "out"
    write_result_set(_fewer(result, 1), out, figure=_png)
    (out / "candidate_2.vasp").mkdir()
    before = _snapshot(out)
    with pytest.raises(OutputFolderError, match=r"candidate_2\.vasp.*not a file of this output"):
        write_result_set(result, out, figure=_png)
    with pytest.raises(OutputFolderError, match=r"candidate_2\.vasp"):
        check_result_folder(out)
    assert _snapshot(out) == before and not _hidden(tmp_path)


def test_a_folder_of_other_files_is_not_replaced(result, tmp_path):
    (tmp_path / "my_notes.txt").write_text("keep me")
    with pytest.raises(OutputFolderError, match=r"my_notes\.txt"):
        write_result_set(result, tmp_path, figure=None)
    assert (tmp_path / "my_notes.txt").read_text() == "keep me"


def test_a_failed_write_leaves_the_previous_set(result, tmp_path):
    out = tmp_path / "out"
    write_result_set(result, out, figure=_png)
    before = _snapshot(out)

    def disk_full(res, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    with pytest.raises(OutputFolderError, match=r"No space left on device.*left as it was"):
        write_result_set(_fewer(result, 1), out, figure=disk_full)
    assert _snapshot(out) == before and not _hidden(tmp_path)


def test_an_unusable_folder_is_a_clear_error(result, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputFolderError, match="not a folder"):
        write_result_set(result, blocker, figure=None)
    with pytest.raises(OutputFolderError, match=r"Cannot (create|write)"):
        write_result_set(result, blocker / "out", figure=None)
    with pytest.raises(OutputFolderError, match="not a folder"):
        check_result_folder(blocker / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_a_clear_error(result, tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError, match=r"[Pp]ermission denied"):
            write_result_set(result, parent / "out", figure=None)
        with pytest.raises(OutputFolderError, match=r"[Pp]ermission denied"):
            check_result_folder(parent / "out")
    finally:
        parent.chmod(0o755)


def test_a_killed_run_leaves_nothing_the_next_run_does_not_clean(result, tmp_path):
    out = tmp_path / "out"
    write_result_set(result, out, figure=_png)
    before = _snapshot(out)
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(SRC)!r})\n"
        "from pathlib import Path\n"
        "from pymatgen_crystalnet.io.result_folder import write_folder_atomically\n"
        "def slow(folder):\n"
        "    (folder / 'summary.json').write_text('{}')\n"
        "    time.sleep(60)\n"
        f"write_folder_atomically({str(out)!r}, slow, lambda name: True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while not any(".staging-" in n for n in _hidden(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(".staging-" in n for n in _hidden(tmp_path)), "the writer never started"
        # a staging folder of a live process is left alone
        assert clean_stale_staging(out) == []
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _hidden(tmp_path) and _snapshot(out) == before
    write_result_set(_fewer(result, 1), out, figure=None)
    assert not _hidden(tmp_path)
    assert "candidate_2.cube" not in {p.name for p in out.iterdir()}


def test_a_set_moved_aside_by_a_kill_comes_back(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(proc.stdout)
    aside = tmp_path / f".out.old-{dead}-abcd1234"
    out.rename(aside)
    assert clean_stale_staging(out) == [aside]
    assert (out / "summary.json").read_text() == "{}" and not _hidden(tmp_path)


def test_result_file_names():
    assert is_result_file("candidate_12.vasp") and is_result_file("structure_3.cif")
    assert not is_result_file("candidate_1.vasp.bak") and not is_result_file("notes.txt")


def test_a_folder_without_write_permission_is_refused(result, tmp_path, monkeypatch):
    import pymatgen_crystalnet.io.result_folder as rf

    out = tmp_path / "out"
    write_result_set(result, out, figure=None)
    before = _snapshot(out)
    monkeypatch.setattr(rf.os, "access", lambda path, mode: False)
    with pytest.raises(OutputFolderError, match="not writable"):
        write_result_set(_fewer(result, 1), out, figure=None)
    with pytest.raises(OutputFolderError, match="permission denied"):
        check_result_folder(tmp_path / "new")
    assert _snapshot(out) == before

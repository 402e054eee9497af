"""The tiny pipeline on FireWorks: a LaunchPad on a real MongoDB-wire server, two rlaunch workers.

The LaunchPad lives in a briskdb server (SQLite engine behind MongoDB's wire protocol, started
here in its own process on 127.0.0.1); the JobStore is the on-disk montydb store the workers
share. Two ``rlaunch rapidfire`` processes run the jobs: a ``gpu`` worker (category ``gpu``:
training) and a ``cpu`` worker (category ``__none__``: everything else). The stored documents
are checked with the same assertions as the local run.

briskdb 0.1.0b3 rejects the handshake of pymongo >= 4.18 (its ``backpressure`` option), so the
test needs pymongo 4.17 (the ``fireworks-test`` extra pins it); otherwise it is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

fireworks = pytest.importorskip("fireworks", reason="FireWorks is not installed (extra 'fireworks')")
pytest.importorskip("briskdb", reason="briskdb is not installed (extra 'fireworks-test')")
pymongo = pytest.importorskip("pymongo")
if pymongo.version_tuple[:2] > (4, 17):
    pytest.skip(
        f"briskdb's MongoDB listener does not accept pymongo {pymongo.version} (needs <= 4.17; "
        "install the 'fireworks-test' extra)",
        allow_module_level=True,
    )

from pymatgen_crystalnet.workflows.fireworks import (  # noqa: E402
    report_from_launchpad,
    submit_flow,
    worker_config,
)
from pymatgen_crystalnet.workflows.run import job_store  # noqa: E402
from test_workflows_checks import check_pipeline_outputs, tiny_pipeline  # noqa: E402

SERVER = textwrap.dedent(
    """
    import sys, time
    import briskdb
    db = briskdb.open(sys.argv[1], shards=2, documents=True)
    server = db.serve(http="127.0.0.1:0", admin=None, mongo="127.0.0.1:0")
    print(server.mongo_address, flush=True)
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline and sys.stdin.readline():
        pass
    server.close()
    db.close()
    """
)


@pytest.fixture(scope="module")
def mongo_server(tmp_path_factory):
    """A briskdb MongoDB-wire server on 127.0.0.1 (stops when its stdin closes, at most 15 min)."""
    folder = tmp_path_factory.mktemp("briskdb")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(folder / "data"), "900"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    address = proc.stdout.readline().strip()
    if not address:
        proc.kill()
        pytest.fail("the briskdb server did not start")
    host, port = address.rsplit(":", 1)
    yield host, int(port)
    proc.stdin.close()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _rlaunch(workdir: Path, launchpad: Path, worker: Path, log: Path) -> subprocess.Popen:
    script = Path(sys.executable).with_name("rlaunch")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "fireworks.scripts.rlaunch_run"]
    cmd += ["-l", str(launchpad), "-w", str(worker), "--loglvl", "INFO",
            "rapidfire", "--nlaunches", "infinite", "--sleep", "1", "--timeout", "600"]  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=workdir, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def _wait_until_settled(lpad, fw_id: int, timeout: float = 420.0) -> dict[str, str]:
    """Poll until no Firework is ready, reserved or running (twice in a row)."""
    quiet = 0
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = lpad.get_wf_summary_dict(fw_id, mode="more")["states"]
        busy = [s for s in states.values() if s in ("READY", "RESERVED", "RUNNING")]
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return states
        time.sleep(1.5)
    raise AssertionError(f"the workflow did not settle in {timeout} s: {states}")


@pytest.fixture(scope="module")
def fireworks_run(mongo_server, tmp_path_factory):
    from fireworks import LaunchPad
    from monty.serialization import dumpfn

    host, port = mongo_server
    root = tmp_path_factory.mktemp("fireworks")
    (root / "logs").mkdir()
    lpad = LaunchPad(host=host, port=port, name="crystalnet_test", logdir=str(root / "logs"))
    lpad.reset("", require_password=False)
    lp_file = root / "my_launchpad.yaml"
    lpad.to_file(str(lp_file))
    workers = {"gpu": "gpu", "cpu": "__none__"}
    files = {}
    for name, category in workers.items():
        files[name] = root / f"{name}_worker.yaml"
        dumpfn(worker_config(name, category), files[name])

    flow = tiny_pipeline()
    ids = submit_flow(flow, lpad, job_store(root / "jobstore"))
    procs = {
        name: _rlaunch(root / f"launches_{name}", lp_file, files[name], root / f"rlaunch_{name}.log")
        for name in workers
    }
    try:
        _wait_until_settled(lpad, next(iter(ids.values())))
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    report = report_from_launchpad(lpad, ids)
    return root, lpad, report


def test_fireworks_run_stores_documents(fireworks_run):
    root, _, report = fireworks_run
    check_pipeline_outputs(job_store(root / "jobstore"), report)
    assert report.manager == "fireworks" and report.store.startswith("EmbeddedStore:")


def test_fireworks_routes_gpu_jobs_to_the_gpu_worker(fireworks_run):
    _, _, report = fireworks_run
    by_name = {r.name: r for r in report.jobs if r.state != "waiting"}
    gpu_jobs = ["train", "evaluate"] if "evaluate" in by_name else ["train"]
    for name in gpu_jobs:
        assert by_name[name].category == "gpu" and by_name[name].worker == "gpu", by_name[name]
    for name in ("build dataset", "pick pattern", "solve", "rank candidates", "verify candidate 0"):
        assert by_name[name].category is None and by_name[name].worker == "cpu", by_name[name]
    # the failed job is FIZZLED on the LaunchPad, its child is still waiting
    assert by_name["solve empty pattern"].state == "failed" and by_name["solve empty pattern"].fw_id
    waiting = sorted(r.name for r in report.jobs if r.state == "waiting")
    assert waiting == ["rank candidates", "verify candidate 0", "verify candidate 1"]

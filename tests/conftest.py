"""Shared fixtures: small real structures and the path of the read-only shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

TESTS = Path(__file__).parent
#: ../shared/data beside the repository (present on development machines and in CI)
SHARED_DATA = TESTS.parents[1] / "shared" / "data"


def load_sample() -> list[dict]:
    """The 16 Materials Project structures copied into tests/data/mp_sample.jsonl."""
    rows = []
    with open(TESTS / "data" / "mp_sample.jsonl") as fh:
        for line in fh:
            row = json.loads(line)
            row["structure"] = Structure.from_str(row["cif"], fmt="cif")
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    small batched operations on a busy 2-core machine are faster and steadier on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mp_sample() -> list[dict]:
    return load_sample()


@pytest.fixture(scope="session")
def nacl() -> Structure:
    """Rock-salt NaCl, conventional cubic cell, a = 5.64 Å."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is not present")
    return SHARED_DATA


#: Hyper-parameters of a tiny CrystalNet (random weights): fast predictions in evaluation tests.
TINY_CRYSTALNET = {
    "latent_dim": 16,
    "embed_dim": 16,
    "fusion_hidden": 32,
    "regressor_hidden": 16,
    "nonnegative": False,
}


@pytest.fixture(scope="session")
def load_script():
    """Import a repository script (``benchmarks/…``, ``tools/…``) by its path from the repository root."""
    import importlib.util

    def load(relative: str):
        path = TESTS.parent / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def tiny_crystalnet():
    """Factory of tiny randomly initialised CrystalNet models; ``seed`` fixes the weights."""
    import torch

    from pymatgen_crystalnet.model.crystalnet import CrystalNet

    def make(seed: int | None = None) -> CrystalNet:
        if seed is not None:
            torch.manual_seed(seed)
        return CrystalNet.from_preset("small", **TINY_CRYSTALNET)

    return make


@pytest.fixture(scope="session")
def eval_export(tmp_path_factory) -> Path:
    """A real export of the mini corpus' cubic and trigonal crystals (5 cubic test crystals)."""
    from pymatgen_crystalnet.data.config import BuildConfig
    from pymatgen_crystalnet.data.export import export_dataset
    from pymatgen_crystalnet.data.pipeline import build_dataset

    root = tmp_path_factory.mktemp("eval-export")
    corpus = TESTS / "data" / "mini_corpus.jsonl.gz"
    config = BuildConfig(crystal_systems=["cubic", "trigonal"])
    build_dataset(corpus, root / "db", config=config, progress=False)
    export_dataset(root / "db", root / "ct.npz")
    return root / "ct.npz"


@pytest.fixture(scope="session")
def eval_data(eval_export):
    """:data:`eval_export`, loaded."""
    from pymatgen_crystalnet.data.reader import load_export

    return load_export(eval_export)


@pytest.fixture(scope="session")
def eval_tiny_model(tmp_path_factory, eval_data, tiny_crystalnet) -> Path:
    """A tiny model (seed 0) saved with the export's settings as metadata: a weights folder."""
    from pymatgen_crystalnet.model.weights import save_model

    model = tiny_crystalnet(seed=0)
    meta = {k: eval_data.manifest[k] for k in ("cell", "b_factor", "wavelength")}
    meta.update(composition_mode="full", density_source="iam")
    return save_model(model, tmp_path_factory.mktemp("eval-model") / "tiny", metadata=meta)

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

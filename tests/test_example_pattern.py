"""The example pattern shipped for the README's main job: provenance and that it indexes."""

from pathlib import Path

import pytest

from pymatgen_crystalnet.indexing import index_pattern
from pymatgen_crystalnet.io.patterns import read_profile
from pymatgen_crystalnet.solver.inputs import prepare_pattern

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "src" / "pymatgen_crystalnet" / "examples" / "BaO_MoKa.xy"
#: conventional a of BaO mp-1342 in the offline corpus (Å)
BAO_A = 5.6149


@pytest.fixture(scope="module")
def generator(load_script):
    return load_script("tools/make_example_pattern.py")


@pytest.fixture(scope="module")
def bao_record(shared_data, generator):
    """The corpus record of the example's crystal (the corpus is read once for this module)."""
    return generator.corpus_record(shared_data / "mp_structures.jsonl.gz")


def test_example_is_regenerated_exactly_from_the_corpus(generator, bao_record):
    assert generator.render(bao_record.to_structure(), generator.MATERIAL_ID) == EXAMPLE.read_text()


def test_example_is_a_paper_test_crystal_so_never_seen_in_training(bao_record):
    from pymatgen_crystalnet.data.splits import seed_split_of

    # a seeded test id is assigned to the test split by the dataset builder (docs/data.md)
    assert bao_record.material_id == "mp-1342"
    assert seed_split_of(bao_record.seed_split) == "test"
    assert bao_record.formula == "BaO"


def test_example_reads_and_indexes_as_rock_salt_bao():
    profile = read_profile(EXAMPLE, wavelength="MoKa")
    assert profile.two_theta.size == 5701
    prepared = prepare_pattern(profile)
    best = index_pattern(prepared.two_theta[:30], prepared.wavelength)[0]
    assert best.crystal_system == "cubic" and best.centring == "F"
    assert best.parameters[0] == pytest.approx(BAO_A, rel=1e-3)

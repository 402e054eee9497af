"""Write the example powder pattern shipped in ``pymatgen_crystalnet/examples/``.

The README's main job solves ``BaO_MoKa.xy``: a simulated Mo Kα powder profile of rock-salt
BaO (mp-1342), a crystal of the dataset's *test* split, so the bundled model never saw it
during training or checkpoint selection. The profile is what a laboratory diffractometer
records, not the model's input vector: pseudo-Voigt peaks of 0.08° FWHM on a 0.01° step,
a smooth background and Poisson counting noise (seeded), so the solver has to do the whole
path (background removal, peak picking, cubic indexing, binning) itself.

Run from the repository root (needs the offline corpus in ``../shared/data``)::

    python tools/make_example_pattern.py

The output is deterministic; ``tests/test_example_pattern.py`` regenerates it and compares.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.atomic import atomic_write
from pymatgen_crystalnet.data.sources import read_jsonl
from pymatgen_crystalnet.physics.agreement import simulate_profile
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.units import MO_KA

log = logging.getLogger("make_example_pattern")

MATERIAL_ID = "mp-1342"
TWO_THETA = (3.0, 60.0)
STEP = 0.01
FWHM = 0.08
ETA = 0.4
PEAK_COUNTS = 20000.0
SEED = 1342


def example_profile(structure) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (2θ, counts) of the simulated Mo Kα profile of ``structure``."""
    sticks = xrd_pattern(structure, wavelength=MO_KA, two_theta_range=(0.0, 180.0))
    grid = np.round(np.arange(TWO_THETA[0], TWO_THETA[1] + STEP / 2, STEP), 4)
    peaks = simulate_profile(sticks.x, sticks.y / 100.0 * PEAK_COUNTS, grid, fwhm=FWHM, eta=ETA)
    background = 150.0 + 400.0 * np.exp(-(grid - TWO_THETA[0]) / 8.0)
    rng = np.random.default_rng(SEED)
    counts = rng.poisson(peaks + background).astype(np.float64)
    return grid, counts


def corpus_record(source: str | Path, material_id: str = MATERIAL_ID):
    """Return the corpus record of ``material_id`` from the JSON Lines corpus ``source``."""
    record = next((r for r in read_jsonl(source) if r.material_id == material_id), None)
    if record is None:
        raise ValueError(f"{material_id} is not in the corpus {source}.")
    return record


def render(structure, material_id: str) -> str:
    """Return the text of the ``.xy`` file (comment header, then two columns)."""
    two_theta, counts = example_profile(structure)
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    a = SpacegroupAnalyzer(structure).get_conventional_standard_structure().lattice.a
    header = [
        f"# {structure.composition.reduced_formula} ({material_id}, rock salt, a = {a:.4f} Å),"
        " a crystal of the dataset's test split",
        f"# Simulated powder profile: Mo Kα ({MO_KA} Å), B = 1 Å² for every element,",
        f"# pseudo-Voigt FWHM {FWHM}° (η = {ETA}), background, Poisson noise (seed {SEED}).",
        "# Written by tools/make_example_pattern.py. Columns: 2θ (degrees), counts.",
        "# The file holds no wavelength: pass -w MoKa to crystalnet solve.",
    ]
    rows = [f"{t:.2f} {c:.0f}" for t, c in zip(two_theta, counts)]
    return "\n".join(header + rows) + "\n"


def main() -> None:
    """Write the example file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="../shared/data/mp_structures.jsonl.gz")
    parser.add_argument("--out", default="src/pymatgen_crystalnet/examples/BaO_MoKa.xy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    record = corpus_record(args.source)
    text = render(record.to_structure(), MATERIAL_ID)
    with atomic_write(Path(args.out)) as fh:
        fh.write(text)
    log.info("Wrote %s", args.out)


if __name__ == "__main__":
    main()

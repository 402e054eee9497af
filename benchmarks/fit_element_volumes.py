"""Fit one volume per element (Å³ per atom in a crystal) to the corpus; write the table module.

The volume of a formula unit is modelled as ``Σ n_i v_i`` (additive atomic volumes, as in
volume-increment schemes). The ``v_i`` are fitted by non-negative least squares on the relative
error, on every corpus crystal **outside** the hash-based test split of ``data/splits.py``
(the split the indexing benchmark draws from), so the benchmark never sees its own crystals
in the fit. Elements met in fewer than ``--min-count`` training crystals are left out (the
caller falls back to the molar-volume estimate). The cell volume comes from the CIF's cell
parameters; ``V_fu = V_cell / nsites × atoms in the reduced formula``.

The script prints the ratio ``V_true / V_fitted`` on the held-out test split next to the
molar-volume estimate (``physics.formula_units.expected_volume``) and writes
``src/pymatgen_crystalnet/physics/element_volumes.py``.

Run::

    PYTHONPATH=src python benchmarks/fit_element_volumes.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Composition
from scipy.optimize import nnls

from pymatgen_crystalnet.data.splits import group_key, group_uniform
from pymatgen_crystalnet.physics.formula_units import expected_volume

sys.path.insert(0, str(Path(__file__).parent))
from _corpus import DEFAULT_CORPUS

SALT = "crystalnet-split-v1"
TEST_FRACTION = 0.05
OUT = Path(__file__).resolve().parents[1] / "src" / "pymatgen_crystalnet" / "physics" / "element_volumes.py"

_HEADER = '''"""Fitted volume per atom of each element in crystals (Å³), for the expected volume of a formula.

Written by ``benchmarks/fit_element_volumes.py`` (do not edit by hand): non-negative least
squares of ``V_formula_unit = Σ n_i v_i`` on the relative error over {n_train} crystals of the
bundled Materials Project corpus outside the hash-based test split; elements met in fewer than
{min_count} of them are absent. Ratio of the true volume to ``Σ n_i v_i`` on the {n_test} held-out
test crystals, quantiles 0.5/1/2/5/50/95/99 %:

* fitted volumes: {q_fit};
* molar-volume estimate (0.83 × elemental molar volumes): {q_old}.
"""

from __future__ import annotations

__all__ = ["ELEMENT_VOLUMES"]

#: Å³ per atom, by element symbol.
ELEMENT_VOLUMES: dict[str, float] = {{
'''


def _cell_volume(cif: str) -> float:
    def get(key: str) -> float:
        return float(re.search(key + r"\s+([-+\d.eE]+)", cif).group(1))

    a, b, c = get("_cell_length_a"), get("_cell_length_b"), get("_cell_length_c")
    angles = [get("_cell_angle_alpha"), get("_cell_angle_beta"), get("_cell_angle_gamma")]
    ca, cb, cg = np.cos(np.radians(angles))
    return float(a * b * c * np.sqrt(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--min-count", type=int, default=20)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    comps, vfu, test = [], [], []
    with gzip.open(args.corpus, "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            comp = Composition(rec["formula"]).reduced_composition
            comps.append(comp)
            vfu.append(_cell_volume(rec["cif"]) / rec["nsites"] * comp.num_atoms)
            u = group_uniform(group_key(rec["formula"], rec["spacegroup_number"]), SALT)
            test.append(u < TEST_FRACTION)
    y, test = np.array(vfu), np.array(test)
    train = ~test
    count: dict[str, int] = {}
    for comp, t in zip(comps, train, strict=True):
        if t:
            for el in comp.elements:
                count[str(el)] = count.get(str(el), 0) + 1
    els = sorted(e for e, n in count.items() if n >= args.min_count)
    col = {e: i for i, e in enumerate(els)}
    x = np.zeros((y.size, len(els)))
    covered = np.ones(y.size, dtype=bool)
    for i, comp in enumerate(comps):
        for el, n in comp.items():
            if str(el) in col:
                x[i, col[str(el)]] = n
            else:
                covered[i] = False
    fit = train & covered
    w = 1.0 / y[fit]
    v, _ = nnls(x[fit] * w[:, None], y[fit] * w)
    held = test & covered
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = np.array([y[i] / expected_volume(comps[i]) for i in np.flatnonzero(held)])
    new = y[held] / (x[held] @ v)
    qs = [0.005, 0.01, 0.02, 0.05, 0.5, 0.95, 0.99]
    q_fit, q_old = np.round(np.quantile(new, qs), 2), np.round(np.quantile(old, qs), 2)
    print(f"fit on {fit.sum()} crystals, {len(els)} elements; held out {held.sum()}")
    print("ratio true / fitted   ", q_fit, f"below 0.7: {np.mean(new < 0.7):.2%}")
    print("ratio true / molar vol", q_old, f"below 0.7: {np.mean(old < 0.7):.2%}")
    fmt = lambda q: "–".join(f"{t:.2f}" for t in q)  # noqa: E731
    text = _HEADER.format(
        n_train=int(fit.sum()),
        min_count=args.min_count,
        n_test=int(held.sum()),
        q_fit=fmt(q_fit),
        q_old=fmt(q_old),
    )
    text += "".join(f'    "{e}": {v[col[e]]:.2f},\n' for e in els if v[col[e]] > 0) + "}\n"
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

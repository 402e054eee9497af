"""The workflow documents: packing of densities and weights, and outputs stored under the old module path."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from pymatgen.core import Lattice

from pymatgen_crystalnet.workflows.density_grid import DensityGrid
from pymatgen_crystalnet.workflows.provenance import make_provenance
from pymatgen_crystalnet.workflows.solving_documents import SolutionDocument
from pymatgen_crystalnet.workflows.training_documents import WeightsBlob


def test_density_grid_round_trip():
    rng = np.random.default_rng(0)
    grid = rng.random((6, 6, 6)).astype(np.float32)
    lattice = Lattice.cubic(4.0)
    doc = DensityGrid.from_array(grid, lattice)
    np.testing.assert_array_equal(doc.array(), grid)
    assert doc.sha256 == hashlib.sha256(grid.tobytes()).hexdigest()
    assert doc.electrons == pytest.approx(float(grid.astype(np.float64).mean()) * 64.0)
    again = DensityGrid.model_validate_json(doc.model_dump_json())
    np.testing.assert_array_equal(again.array(), grid)
    with pytest.raises(ValueError, match="n×n×n"):
        DensityGrid.from_array(np.zeros((4, 4, 5)), lattice)


def test_weights_blob_refuses_tampered_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "config.json").write_text("{}")
    blob = WeightsBlob.from_folder(tmp_path)
    assert blob.write(tmp_path / "copy") == tmp_path / "copy"
    assert (tmp_path / "copy" / "model.safetensors").read_bytes() == b"weights"
    bad = blob.model_copy(update={"sha256": "0" * 64})
    with pytest.raises(ValueError, match="do not match"):
        bad.write(tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_documents_stored_under_the_old_module_path_load():
    """Outputs in a JobStore written before the split name ``workflows.schemas``; they still decode."""
    from monty.json import MontyDecoder, MontyEncoder

    grid = DensityGrid.from_array(np.ones((4, 4, 4)), Lattice.cubic(3.0))
    doc = SolutionDocument(
        ranking=[{"rank": 0, "sample": 1, "cosine": 0.9, "rwp": 0.2, "solver_rank": 0}], best_sample=1,
        best_cosine=0.9, best_rwp=0.2, agrees_with_solver=True, lattice=Lattice.cubic(3.0).matrix.tolist(),
        density_grid=grid, provenance=make_provenance(None, test=True),
    )  # fmt: skip
    stored = json.loads(json.dumps(doc, cls=MontyEncoder))
    assert stored["@module"] == "pymatgen_crystalnet.workflows.solving_documents"
    stored["@module"] = "pymatgen_crystalnet.workflows.schemas"
    loaded = MontyDecoder().process_decoded(stored)
    assert isinstance(loaded, SolutionDocument) and loaded == doc
    np.testing.assert_array_equal(loaded.density_grid.array(), grid.array())

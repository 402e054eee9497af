"""What a job reads from earlier jobs is checked: a changed export or changed weights are refused."""

from __future__ import annotations

import pytest

pytest.importorskip("jobflow")

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.workflows.job_inputs import checked_export, checked_weights
from pymatgen_crystalnet.workflows.provenance import make_provenance
from pymatgen_crystalnet.workflows.training_documents import DatasetDocument, TrainingRunDocument, WeightsBlob


def _training(folder, sha, blob=None) -> TrainingRunDocument:
    return TrainingRunDocument(
        run_dir=str(folder.parent), checkpoint_dir=str(folder), weights_sha256=sha, device="cpu",
        wall_time_s=1.0, epochs=1, n_parameters=1, weights_blob=blob, provenance=make_provenance(None),
    )  # fmt: skip


@pytest.fixture
def weights(tmp_path):
    folder = tmp_path / "run" / "best"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"the trained weights")
    (folder / "config.json").write_text("{}")
    return folder


def test_checked_weights_accepts_the_recorded_weights(weights):
    sha = sha256_file(weights / "model.safetensors")
    assert checked_weights(_training(weights, sha)) == (weights, sha)
    assert checked_weights(str(weights)) == (weights.resolve(), sha)  # a plain folder: no record to check


def test_checked_weights_refuses_tampered_weights(weights):
    doc = _training(weights, sha256_file(weights / "model.safetensors"))
    (weights / "model.safetensors").write_bytes(b"the trained weights, edited")
    with pytest.raises(ValueError, match="changed since training"):
        checked_weights(doc)


def test_checked_weights_uses_the_stored_weights_when_the_folder_is_elsewhere(weights, tmp_path, monkeypatch):
    blob = WeightsBlob.from_folder(weights)
    doc = _training(tmp_path / "other" / "best", blob.sha256, blob=blob)
    monkeypatch.chdir(tmp_path)
    folder, sha = checked_weights(doc)
    assert folder == tmp_path / "weights" and sha == blob.sha256
    with pytest.raises(FileNotFoundError, match="store_weights"):
        checked_weights(_training(tmp_path / "other" / "best", blob.sha256))


def test_checked_export_refuses_a_changed_export(tmp_path):
    export = tmp_path / "ct.npz"
    export.write_bytes(b"an export")
    doc = DatasetDocument(
        source="corpus", store=str(tmp_path / "db"), export_path=str(export),
        export_sha256=sha256_file(export), export_bytes=9, n_crystals=1, counts={}, wall_time_s=1.0,
        provenance=make_provenance(None),
    )  # fmt: skip
    assert checked_export(doc) == (export, doc.export_sha256)
    export.write_bytes(b"another export")
    with pytest.raises(ValueError, match="changed since it was built"):
        checked_export(doc)
    with pytest.raises(FileNotFoundError, match="No dataset export"):
        checked_export(str(tmp_path / "missing.npz"))

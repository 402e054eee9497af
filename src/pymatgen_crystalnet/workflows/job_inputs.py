"""What a job reads from earlier jobs: the dataset export and the model weights.

Later jobs find what earlier ones wrote through the absolute paths recorded in their
documents, and check the SHA-256 recorded beside them; on a cluster the job folders must be on
a shared file system, or the model weights travel through the data store
(``TrainMaker.store_weights``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.workflows.schemas import DatasetDocument, TrainingRunDocument

__all__ = ["checked_export", "weights_folder"]

logger = logging.getLogger(__name__)


def checked_export(dataset: DatasetDocument | str | os.PathLike) -> tuple[Path, str | None]:
    """Path of the export a job should read, checked against its recorded SHA-256."""
    if isinstance(dataset, DatasetDocument):
        path = Path(dataset.export_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"The dataset export {path} is not on this machine; run the jobs on a shared "
                "file system (or give the export path)."
            )
        digest = sha256_file(path)
        if digest != dataset.export_sha256:
            raise ValueError(
                f"The dataset export {path} changed since it was built (SHA-256 {digest[:12]}… "
                f"!= {dataset.export_sha256[:12]}…); rebuild it."
            )
        return path, digest
    path = Path(dataset).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"No dataset export at {path}.")
    return path, sha256_file(path)


def weights_folder(model: TrainingRunDocument | str | None) -> tuple[Path, str | None]:
    """A local weights folder for ``model`` and its expected SHA-256 (None: bundled/unchecked)."""
    if model is None:
        from pymatgen_crystalnet.model.pretrained import pretrained_path

        return Path(pretrained_path(None)), None
    if isinstance(model, TrainingRunDocument):
        folder = Path(model.checkpoint_dir)
        if (folder / "model.safetensors").is_file():
            return folder, model.weights_sha256
        if model.weights_blob is not None:
            local = Path.cwd() / "weights"
            logger.info("%s is not on this machine; using the weights stored with the run", folder)
            return model.weights_blob.write(local), model.weights_sha256
        raise FileNotFoundError(
            f"The weights {folder} are not on this machine and were not stored with the run "
            "(TrainMaker.store_weights); use a shared file system."
        )
    return Path(model).expanduser().resolve(), None

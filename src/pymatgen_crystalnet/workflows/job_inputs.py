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

__all__ = ["checked_export", "checked_weights"]

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


def _weights_folder(model: TrainingRunDocument | str | None) -> tuple[Path, str | None]:
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


def checked_weights(model: TrainingRunDocument | str | None) -> tuple[Path, str]:
    """A local weights folder for ``model`` and the SHA-256 of its weights file.

    Parameters
    ----------
    model
        A :class:`~.schemas.TrainingRunDocument` (its ``checkpoint_dir``, or the weights it
        carries when that folder is not on this machine), a weights folder, or None for the
        bundled model.

    Returns
    -------
    tuple
        The folder (``model.safetensors`` + ``config.json``) and the SHA-256 of
        ``model.safetensors``.

    Raises
    ------
    ValueError
        If the weights of a training document changed since training (their SHA-256 differs
        from the one it recorded).
    FileNotFoundError
        If the weights are neither on this machine nor carried by the document.
    """
    folder, expected = _weights_folder(model)
    digest = sha256_file(folder / "model.safetensors")
    if expected is not None and digest != expected:
        raise ValueError(
            f"The weights in {folder} changed since training (SHA-256 {digest[:12]}… != {expected[:12]}…)."
        )
    return folder, digest

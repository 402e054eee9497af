"""Output documents of the workflow jobs (pydantic models).

Every job of :mod:`pymatgen_crystalnet.workflows` returns one of these documents; jobflow
stores it in the JobStore's docs store. Fields that hold large objects (density grids,
training histories, weights, lists of material ids, forward patterns) are listed in
:data:`LARGE_FIELDS`; the job decorator (:func:`~.jobs.crystalnet_job`) sends them to the
JobStore's ``data`` store, leaving a reference (``blob_uuid``) in the document. Loading an
output with ``store.get_output(uuid, load=True)`` (or resolving a reference in a later job)
brings them back.

Each document carries a :class:`Provenance`: the package and library versions, the host, the
Maker's settings and the identities (paths and SHA-256 digests, material ids) of the data it
read.
"""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from pymatgen.core import Lattice
    from pymatgen.io.common import VolumetricData

__all__ = [
    "LARGE_FIELDS",
    "CandidateDocument",
    "DatasetDocument",
    "DensityGrid",
    "EvaluationDocument",
    "JobRecord",
    "PatternDocument",
    "Provenance",
    "SolutionDocument",
    "SolveDocument",
    "TrainingRunDocument",
    "VerificationDocument",
    "WeightsBlob",
    "WorkflowReport",
    "make_provenance",
]

#: Field names whose values go to the JobStore's ``data`` store (see :mod:`.jobs`).
LARGE_FIELDS: tuple[str, ...] = (
    "density_grid",
    "training_history",
    "weights_blob",
    "material_ids",
    "forward_vector",
    "per_crystal",
)

_VERSIONED = ("pymatgen-crystalnet", "numpy", "torch", "pymatgen", "jobflow", "maggma", "fireworks")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _plain_dict(value: Any) -> Any:
    """``as_dict()`` of an MSONable object (jobflow decodes stored documents recursively)."""
    if hasattr(value, "as_dict") and not isinstance(value, dict):
        return value.as_dict()
    return value


#: A settings mapping (``as_dict()`` of an MSONable config or Maker).
SettingsDict = Annotated[dict[str, Any], BeforeValidator(_plain_dict)]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


class Provenance(_Doc):
    """Where a document came from.

    Attributes
    ----------
    package_version
        Version of pymatgen-crystalnet that wrote it.
    versions
        Versions of Python and the main libraries.
    host, platform
        Machine that ran the job.
    created_at
        UTC time the document was made.
    maker
        The settings of the Maker that made the job (``Maker.as_dict()``), if any.
    inputs
        Identities of the data read: paths, SHA-256 digests, material ids, job uuids.
    """

    package_version: str
    versions: dict[str, str] = Field(default_factory=dict)
    host: str = ""
    platform: str = ""
    created_at: datetime = Field(default_factory=_utcnow)
    maker: SettingsDict | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)


def make_provenance(maker: Any = None, **inputs: Any) -> Provenance:
    """A :class:`Provenance` for the running job.

    Parameters
    ----------
    maker
        The Maker whose job this is (its ``as_dict()`` is recorded), or None.
    **inputs
        Identities of the inputs (JSON-serialisable).
    """
    from pymatgen_crystalnet._version import __version__

    maker_dict = None
    if maker is not None and hasattr(maker, "as_dict"):
        from monty.json import jsanitize

        maker_dict = jsanitize(maker.as_dict(), strict=True, enum_values=True)
    return Provenance(
        package_version=__version__,
        versions=_versions(),
        host=socket.gethostname(),
        platform=platform.platform(terse=True),
        maker=maker_dict,
        inputs=inputs,
    )


# ---------------------------------------------------------------------------- large objects


class DensityGrid(_Doc):
    """A CMED on the n×n×n fractional grid of a cell, stored compactly and losslessly.

    Point (i, j, k) is at fractional (i/n, j/n, k/n); values in e/Å³ (float32, zlib, base64).

    Attributes
    ----------
    n
        Grid points per axis.
    lattice
        Rows = lattice vectors (Å).
    electrons
        Mean density × cell volume.
    sha256
        SHA-256 of the raw float32 C-order bytes.
    packed
        ``{"dtype", "shape", "zlib_b64"}`` (see ``data.schema.encode_array``).
    """

    n: int
    lattice: list[list[float]]
    units: Literal["e/Å^3"] = "e/Å^3"
    electrons: float
    sha256: str
    packed: dict[str, Any] = Field(repr=False)

    @classmethod
    def from_array(cls, grid: ArrayLike, lattice: Lattice | ArrayLike) -> DensityGrid:
        """Pack an (n, n, n) grid on ``lattice``."""
        from pymatgen_crystalnet.data.schema import encode_array
        from pymatgen_crystalnet.physics.cells import grid_electrons

        arr = np.ascontiguousarray(np.asarray(grid, dtype=np.float32))
        if arr.ndim != 3 or len(set(arr.shape)) != 1:
            raise ValueError(f"A density grid must be n×n×n, got shape {arr.shape}.")
        matrix = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
        volume = abs(float(np.linalg.det(matrix)))
        return cls(
            n=int(arr.shape[0]),
            lattice=matrix.tolist(),
            electrons=grid_electrons(arr, volume),
            sha256=hashlib.sha256(arr.tobytes()).hexdigest(),
            packed=encode_array(arr),
        )

    def array(self) -> NDArray[np.float32]:
        """The grid as an (n, n, n) float32 array."""
        from pymatgen_crystalnet.data.schema import decode_array

        return decode_array(self.packed).astype(np.float32, copy=False)

    def to_volumetric(self) -> VolumetricData:
        """The density as pymatgen ``VolumetricData`` (data = ρ × V)."""
        from pymatgen.core import Lattice

        from pymatgen_crystalnet.physics.cells import grid_to_volumetric

        return grid_to_volumetric(self.array(), Lattice(self.lattice))


class WeightsBlob(_Doc):
    """A weights folder (``model.safetensors`` + ``config.json``) carried inside a document.

    Lets a job on another machine (no shared file system) rebuild the trained model.
    """

    config_json: str = Field(repr=False)
    safetensors_b64: str = Field(repr=False)
    sha256: str

    @classmethod
    def from_folder(cls, folder: str | Path) -> WeightsBlob:
        """Read a weights folder written by ``model.weights.save_model``."""
        import base64

        folder = Path(folder)
        raw = (folder / "model.safetensors").read_bytes()
        return cls(
            config_json=(folder / "config.json").read_text(),
            safetensors_b64=base64.b64encode(raw).decode("ascii"),
            sha256=hashlib.sha256(raw).hexdigest(),
        )

    def write(self, folder: str | Path) -> Path:
        """Write the two files into ``folder`` (created) and return it.

        Raises
        ------
        ValueError
            If the weights do not match their recorded SHA-256.
        """
        import base64

        from pymatgen_crystalnet.atomic import atomic_write_bytes

        raw = base64.b64decode(self.safetensors_b64)
        if hashlib.sha256(raw).hexdigest() != self.sha256:
            raise ValueError("The stored weights do not match their SHA-256; refusing to write them.")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / "model.safetensors", raw)
        atomic_write_bytes(folder / "config.json", self.config_json.encode())
        return folder


# ---------------------------------------------------------------------------- documents


class DatasetDocument(_Doc):
    """Output of :class:`~.jobs.BuildDatasetMaker`: a built store and its training export.

    Attributes
    ----------
    source, source_sha256
        The structure source (a path, or ``"mp"``) and the SHA-256 of a source file.
    store
        Location of the maggma dataset store.
    export_path, export_sha256, export_bytes
        The ``.npz`` export that training reads, its digest and size.
    n_crystals
        Crystals in the export.
    counts
        ``{crystal system: {split: n}}`` of the export.
    build
        Counts of the store: structures, successful, failed, duplicates, excluded.
    build_config, split_config
        The settings (``as_dict()``).
    cell, b_factor, wavelength
        Settings recorded in the export's manifest.
    material_ids
        ``{split: [ids]}`` of the export (kept in the data store).
    wall_time_s
        Seconds the build and export took.
    """

    task_label: Literal["dataset"] = "dataset"
    source: str
    source_sha256: str | None = None
    store: str
    export_path: str
    export_sha256: str
    export_bytes: int
    n_crystals: int
    counts: dict[str, dict[str, int]]
    build: dict[str, Any] = Field(default_factory=dict)
    build_config: SettingsDict = Field(default_factory=dict)
    split_config: SettingsDict = Field(default_factory=dict)
    cell: str | None = None
    b_factor: float | None = None
    wavelength: float | None = None
    material_ids: dict[str, list[str]] = Field(default_factory=dict)
    wall_time_s: float
    provenance: Provenance


class TrainingRunDocument(_Doc):
    """Output of :class:`~.jobs.TrainMaker`: one training run.

    Attributes
    ----------
    run_dir
        The run folder (``training.json``, metrics, ``checkpoints/``, ``best/``).
    checkpoint_dir
        The selected weights (``best/``), loadable with ``CrystalNetSolver.from_checkpoint``.
    weights_sha256
        SHA-256 of ``best/model.safetensors``.
    last_checkpoint, last_checkpoint_sha256
        The newest resumable snapshot and the SHA-256 of its weights file.
    launcher, world_size
        ``"single"`` or ``"torchrun"``, and the number of processes.
    device, device_name
        Torch device type and, on CUDA, the GPU model.
    wall_time_s
        Seconds the job spent training (start to end, including validation).
    epochs, n_parameters
        Epochs completed and model size.
    best
        ``{"epoch", "metric", "value"}`` of the selected weights.
    final
        The last epoch's metrics.
    network_config, training_config
        The model's and the training's settings (``as_dict()``).
    data
        What training read (export path, SHA-256, counts, cell, B factor).
    training_history
        One row per epoch (kept in the data store).
    weights_blob
        The weights themselves (data store), when small enough and asked for.
    """

    task_label: Literal["training"] = "training"
    run_dir: str
    checkpoint_dir: str
    weights_sha256: str
    last_checkpoint: str | None = None
    last_checkpoint_sha256: str | None = None
    launcher: Literal["single", "torchrun"] = "single"
    world_size: int = 1
    device: str
    device_name: str | None = None
    wall_time_s: float
    epochs: int
    n_parameters: int
    best: dict[str, Any] | None = None
    final: dict[str, Any] = Field(default_factory=dict)
    network_config: SettingsDict = Field(default_factory=dict)
    training_config: SettingsDict = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    training_history: list[dict[str, Any]] = Field(default_factory=list)
    weights_blob: WeightsBlob | None = None
    provenance: Provenance


class EvaluationDocument(_Doc):
    """Output of :class:`~.jobs.EvaluateMaker`: the evaluation protocol on one split.

    Attributes
    ----------
    split
        Split evaluated (``"test"`` normally).
    n_crystals
        Crystals scored.
    checkpoint_dir, weights_sha256, export_sha256
        The model and the data evaluated.
    summary
        The report's tables: for each scored setting (model, baselines, control), mean and
        standard deviation of SSIM, PSNR, map CC and NMAE, rotation-only and
        translation-aware, as the evaluation package reports them.
    report
        The evaluation report as its package returns it (JSON-serialisable).
    report_files
        Files the report was written to (markdown, JSON), if any.
    per_crystal
        Scores of every crystal (data store).
    wall_time_s
        Seconds the evaluation took.
    """

    task_label: Literal["evaluation"] = "evaluation"
    split: str
    n_crystals: int
    checkpoint_dir: str
    weights_sha256: str
    export_sha256: str | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    report: dict[str, Any] = Field(default_factory=dict)
    report_files: list[str] = Field(default_factory=list)
    per_crystal: list[dict[str, Any]] = Field(default_factory=list)
    wall_time_s: float
    provenance: Provenance


class PatternDocument(_Doc):
    """A powder pattern to solve, with what is known of the crystal.

    Attributes
    ----------
    material_id, formula, crystal_system, split
        Identity of the crystal the pattern came from (if it came from a dataset).
    xrd_vector
        The model's 1024-bin Mo Kα vector (max 1).
    composition
        Formula given to the solver (``None``: no formula).
    lattice
        The cell (rows, Å) the density should live on, or None to index a cubic pattern.
    cell
        Canonical-cell convention of ``lattice``.
    """

    task_label: Literal["pattern"] = "pattern"
    material_id: str | None = None
    formula: str | None = None
    crystal_system: str | None = None
    split: str | None = None
    xrd_vector: list[float]
    composition: str | None = None
    lattice: list[list[float]] | None = None
    cell: str | None = None
    provenance: Provenance | None = None


class CandidateDocument(_Doc):
    """One candidate density of a solve.

    Attributes
    ----------
    rank
        The solver's rank (0 = best agreement).
    sample
        Latent sample index.
    cosine, rwp
        The solver's own agreement of the candidate's pattern with the input.
    electrons, density_max
        Integral over the cell and the largest value.
    density_grid
        The density (data store).
    """

    rank: int
    sample: int
    cosine: float
    rwp: float
    electrons: float
    density_max: float
    density_grid: DensityGrid


class SolveDocument(_Doc):
    """Output of :class:`~.jobs.SolveMaker`: candidate densities for one pattern.

    Attributes
    ----------
    model
        ``{"checkpoint_dir", "weights_sha256", "name"}`` of the model used.
    pattern
        Identity of the input (material id, formula) when known.
    composition, composition_mode
        Formula given and the ablation mode used.
    lattice, lattice_source
        The cell of the densities and where it came from (given or indexed).
    input_vector, covered
        The input on the model's axis and the bins it covers (for verification).
    n_candidates, grid, seed
        Solver settings.
    candidates
        Ranked candidates, best first.
    wall_time_s
        Seconds the solve took.
    """

    task_label: Literal["solve"] = "solve"
    model: dict[str, Any]
    pattern: dict[str, Any] = Field(default_factory=dict)
    composition: str | None = None
    composition_mode: str
    lattice: list[list[float]]
    lattice_source: str
    input_vector: list[float]
    covered: list[bool]
    n_candidates: int
    grid: int
    seed: int | None = None
    candidates: list[CandidateDocument]
    wall_time_s: float
    provenance: Provenance


class VerificationDocument(_Doc):
    """Output of :class:`~.jobs.VerifyMaker`: one candidate's forward pattern vs the input.

    Attributes
    ----------
    sample
        Latent sample verified.
    cosine, rwp
        Agreement of the candidate's computed pattern with the input (cosine: 1 = same;
        Rwp with least-squares scale: 0 = same) over ``compared_bins`` bins.
    electrons
        Integral of the density over the cell.
    forward_vector
        The candidate's 1024-bin pattern (data store).
    """

    task_label: Literal["verification"] = "verification"
    sample: int
    cosine: float
    rwp: float
    compared_bins: int
    electrons: float
    forward_vector: list[float]
    wall_time_s: float
    provenance: Provenance


class SolutionDocument(_Doc):
    """Output of the ranking step of :class:`~.flows.SolveVerifyMaker`.

    Attributes
    ----------
    ranking
        ``[{"rank", "sample", "cosine", "rwp", "solver_rank"}]``, best first by the
        independent verification.
    best_sample, best_cosine, best_rwp
        The winner.
    agrees_with_solver
        Whether the verification ranked the same candidate first as the solver did.
    density_grid
        The winner's density (data store).
    """

    task_label: Literal["solution"] = "solution"
    pattern: dict[str, Any] = Field(default_factory=dict)
    ranking: list[dict[str, Any]]
    best_sample: int
    best_cosine: float
    best_rwp: float
    agrees_with_solver: bool
    lattice: list[list[float]]
    density_grid: DensityGrid
    provenance: Provenance


# ---------------------------------------------------------------------------- run reports


class JobRecord(_Doc):
    """State of one job of a flow after a run.

    ``state`` is ``"completed"``, ``"failed"`` (with ``error``, the exception's last line,
    and ``traceback``), ``"not run"`` (a parent failed or the run stopped) or, on FireWorks,
    the Firework state in lower case (``"waiting"``, ``"running"``, …).
    """

    name: str
    uuid: str | None = None
    index: int | None = None
    state: str
    error: str | None = None
    traceback: str | None = None
    fw_id: int | None = None
    worker: str | None = None
    category: str | None = None
    output_class: str | None = None


class WorkflowReport(_Doc):
    """What happened to every job of a flow, from a local run or a LaunchPad.

    Attributes
    ----------
    manager
        ``"local"`` or ``"fireworks"``.
    store
        Description of the JobStore the outputs went to.
    jobs
        One record per job (replacement jobs included).
    """

    manager: Literal["local", "fireworks"]
    store: str
    root_dir: str | None = None
    wall_time_s: float | None = None
    jobs: list[JobRecord]

    @property
    def completed(self) -> bool:
        """Whether every job completed."""
        return all(j.state == "completed" for j in self.jobs)

    @property
    def failed(self) -> list[JobRecord]:
        """The jobs that failed."""
        return [j for j in self.jobs if j.state == "failed"]

    def by_name(self, name: str) -> list[JobRecord]:
        """Records whose job name is ``name``."""
        return [j for j in self.jobs if j.name == name]

    def table(self) -> str:
        """A plain-text table (name, state, error)."""
        width = max([len(j.name) for j in self.jobs] + [4])
        lines = [f"{'job':<{width}}  {'state':<10}  error"]
        for j in self.jobs:
            lines.append(f"{j.name:<{width}}  {j.state:<10}  {j.error or ''}")
        return "\n".join(lines)

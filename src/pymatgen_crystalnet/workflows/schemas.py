"""Output documents of the workflow jobs (pydantic models), in one namespace.

Every job of :mod:`pymatgen_crystalnet.workflows` returns one of these documents; jobflow
stores it in the JobStore's docs store. Fields that hold large objects (density grids,
training histories, weights, lists of material ids, forward patterns) are listed in
:data:`LARGE_FIELDS`; the job decorator (:func:`~.job_decorator.crystalnet_job`) sends them to
the JobStore's ``data`` store, leaving a reference (``blob_uuid``) in the document. Loading an
output with ``store.get_output(uuid, load=True)`` (or resolving a reference in a later job)
brings them back.

The documents are defined in:

- :mod:`.provenance`: the base :class:`Document` and :class:`Provenance` (versions, host, the
  Maker's settings, the identities of the inputs), carried by every document;
- :mod:`.density_grid`: :class:`DensityGrid`, a density packed losslessly;
- :mod:`.training_documents`: :class:`DatasetDocument`, :class:`WeightsBlob`,
  :class:`TrainingRunDocument`, :class:`EvaluationDocument`;
- :mod:`.solving_documents`: :class:`PatternDocument`, :class:`CandidateDocument`,
  :class:`SolveDocument`, :class:`VerificationDocument`, :class:`SolutionDocument`;
- :mod:`.workflow_report`: :class:`JobRecord`, :class:`WorkflowReport`.

Outputs stored before that split name this module (``"@module"``); it re-exports every document,
so they still load.
"""

from __future__ import annotations

from pymatgen_crystalnet.workflows.density_grid import DensityGrid
from pymatgen_crystalnet.workflows.provenance import Document, Provenance, SettingsDict, make_provenance
from pymatgen_crystalnet.workflows.solving_documents import (
    CandidateDocument,
    PatternDocument,
    SolutionDocument,
    SolveDocument,
    StructureDocument,
    VerificationDocument,
)
from pymatgen_crystalnet.workflows.training_documents import (
    DatasetDocument,
    EvaluationDocument,
    TrainingRunDocument,
    WeightsBlob,
)
from pymatgen_crystalnet.workflows.workflow_report import JobRecord, WorkflowReport

__all__ = [
    "LARGE_FIELDS",
    "CandidateDocument",
    "DatasetDocument",
    "DensityGrid",
    "Document",
    "EvaluationDocument",
    "JobRecord",
    "PatternDocument",
    "Provenance",
    "SettingsDict",
    "SolutionDocument",
    "SolveDocument",
    "StructureDocument",
    "TrainingRunDocument",
    "VerificationDocument",
    "WeightsBlob",
    "WorkflowReport",
    "make_provenance",
]

#: Field names whose values go to the JobStore's ``data`` store (see :mod:`.job_decorator`).
LARGE_FIELDS: tuple[str, ...] = (
    "density_grid",
    "training_history",
    "weights_blob",
    "material_ids",
    "forward_vector",
    "per_crystal",
)

"""The base of every workflow document, and :class:`Provenance`: where a document came from.

Each document carries a :class:`Provenance`: the package and library versions, the host, the
Maker's settings and the identities (paths and SHA-256 digests, material ids) of the data it
read.
"""

from __future__ import annotations

import platform
import socket
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["Document", "Provenance", "SettingsDict", "make_provenance"]

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


class Document(BaseModel):
    """Base of the workflow documents: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=False)


class Provenance(Document):
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

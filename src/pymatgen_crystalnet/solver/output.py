"""The files of a solve: one result set, written into its folder all at once.

:func:`write_result_set` writes, for a :class:`~pymatgen_crystalnet.solver.result.SolveResult`:

- per candidate density N (1 = best agreement): ``candidate_N.vasp`` (CHGCAR format) and
  ``candidate_N.xsf`` with the candidate's atoms, and ``candidate_N.cif`` (its refined structure,
  symmetrised); a candidate without atoms gets ``candidate_N.cube`` instead (pymatgen's CHGCAR
  needs at least one atom; the cube format does not, so no placeholder atom is written);
- per refined structure N of the solve (1 = lowest Rwp, search models included):
  ``structure_N.cif``;
- ``summary.json`` (inputs, candidates, structures with their figures of merit) and, when a
  figure writer is given, ``solve.png``.

The set is written into a staging folder and swapped in for the previous one as a whole
(:func:`pymatgen_crystalnet.io.result_folder.write_folder_atomically`): no half-written set,
no stale candidate of an earlier run, and a folder that holds anything else is refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.atomic import atomic_write
from pymatgen_crystalnet.io.result_folder import (
    OutputFolderError,
    check_output_folder,
    write_folder_atomically,
)
from pymatgen_crystalnet.jsonsafe import finite_or_none
from pymatgen_crystalnet.solver.result import CIF_SYMPREC

if TYPE_CHECKING:
    from pymatgen_crystalnet.solver.result import Candidate, SolveResult

__all__ = [
    "OutputFolderError",
    "check_result_folder",
    "is_result_file",
    "result_file_names",
    "write_result_set",
]

logger = logging.getLogger(__name__)

#: Names of the files a result set may hold (earlier versions' names included).
_RESULT_FILE = re.compile(
    r"^(candidate_\d+\.(vasp|xsf|cif|cube)|structure_\d+\.cif|summary\.json|solve\.png)$"
)


def is_result_file(name: str) -> bool:
    """Whether ``name`` is the name of a file of a solve's result set."""
    return bool(_RESULT_FILE.match(name))


def check_result_folder(out: str | os.PathLike) -> None:
    """Raise :class:`OutputFolderError` if ``out`` could not take a result set (before solving)."""
    check_output_folder(out, is_result_file)


def _candidate_files(cand: Candidate) -> list[str]:
    stem = f"candidate_{cand.rank + 1}"
    if cand.atoms() is None:
        return [f"{stem}.cube"]
    return [f"{stem}.vasp", f"{stem}.xsf", f"{stem}.cif"]


def result_file_names(result: SolveResult, figure: bool = True) -> list[str]:
    """The files :func:`write_result_set` writes for ``result``."""
    names = [name for cand in result for name in _candidate_files(cand)]
    names += [f"structure_{s.rank + 1}.cif" for s in result.structures]
    return [*names, "summary.json", *(["solve.png"] if figure else [])]


def _write_candidate(cand: Candidate, folder: Path, symprec: float | None) -> None:
    from pymatgen_crystalnet.io.density_files import write_density

    stem = folder / f"candidate_{cand.rank + 1}"
    atoms = cand.atoms()
    if atoms is None:
        cand.density.to_cube(f"{stem}.cube", comment="CMED x V (pymatgen convention); no atoms known")
        return
    write_density(cand.grid, atoms, f"{stem}.vasp", fmt="chgcar")
    write_density(cand.grid, atoms, f"{stem}.xsf")
    with atomic_write(f"{stem}.cif") as fh:
        fh.write(cand.solution.cif(symprec))  # type: ignore[union-attr]


def write_result_set(
    result: SolveResult,
    out: str | os.PathLike,
    *,
    figure: Callable[[SolveResult, Path], None] | None = None,
    extra_summary: dict[str, Any] | None = None,
    symprec: float | None = CIF_SYMPREC,
) -> list[str]:
    """Write the files of ``result`` into the folder ``out``, replacing its previous set.

    Parameters
    ----------
    result
        What a solve returned.
    out
        The output folder; absent, empty, or holding a previous result set only.
    figure
        ``figure(result, path)`` writes the summary figure (``solve.png``); None: no figure.
    extra_summary
        Entries put first in ``summary.json`` (the pattern file, the composition, …).
    symprec
        Symmetry tolerance (Å) of the CIFs (pymatgen ``CifWriter(symprec=...)``); None: P1.

    Returns
    -------
    list of str
        The names of the files written.

    Raises
    ------
    OutputFolderError
        The folder cannot be written or holds files of something else; it is then unchanged.
    """

    def write(folder: Path) -> None:
        for cand in result:
            _write_candidate(cand, folder, symprec)
        for solved in result.structures:
            with atomic_write(folder / f"structure_{solved.rank + 1}.cif") as fh:
                fh.write(solved.cif(symprec))
        summary = finite_or_none({**(extra_summary or {}), **result.summary()})
        summary["files"] = result_file_names(result, figure is not None)
        with atomic_write(folder / "summary.json") as fh:
            json.dump(summary, fh, indent=1, allow_nan=False)
        if figure is not None:
            figure(result, folder / "solve.png")
        written = sorted(p.name for p in folder.iterdir())
        if written != sorted(summary["files"]):
            raise OutputFolderError(f"The result set came out as {written}, not {sorted(summary['files'])}.")

    write_folder_atomically(out, write, is_result_file)
    logger.info("Wrote the result set of %d candidates into %s", len(result), out)
    return result_file_names(result, figure is not None)

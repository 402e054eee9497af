"""Write a set of output files into a folder all at once, replacing the previous set as a whole.

:func:`write_folder_atomically` lets a writer fill a fresh staging folder beside the target
(``.NAME.staging-PID-XXXX``); only when every file is written is the staging folder renamed onto
the target, the previous folder having been moved aside first (``.NAME.old-PID-XXXX``) and
removed after. So:

- a file that cannot be written (a directory in its way, a full disk, no permission) leaves the
  target exactly as it was, and the error names the problem;
- a re-run with fewer files leaves no stale file of the earlier run (the folder is replaced);
- a run that is killed leaves its staging folder behind; the next run into the same target
  removes staging folders whose process is gone (and puts back a previous folder that a kill
  left moved aside).

The target must be absent, empty, or hold only regular files whose names the caller's
``owned`` predicate accepts (a previous result set): a folder holding anything else (your own
files, a subfolder) is refused rather than replaced, so ``-o .`` cannot delete a working folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["OutputFolderError", "check_output_folder", "clean_stale_staging", "write_folder_atomically"]

logger = logging.getLogger(__name__)

_STAGING = "staging"
_OLD = "old"


class OutputFolderError(ValueError):
    """The output folder cannot be written or replaced (the message names the path and why)."""


def _hidden(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner_pid(name: str, prefix: str) -> int | None:
    rest = name[len(prefix) :]
    pid = rest.split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def clean_stale_staging(target: str | os.PathLike) -> list[Path]:
    """Remove staging folders of ``target`` left by runs that are gone; restore a moved-aside set.

    Returns the paths removed (or restored). Folders of a process still running are left alone.
    """
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    handled = []
    for kind in (_OLD, _STAGING):
        prefix = f".{target.name}.{kind}-"
        for path in sorted(parent.glob(f"{prefix}*")):
            pid = _owner_pid(path.name, prefix)
            if pid is None or _pid_alive(pid) or not path.is_dir():
                continue
            if kind == _OLD and not target.exists():
                path.rename(target)  # killed between the two renames: the previous set comes back
                logger.warning("Restored %s from %s left by an interrupted run", target, path.name)
            else:
                shutil.rmtree(path, ignore_errors=True)
                logger.info("Removed %s left by an interrupted run", path)
            handled.append(path)
    return handled


def check_output_folder(target: str | os.PathLike, owned: Callable[[str], bool]) -> None:
    """Raise :class:`OutputFolderError` now if ``target`` could not take a result set.

    The checks :func:`write_folder_atomically` makes before writing, for a caller that wants
    to fail before a long computation: the target is absent, empty or holds only owned files,
    and it (or the nearest existing folder above it) is writable.
    """
    target = Path(target)
    _check_target(target, owned)
    existing = target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFolderError(f"Cannot write into {existing}: it is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputFolderError(f"Cannot write into {existing} (permission denied).")


def _check_target(target: Path, owned: Callable[[str], bool]) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputFolderError(f"Output folder {target} exists and is not a folder.")
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputFolderError(f"Output folder {target} is not writable (permission denied).")
    foreign = [p.name for p in target.iterdir() if not (p.is_file() and not p.is_symlink() and owned(p.name))]
    if foreign:
        listed = ", ".join(sorted(foreign)[:5]) + (", …" if len(foreign) > 5 else "")
        raise OutputFolderError(
            f"Output folder {target} holds {listed}, which is not a file of this output; "
            "the folder is left as it is. Remove it or choose another folder."
        )


def _describe(exc: OSError) -> str:
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{reason}{where}"


def write_folder_atomically(
    target: str | os.PathLike,
    write: Callable[[Path], None],
    owned: Callable[[str], bool],
) -> Path:
    """Fill a staging folder with ``write(staging)`` and swap it in for ``target`` as a whole.

    Parameters
    ----------
    target
        The output folder (created with its parents if needed).
    write
        Writes every file of the set into the folder it is given.
    owned
        Whether a file name belongs to the set (the target may hold only such files).

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    OutputFolderError
        The target cannot be used or a file cannot be written; the target is then unchanged.
    """
    target = Path(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(f"Cannot create the folder {parent}: {_describe(exc)}.") from exc
    if not parent.is_dir():
        raise OutputFolderError(f"Cannot write into {parent}: it is not a folder.")
    clean_stale_staging(target)
    _check_target(target, owned)
    try:
        staging = Path(tempfile.mkdtemp(prefix=_hidden(target, _STAGING), dir=parent))
    except OSError as exc:
        raise OutputFolderError(f"Cannot write into {parent}: {_describe(exc)}.") from exc
    try:
        os.chmod(staging, 0o777 & ~_umask())
        try:
            write(staging)
        except OSError as exc:
            raise OutputFolderError(
                f"Could not write the output into {target}: {_describe(exc)}; the folder is left as it was."
            ) from exc
        _swap(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap(staging: Path, target: Path) -> None:
    """Rename ``staging`` onto ``target``, moving a previous ``target`` aside and removing it."""
    old = None
    try:
        if target.exists():
            old = target.parent / f"{_hidden(target, _OLD)}{uuid.uuid4().hex[:8]}"
            target.rename(old)
        staging.rename(target)
    except OSError as exc:
        if old is not None and old.exists() and not target.exists():
            old.rename(target)
        raise OutputFolderError(
            f"Could not replace {target}: {_describe(exc)}; it is left as it was."
        ) from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

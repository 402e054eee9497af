"""Errors of the dataset pipeline's files and stores.

Both are ``ValueError`` subclasses, so ``except ValueError`` catches them; their messages name
the file (and where in it the problem is) and the problem.
"""

from __future__ import annotations

import os

__all__ = ["DataFileError", "StoreLocationError"]


class DataFileError(ValueError):
    """A dataset file (an ``.npz`` export, a ``.jsonl``/``.jsonl.gz`` corpus) that is broken.

    Parameters
    ----------
    path
        The file.
    problem
        What is wrong and, where known, where (line, byte offset, array).
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.path, self.problem))


class StoreLocationError(DataFileError):
    """A store location that cannot be a store, such as an existing file given as the folder."""

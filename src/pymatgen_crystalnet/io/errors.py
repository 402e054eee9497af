"""The one error type the pattern readers raise for a file they cannot read.

:class:`PatternFileError` is a ``ValueError``, so ``except ValueError`` catches it too. Its
message names the file (and, where it helps, the block, line or point) and the problem; the
attributes hold both parts for programs.
"""

from __future__ import annotations

import os

__all__ = ["PatternFileError"]


class PatternFileError(ValueError):
    """A powder-pattern file that is missing, unreadable or malformed.

    Parameters
    ----------
    path
        The file.
    problem
        What is wrong with it, in words (one sentence or two).

    Attributes
    ----------
    path : str
        The file, as given.
    problem : str
        The problem, without the file name.
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # picklable across processes
        return (type(self), (self.path, self.problem))

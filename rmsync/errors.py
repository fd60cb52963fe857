"""The failures rmsync reports: one base class, and problems located in a document.

Owns: RmsyncError (every failure the user can act on derives from it), Problem (one thing
wrong at file:line) and DocumentError (all of a document's problems at once). Subclasses
live beside the code that raises them; only the CLI's edge turns them into messages and exit
codes. Must not: import anything from rmsync, print, log or exit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class RmsyncError(Exception):
    """A failure the user can act on; its message is shown as is."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a document, at a place a person can find."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class DocumentError(RmsyncError):
    """A document has one or more problems; all of them are listed, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

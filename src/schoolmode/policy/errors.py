"""Errors raised while reading policy and case files.

Every error names the file, the line and the key, says what was expected and, where it
can, suggests the fix. The messages are public API: tests pin their wording.

    SchoolmodeError              exit code 2: the request cannot be done as asked
    ├── StoreError               exit code 3: the store is missing, uninitialised or behind
    ├── UnknownIdError           exit code 4: an id (school, run, policy...) the store lacks
    │   └── UnknownPolicyError   a policy id that no file defines
    ├── BusyError                exit code 5: another writer holds the store
    └── InputDataError           exit code 6: an input file that does not validate
        └── PolicyFileError      a policy, overlay or case file is malformed

``exit_code`` is the code the command line exits with (docs/exit-codes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PATH_MARK = "\x1f"
"""Separates the path and the message of each entry of a model validator's ValueError, so the
YAML reader can point at the line of each problem (``model.check_references``)."""


class SchoolmodeError(Exception):
    """Base of every error schoolmode raises on purpose."""

    exit_code: int = 2
    """The command line's exit code for this kind of error (docs/exit-codes.md)."""


class StoreError(SchoolmodeError):
    """The store is missing, not initialised, at an older schema or cannot be opened."""

    exit_code = 3


class UnknownIdError(SchoolmodeError):
    """An id (a school, a classroom, a run, a policy, a rule...) that is not known."""

    exit_code = 4


class BusyError(SchoolmodeError):
    """Another writer holds the store (or the dataset) for longer than the wait allowed."""

    exit_code = 5


class InputDataError(SchoolmodeError):
    """An input file (data, policy, case) that does not validate."""

    exit_code = 6


@dataclass
class Problem:
    key: str
    message: str
    line: int | None = None
    hint: str | None = None

    def render(self, path: Path | str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else f"{path}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        if self.hint:
            text += f"\n    fix: {self.hint}"
        return text


class PolicyFileError(InputDataError):
    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.path} is not a valid schoolmode file ({len(self.problems)} problem(s)):"
        return "\n".join([head, *("  " + p.render(self.path) for p in self.problems)])


class UnknownPolicyError(UnknownIdError):
    def __init__(self, policy_id: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(policy_id, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        super().__init__(
            f"No policy with id {policy_id!r}.{hint} Run `schoolmode policy list` to see the "
            f"{len(known)} known policies."
        )

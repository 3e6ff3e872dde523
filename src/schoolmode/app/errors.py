"""Errors of the use cases: the domain's lookup, value and file errors as ``SchoolmodeError``s
with the same message, so that every face reports them as the request's error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from schoolmode.policy.errors import SchoolmodeError


class UseCaseError(SchoolmodeError):
    """A use case could not run on its input (missing data, a bad value, a missing file)."""


@contextmanager
def as_use_case_errors(*kinds: type[Exception]) -> Iterator[None]:
    """Exceptions of ``kinds`` raised inside as a ``UseCaseError`` with the same message
    (a ``SchoolmodeError`` passes unchanged)."""
    try:
        yield
    except SchoolmodeError:
        raise
    except kinds as exc:
        raise UseCaseError(str(exc)) from exc

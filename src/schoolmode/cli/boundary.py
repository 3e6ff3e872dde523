"""The command line's one error boundary: every failure of a command as one line saying what
to do, with an exit code per kind (docs/exit-codes.md); an unexpected one also writes its
full traceback to a crash file in the cache folder and says where.

| code | meaning |
|---|---|
| 0 | done |
| 1 | done, and what it checked failed (a refused import file, a failing worked case...) |
| 2 | bad usage: an unknown command or option, a bad option value, a request it cannot do |
| 3 | the store: missing, not initialised, at an older schema, or cannot be opened |
| 4 | an unknown id (a school, classroom, unit, run, policy, rule, decision...) |
| 5 | the store is locked by another writer for longer than the wait |
| 6 | an input file that does not validate |
| 7 | the store lacks the data the command needs |
| 70 | an unexpected failure (a bug): the traceback is in the crash file named |
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from pathlib import Path

from schoolmode.policy.errors import SchoolmodeError

MISSING_DATA = 7
CRASH = 70


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _database_error(exc: Exception) -> tuple[int, str] | None:
    """A SQLAlchemy error as (exit code, message): locked, a missing table or column (an
    older schema), a store that cannot be opened; None for another error."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.DBAPIError):
        return None
    detail = _first_line(str(exc.orig) if exc.orig is not None else str(exc))
    lowered = detail.lower()
    if "database is locked" in lowered or "lock timeout" in lowered:
        return 5, f"the store is locked by another writer ({detail}); try again when it is done"
    if "no such table" in lowered or "no such column" in lowered or "does not exist" in lowered:
        return 3, (
            f"the store lacks a table or column this version needs ({detail}): run "
            "`schoolmode db upgrade` (after a backup), or `schoolmode init` on a new store"
        )
    if isinstance(exc, sa_exc.OperationalError):
        return 3, f"cannot use the store ({detail}); check --db / SCHOOLMODE_DB"
    return None


def _crash_dir() -> Path:
    try:
        from schoolmode.settings import AppSettings

        return AppSettings.load().cache_dir
    except Exception:  # the settings themselves may be what failed
        return Path(tempfile.gettempdir())


def write_crash(exc: BaseException) -> Path:
    """The full traceback of ``exc`` (with the command line) in ``crash-<UTC time>.txt`` under
    the cache folder (``SCHOOLMODE_CACHE``; the temporary folder if that cannot be written)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    text = (
        f"schoolmode {' '.join(sys.argv[1:])}\n{dt.datetime.now(dt.UTC).isoformat()}\n\n"
        + "".join(traceback.format_exception(exc))
    )
    for folder in (_crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    raise exc


def classify(exc: Exception) -> tuple[int, str, bool]:
    """(exit code, one-line message, whether it was unexpected) for a command's failure."""
    if isinstance(exc, SchoolmodeError):
        return exc.exit_code, str(exc), False
    database = _database_error(exc)
    if database is not None:
        return database[0], database[1], False
    frames = sys.modules.get("schoolmode.metrics.frames")
    if frames is not None and isinstance(exc, frames.MissingDataError):
        return MISSING_DATA, f"missing data: {exc}", False
    if isinstance(exc, OSError) and exc.filename is not None:
        return 2, f"{exc.strerror or exc}: {exc.filename}", False
    crash = write_crash(exc)
    return (
        CRASH,
        f"unexpected failure ({type(exc).__name__}: {_first_line(str(exc))}); the full "
        f"traceback is in {crash}: please report it",
        True,
    )


def report(exc: Exception) -> int:
    """Print ``exc`` as the command's one-line error; the exit code."""
    from schoolmode.cli.common import fail

    code, message, _ = classify(exc)
    return fail(SchoolmodeError(message), code).exit_code

"""What every command shares: the console, the common options, date parsing, the error exit,
and the application context a command runs its use case in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from schoolmode import DEFAULT_DB_URL
from schoolmode.policy.errors import SchoolmodeError

if TYPE_CHECKING:
    from schoolmode.app.context import Context, StoreUse

console = Console(highlight=False)
if not console.is_terminal:
    console = Console(highlight=False, width=180)

DB_HELP = (
    f"Store URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (default: $SCHOOLMODE_DB, "
    f"else {DEFAULT_DB_URL}, relative to the current folder)."
)
"""The one help text of every command's ``--db``."""
DbOption = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
RemovalsOption = Annotated[
    bool,
    typer.Option(
        "--allow-removals",
        help="Let a file remove the stored rows of its dataset that it lacks (without it, such "
        "a file is refused, saying how many rows it would remove).",
    ),
]
PoliciesDir = Annotated[Path | None, typer.Option("--policies-dir", help="Folder of policies.")]


class ProgressSteps:
    """A use case's long work (``app.progress.Steps``) as a rich progress bar: started with the
    first task, gone when done; a step may name what comes next."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self.stop()  # a new task replaces the one before (one live display at a time)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task(description, total=total)

    def advance(self, description: str | None = None) -> None:
        if self.bar is not None and self.task is not None:
            if description is None:
                self.bar.advance(self.task)
            else:
                self.bar.update(self.task, advance=1, description=description)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@contextmanager
def stages(first: str) -> Iterator[Callable[[str], None]]:
    """Long work told stage by stage (opening the store, reading, deciding, storing...): a
    spinner with the stage and the time elapsed, gone when done; yields what names the next
    stage. Only on a terminal: piped or captured output stays the command's result alone."""
    if not console.is_terminal:
        yield lambda description: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(first, total=None)
        yield lambda description: progress.update(task, description=description)


def parse_day(text: str, option: str) -> dt.date:
    """``text`` as a date, or an error naming ``option``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SchoolmodeError(f"{option} {text!r} is not a date written YYYY-MM-DD") from None


def fail(exc: Exception, code: int | None = None) -> typer.Exit:
    """Print ``exc`` as the command's error (on one line however long); the exit to raise:
    ``code``, else the error's own (``SchoolmodeError.exit_code``), else 2."""
    from rich.markup import escape

    console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True)
    if code is None:
        code = exc.exit_code if isinstance(exc, SchoolmodeError) else 2
    return typer.Exit(code=code)


@contextmanager
def app_context(
    db: str | None = None, policies_dir: Path | None = None, store: StoreUse = "initialised"
) -> Iterator[Context]:
    """The use cases' context for one command (settings from the environment with ``--db`` and
    ``--policies-dir`` on top), closed afterwards. ``store``: what the store must be when the
    command first uses it (``Context.store``: only ``init`` and ``db upgrade`` create one). A
    ``SchoolmodeError`` inside is the command's error (printed, its exit code)."""
    from pydantic import ValidationError

    from schoolmode.app.context import Context
    from schoolmode.settings import AppSettings

    try:
        ctx = Context(AppSettings.load(db_url=db, policies_dir=policies_dir), store=store)
    except ValidationError as exc:  # a settings value that does not validate
        raise fail(SchoolmodeError(_settings_error(exc))) from None
    except ValueError as exc:
        raise fail(exc) from None
    try:
        yield ctx
    except SchoolmodeError as exc:
        raise fail(exc) from None
    finally:
        ctx.close()


def store_url(db: str | None) -> str:
    """``--db``, else the settings' store URL (``SCHOOLMODE_DB`` or the default)."""
    from schoolmode.settings import AppSettings

    return db or AppSettings.load().db_url


def policies_root(policies_dir: Path | None) -> Path | None:
    """``--policies-dir``, else the settings' folder (``SCHOOLMODE_POLICIES``; None: the
    policies shipped with the package)."""
    from schoolmode.settings import AppSettings

    return policies_dir or AppSettings.load().policies_dir


def data_root(data_dir: Path | None = None) -> Path:
    """``--data-dir``, else the settings' data folder (``SCHOOLMODE_DATA``,
    else the snapshot shipped in the package)."""
    from schoolmode.settings import AppSettings

    return data_dir or AppSettings.load().data_dir


def _settings_error(exc: Any) -> str:
    """A settings ``ValidationError`` on one line: each bad setting (its environment variable
    or option) and what is wrong with it."""
    names = {
        "db_url": "--db / SCHOOLMODE_DB",
        "policies_dir": "--policies-dir / SCHOOLMODE_POLICIES",
    }
    parts = []
    for error in exc.errors():
        field = ".".join(str(x) for x in error.get("loc", ()))
        where = names.get(field, f"SCHOOLMODE_{field.upper()}" if field else "settings")
        parts.append(f"{where}: {error.get('msg', '')}")
    return "; ".join(parts)

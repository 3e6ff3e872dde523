"""Data commands: ``init``, ``status``, ``db upgrade``, ``import SOURCE PATH``, ``import chicago``;
the face of ``schoolmode.app.data``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from schoolmode.cli.common import DbOption, RemovalsOption, app_context, fail, parse_day
from schoolmode.cli.common import console as stdout

if TYPE_CHECKING:
    from schoolmode.app.context import Context
    from schoolmode.app.coverage import CoverageResult
    from schoolmode.app.data import ImportOutcome, ImportReport, StoreStatus
    from schoolmode.store.service import Parser

ByOption = Annotated[str | None, typer.Option("--by", help="Who imports (default: the OS user).")]


class ImportGroup(TyperGroup):
    """``schoolmode import SOURCE PATH`` as a shorthand of ``schoolmode import file SOURCE PATH``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands:
            from schoolmode.importers import IMPORTERS  # polars: only for a source id

            if args[0] in IMPORTERS:
                args = ["file", *args]
        return super().resolve_command(ctx, args)


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import source files into the store (one file, or the files of one command, = one "
    "transaction; one import of a source at a time).",
    no_args_is_help=True,
    cls=ImportGroup,
)
console = Console(stderr=True)


def _migrated(ctx: Context) -> None:
    """Refuse a store at an older schema (a missing or uninitialised one is refused when the
    context opens it: ``Context.store``)."""
    from schoolmode.app.data import schema_is_current, store_shown
    from schoolmode.policy.errors import StoreError

    if not schema_is_current(ctx):
        raise fail(
            StoreError(
                f"the store {store_shown(ctx)} is at an older schema: run `schoolmode db "
                "upgrade` (after a backup)"
            )
        )


def init(db: DbOption = None) -> None:
    """Create (or bring up to date) the store's tables."""
    from schoolmode.app.data import init_store

    with app_context(db, store="create") as ctx:
        ready = init_store(ctx)
    typer.echo(f"store ready at {ready.url} (schema {ready.revision})")


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Run the store's migrations."""
    from schoolmode.app.data import UpgradeRequest, upgrade_store

    with app_context(db, store="create") as ctx:
        change = upgrade_store(ctx, UpgradeRequest(revision=revision))
    typer.echo(f"schema {change.before or '(empty)'} -> {change.after}")


@db_app.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="The PostgreSQL role the application uses.")],
    db: DbOption = None,
) -> None:
    """Give the application's PostgreSQL role least privilege (run as the store's owner,
    again after each upgrade): read and add to the audit tables, never change, truncate or
    alter them."""
    from schoolmode.app.data import GrantRequest, grant_app_role

    with app_context(db) as ctx:
        done = grant_app_role(ctx, GrantRequest(role=role))
    typer.echo(
        f"role {done.role}: read and add to {len(done.append_only)} append-only tables "
        f"({', '.join(done.append_only)}); read and change {len(done.writable)} others; "
        "no TRUNCATE, no ALTER, no CREATE"
    )


class _Bars:
    """The import's progress as a rich progress bar per file (on stderr, gone when done); a
    wait for another import said on stderr; each file's outcome echoed once the import is
    over (committed, or refused as a whole)."""

    def __init__(self) -> None:
        self._bar: Progress | None = None

    def waiting(self, message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    def _stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def file_started(self, source: str, path: Path) -> None:
        self._stop()
        self._bar = Progress(
            TextColumn(f"{source} {path.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("write", total=None)

    def rows_written(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def file_finished(self, outcome: ImportOutcome) -> None:
        self._stop()
        if outcome.error is not None:
            typer.echo(outcome.error, err=True)
        else:
            typer.echo(outcome.summary)


def _done(report: ImportReport) -> None:
    if report.failed:
        raise typer.Exit(1)


def run_imports(
    ctx: Context,
    jobs: Sequence[tuple[Parser, Path]],
    by: str | None,
    allow_removals: bool = False,
) -> None:
    """Import ``jobs`` (parser, file) into the context's store, each file's outcome echoed;
    exit 1 if any file failed."""
    from schoolmode.app.data import ImportJob, ImportRequest, import_files

    request = ImportRequest(
        jobs=[ImportJob(parser=p, path=f) for p, f in jobs], by=by, allow_removals=allow_removals
    )
    _done(import_files(ctx, request, _Bars()))


@import_app.command("chicago")
def import_chicago(
    db: DbOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            "--data-dir",
            help="Folder of the source files, as is or gzip-compressed (default: "
            "$SCHOOLMODE_DATA, else the snapshot shipped with schoolmode).",
        ),
    ] = None,
    by: ByOption = None,
    allow_removals: RemovalsOption = False,
) -> None:
    """Import every Chicago source: the snapshot shipped with schoolmode, or another folder."""
    from schoolmode.app.data import ImportChicagoRequest
    from schoolmode.app.data import import_chicago as run

    with app_context(db) as ctx:
        _migrated(ctx)
        req = ImportChicagoRequest(data_dir=data_dir, by=by, allow_removals=allow_removals)
        _done(run(ctx, req, _Bars()))


@import_app.command("file")
def import_file(
    source: Annotated[
        str, typer.Argument(help="Source id; `schoolmode import sources` lists them.")
    ],
    path: Annotated[Path, typer.Argument(help="File to import.")],
    db: DbOption = None,
    by: ByOption = None,
    allow_removals: RemovalsOption = False,
) -> None:
    """Import one file of SOURCE (also reachable as `schoolmode import SOURCE PATH`)."""
    from schoolmode.app.data import ImportFileRequest, UnknownSource, parser_for
    from schoolmode.app.data import import_file as run

    try:
        parser_for(source)
    except UnknownSource as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    with app_context(db) as ctx:
        _migrated(ctx)
        req = ImportFileRequest(source=source, path=path, by=by, allow_removals=allow_removals)
        _done(run(ctx, req, _Bars()))


@import_app.command("sources")
def import_sources() -> None:
    """List the sources that can be imported."""
    from schoolmode.app.data import list_sources

    for row in list_sources():
        flag = " [chicago]" if row.chicago else ""
        typer.echo(f"{row.source}{flag}: {row.title}")


def status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    series: Annotated[
        str | None,
        typer.Option(
            "--series",
            metavar="DATE",
            help="Also list every data series (source, geography, metric): its first and last "
            "day in the store and whether it has rows on DATE (YYYY-MM-DD).",
        ),
    ] = None,
) -> None:
    """The store in use, its schema, row counts and the last import of each source."""
    # the store: its URL and a SQLite file's absolute path; a missing or uninitialised store
    # is said in one line (exit code 3)
    from schoolmode.app.data import store_status

    on = parse_day(series, "--series") if series is not None else None
    with app_context(db) as ctx:
        _migrated(ctx)
        current = store_status(ctx)
        if on is not None:
            from schoolmode.app.coverage import CoverageRequest, data_coverage

            covered = data_coverage(ctx, CoverageRequest(first=on))
    if on is not None:
        if as_json:
            typer.echo(covered.model_dump_json(indent=2))
            return
        _print_status(current)
        _print_series(covered)
        return
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "store": current.url,
                    "path": current.path,
                    "schema": current.schema_revision,
                    "rows": current.rows,
                    "last_imports": current.last_imports,
                },
                indent=2,
            )
        )
        return
    _print_status(current)


def _print_series(covered: CoverageResult) -> None:
    table = Table(
        title=f"Data series, and whether each has rows dated {covered.first} (a weekly "
        "series' rows are dated by their week's first day)"
    )
    for name in ("source", "geography", "metric", "first day", "last day", "rows that day"):
        table.add_column(name)
    for s in covered.series:
        table.add_row(
            s.source,
            s.geography_type,
            s.metric,
            s.starts.isoformat(),
            s.ends.isoformat(),
            "yes" if s.days else "no",
        )
    stdout.print(table)
    missing = covered.without_rows()
    stdout.print(
        f"{len(missing)} of {len(covered.series)} series have no rows on {covered.first}"
        + (
            f" (e.g. {missing[0].source}/{missing[0].metric}, ends {missing[0].ends})"
            if missing
            else ""
        )
    )


def _print_status(current: StoreStatus) -> None:
    out = Console()
    where = current.url if current.path is None else f"{current.url} ({current.path})"
    out.print(f"store: {where}, schema {current.schema_revision}", markup=False, soft_wrap=True)
    table = Table(title="records")
    table.add_column("record type")
    table.add_column("rows", justify="right")
    for name, n in current.rows.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    imports = Table(title="last import per source")
    for col in ("source", "dataset", "file", "when", "by", "rows", "+", "~", "-"):
        imports.add_column(col)
    for r in current.last_imports:
        imports.add_row(
            r["source"],
            r["dataset"],
            r["file_name"],
            r["imported_at"],
            r["imported_by"],
            str(r["rows_in_file"]),
            str(r["rows_added"]),
            str(r["rows_changed"]),
            str(r["rows_removed"]),
        )
    out.print(imports)


def register(app: typer.Typer) -> None:
    """Add the data commands to the top-level app."""
    app.command("init")(init)
    app.command("status")(status)
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")

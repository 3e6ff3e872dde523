"""Data commands: ``init``, ``status``, ``db upgrade``, ``import SOURCE PATH``, ``import chicago``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select
from typer.core import TyperGroup

from schoolmode.cli.common import data_root, store_url
from schoolmode.importers import CHICAGO, IMPORTERS
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import current_revision, head_revision, upgrade
from schoolmode.store.service import ImportFailed, ImportResult, Parser, row_counts, run_import
from schoolmode.store.tables import import_log

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default $SCHOOLMODE_DB or sqlite:///schoolmode.sqlite)."
    ),
]
ByOption = Annotated[str | None, typer.Option("--by", help="Who imports (default: the OS user).")]


class ImportGroup(TyperGroup):
    """``schoolmode import SOURCE PATH`` as a shorthand of ``schoolmode import file SOURCE PATH``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] in IMPORTERS:
            args = ["file", *args]
        return super().resolve_command(ctx, args)


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import source files into the store (one file = one transaction).",
    no_args_is_help=True,
    cls=ImportGroup,
)
console = Console(stderr=True)


@contextmanager
def _engine(db: str | None) -> Iterator[Engine]:
    engine = make_engine(store_url(db))
    try:
        yield engine
    finally:
        engine.dispose()


def _migrated(engine: Engine) -> None:
    if current_revision(engine) != head_revision():
        console.print(
            "[red]the database is not at the latest schema: run `schoolmode db upgrade`[/]"
        )
        raise typer.Exit(2)


def init(db: DbOption = None) -> None:
    """Create (or bring up to date) the store's tables."""
    with _engine(db) as engine:
        revision = upgrade(engine)
        typer.echo(
            f"store ready at {engine.url.render_as_string(hide_password=True)} (schema {revision})"
        )


@db_app.command("upgrade")
def db_upgrade(
    db: DbOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Run the store's migrations."""
    with _engine(db) as engine:
        before = current_revision(engine)
        after = upgrade(engine, revision)
        typer.echo(f"schema {before or '(empty)'} -> {after}")


def _import_one(engine: Engine, importer: Parser, path: Path, by: str | None) -> ImportResult:
    with Progress(
        TextColumn(f"{importer.source} {path.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("write", total=None)

        def progress(_stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return run_import(engine, importer, path, imported_by=by, progress=progress)


def run_imports(engine: Engine, jobs: Sequence[tuple[Parser, Path]], by: str | None) -> None:
    failed = False
    for importer, path in jobs:
        try:
            result = _import_one(engine, importer, path, by)
        except (FileValidationError, ImportFailed, FileNotFoundError) as exc:
            typer.echo(str(exc), err=True)
            failed = True
            continue
        typer.echo(result.summary())
    if failed:
        raise typer.Exit(1)


@import_app.command("chicago")
def import_chicago(
    db: DbOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Shared data folder (default $SCHOOLMODE_SHARED/data or ../shared/data)."
        ),
    ] = None,
    by: ByOption = None,
) -> None:
    """Import every Chicago source from the shared data folder."""
    with _engine(db) as engine:
        _migrated(engine)
        jobs = [(imp, p) for imp in CHICAGO for p in imp.default_paths(data_root(data_dir))]
        run_imports(engine, jobs, by)


@import_app.command("file")
def import_file(
    source: Annotated[
        str, typer.Argument(help="Source id; `schoolmode import sources` lists them.")
    ],
    path: Annotated[Path, typer.Argument(help="File to import.")],
    db: DbOption = None,
    by: ByOption = None,
) -> None:
    """Import one file of SOURCE (also reachable as `schoolmode import SOURCE PATH`)."""
    importer = IMPORTERS.get(source)
    if importer is None:
        typer.echo(f"unknown source {source!r}; known: {', '.join(sorted(IMPORTERS))}", err=True)
        raise typer.Exit(2)
    with _engine(db) as engine:
        _migrated(engine)
        run_imports(engine, [(importer, path)], by)


@import_app.command("sources")
def import_sources() -> None:
    """List the sources that can be imported."""
    for source, importer in IMPORTERS.items():
        flag = " [chicago]" if importer.chicago else ""
        typer.echo(f"{source}{flag}: {importer.title}")


def _last_imports(engine: Engine) -> list[dict[str, Any]]:
    latest = (
        select(import_log.c.source, func.max(import_log.c.id).label("id"))
        .group_by(import_log.c.source)
        .subquery()
    )
    query = (
        select(import_log)
        .join(latest, import_log.c.id == latest.c.id)
        .order_by(import_log.c.source)
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["imported_at"] = row["imported_at"].isoformat()
    return rows


def status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Row counts per record type and the last import of each source."""
    with _engine(db) as engine:
        _migrated(engine)
        counts = row_counts(engine)
        last = _last_imports(engine)
        if as_json:
            typer.echo(
                json.dumps(
                    {"schema": current_revision(engine), "rows": counts, "last_imports": last},
                    indent=2,
                )
            )
            return
        out = Console()
        table = Table(title="records")
        table.add_column("record type")
        table.add_column("rows", justify="right")
        for name, n in counts.items():
            table.add_row(name, f"{n:,}")
        out.print(table)
        imports = Table(title="last import per source")
        for col in ("source", "dataset", "file", "when", "by", "rows", "+", "~", "-"):
            imports.add_column(col)
        for r in last:
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

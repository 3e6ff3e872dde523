"""``schoolmode fetch SOURCE|chicago [--since DATE]``: the face of ``schoolmode.app.fetch``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from schoolmode.cli.common import DbOption, RemovalsOption, app_context, parse_day
from schoolmode.cli.data import ByOption, _Bars, _migrated, console

if TYPE_CHECKING:
    from schoolmode.app.fetch import FetchOutcome


class _FetchBars(_Bars):
    """A bar per file while it comes (bytes, or rows of a Chicago portal dataset), its outcome
    echoed when fetched; then the imports' bars and outcomes."""

    def __init__(self) -> None:
        super().__init__()
        self._fetch: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def fetching(self, what: str, done: int, total: int | None) -> None:
        if self._fetch is None:
            self._fetch = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._fetch.start()
        if what not in self._tasks:
            self._tasks[what] = self._fetch.add_task(what, total=total)
        self._fetch.update(self._tasks[what], completed=done, total=total)

    def fetched(self, outcome: FetchOutcome) -> None:
        if self._fetch is not None:
            self._fetch.stop()
            self._fetch = None
            self._tasks = {}
        if outcome.error is not None:
            typer.echo(f"{outcome.source}: not fetched: {outcome.error}", err=True)
            return
        name = outcome.file.name if outcome.file is not None else ""
        typer.echo(
            f"{outcome.source}: {name}: {outcome.rows:,} rows, {outcome.status}, "
            f"sha256 {outcome.sha256} (from {outcome.url}; licence: {outcome.licence})"
        )


def fetch(
    source: Annotated[
        str,
        typer.Argument(help="A source id, or `chicago` for every Chicago source."),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Fetch the rows from this date (YYYY-MM-DD) of a dated Chicago portal dataset "
            "and merge them into the cached whole file, which is imported.",
        ),
    ] = None,
    load: Annotated[
        bool, typer.Option("--import/--no-import", help="Import what was fetched.")
    ] = True,
    db: DbOption = None,
    by: ByOption = None,
    allow_removals: RemovalsOption = False,
) -> None:
    """Fetch a source's files from their publishers into the cache ($SCHOOLMODE_CACHE/fetch),
    checked, and import them."""
    from schoolmode.app.fetch import FetchRequest, needs_store
    from schoolmode.app.fetch import fetch as run

    with app_context(db) as ctx:
        day = parse_day(since, "--since") if since is not None else None
        req = FetchRequest(
            source=source, since=day, load=load, by=by, allow_removals=allow_removals
        )
        if needs_store(req):
            _migrated(ctx)
        report = run(ctx, req, _FetchBars())
        cache = ctx.settings.fetch_cache_dir
    typer.echo(f"cache: {Path(cache)}")
    if report.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``fetch`` to the top-level app."""
    app.command("fetch")(fetch)

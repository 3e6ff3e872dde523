"""Use cases of the store and its data: create or upgrade the store, import source files (one
file, every Chicago source, any parser's files: the files of one request in one transaction)
with progress told to the caller, list the importable sources, and the store's status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, SkipValidation

from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store import privileges
from schoolmode.store.db import as_utc, shown, sqlite_file
from schoolmode.store.locks import StoreBusy
from schoolmode.store.log import import_history, last_imports, row_counts
from schoolmode.store.migrate import current_revision, head_revision, upgrade
from schoolmode.store.parser import Parser

# The importers, the import service and the standard's batches (polars) are imported by the
# use cases that import files, not by ``status`` or the import log (issue 17: a fast start).


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class UnknownSource(SchoolmodeError):
    """A source id no importer reads."""


# ---------------------------------------------------------------------- schema


class StoreReady(_Frozen):
    url: str
    """The store's URL, password hidden."""
    revision: str
    """The schema revision it is at."""


def init_store(ctx: Context) -> StoreReady:
    """Create the store's tables, or bring them up to date."""
    revision = upgrade(ctx.engine)
    return StoreReady(url=ctx.engine.url.render_as_string(hide_password=True), revision=revision)


class UpgradeRequest(_Frozen):
    revision: str = "head"


class SchemaChange(_Frozen):
    before: str | None
    """The revision before (None: an empty store)."""
    after: str


def upgrade_store(ctx: Context, req: UpgradeRequest) -> SchemaChange:
    """Run the store's migrations up (or down) to ``revision``."""
    before = current_revision(ctx.engine)
    return SchemaChange(before=before, after=upgrade(ctx.engine, req.revision))


class GrantRequest(_Frozen):
    role: str
    """The PostgreSQL role the application connects with (not the owner)."""


class GrantResult(_Frozen):
    role: str
    append_only: list[str]
    """Tables it may read and add to, nothing more."""
    writable: list[str]
    """Tables it may read and change (never truncate)."""


def grant_app_role(ctx: Context, req: GrantRequest) -> GrantResult:
    """Give the application's database role least privilege on the store (PostgreSQL)."""
    grants = privileges.grant_app_role(ctx.engine, req.role)
    return GrantResult(
        role=grants.role, append_only=list(grants.append_only), writable=list(grants.writable)
    )


def schema_is_current(ctx: Context) -> bool:
    """Whether the store is at the latest schema (imports and status need it)."""
    return current_revision(ctx.engine) == head_revision()


def open_store(ctx: Context) -> None:
    """Open the context's store now: a missing or uninitialised one is refused here
    (``Context.store``), before a command asks for anything or does long work."""
    _ = ctx.engine


def store_shown(ctx: Context) -> str:
    """The context's store as a user is told of it: its URL without the password, and for a
    SQLite file its absolute path."""
    return shown(ctx.settings.db_url)


def schema_is_empty(ctx: Context) -> bool:
    """Whether the store was never migrated (a new database: ``init_store`` makes it)."""
    return current_revision(ctx.engine) is None


# ---------------------------------------------------------------------- imports


class ImportJob(_Frozen):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    parser: Annotated[Parser, SkipValidation]
    """What reads the file (an importer, or the standard layout under a source name)."""
    path: Path


class RowProblem(_Frozen):
    """One thing wrong in a refused file: the file, its data row (None: the header), the
    field, the value and what was expected."""

    file: str
    row: int | None
    field: str
    value: str | None
    expected: str


def row_problems(exc: BaseException) -> list[RowProblem]:
    """The row errors of a refused file (none when the refusal was not about its rows)."""
    from schoolmode.standard.batch import FileValidationError

    if not isinstance(exc, FileValidationError):
        return []
    return [
        RowProblem(file=e.file, row=e.row, field=e.field, value=e.value, expected=e.expected)
        for e in exc.errors
    ]


class ImportOutcome(_Frozen):
    """One file's import: its summary, or why nothing of it was imported."""

    source: str
    path: Path
    summary: str | None = None
    error: str | None = None
    problems: list[RowProblem] = []
    """For a file refused for its rows: each row error the importer reported."""


class ImportProgress(Protocol):
    """What a caller is told while files are imported, file by file."""

    def waiting(self, message: str) -> None:
        """Another import holds the lock: this one waits (``message`` says for what)."""

    def file_started(self, source: str, path: Path) -> None: ...

    def rows_written(self, done: int, total: int) -> None: ...

    def file_finished(self, outcome: ImportOutcome) -> None: ...


class ImportRequest(_Frozen):
    jobs: list[ImportJob]
    by: str | None = None
    """Who imports (default: the OS user)."""
    allow_removals: bool = False
    """Whether a file may remove the stored rows it lacks (else it is refused, saying how many)."""


class ImportReport(_Frozen):
    outcomes: list[ImportOutcome]

    @property
    def failed(self) -> bool:
        return any(o.error is not None for o in self.outcomes)


def _rows_told(progress: ImportProgress | None) -> Callable[[str, int, int], None] | None:
    if progress is None:
        return None
    told = progress

    def rows(_stage: str, done: int, total: int) -> None:
        told.rows_written(done, total)

    return rows


def import_files(
    ctx: Context, req: ImportRequest, progress: ImportProgress | None = None
) -> ImportReport:
    """Import the files in ONE transaction: all of them, or (one failed) none, each file's
    outcome told after the commit. A second import of one of their sources running at the
    same time waits for this one (or this one for it: ``progress.waiting``), up to the
    settings' ``lock_wait_s``, then is refused."""
    from schoolmode.standard.batch import FileValidationError
    from schoolmode.store.service import ImportFailed, import_set

    jobs = req.jobs
    at = [-1]

    def started(index: int) -> None:
        at[0] = index
        if progress is not None:
            progress.file_started(jobs[index].parser.source, jobs[index].path)

    try:
        results = import_set(
            ctx.engine,
            [(job.parser, job.path) for job in jobs],
            imported_by=req.by,
            progress=_rows_told(progress),
            allow_removals=req.allow_removals,
            wait=ctx.settings.lock_wait_s,
            on_wait=progress.waiting if progress is not None else None,
            started=started,
        )
        outcomes = [
            ImportOutcome(source=job.parser.source, path=job.path, summary=result.summary())
            for job, result in zip(jobs, results, strict=True)
        ]
    except (FileValidationError, ImportFailed, FileNotFoundError, StoreBusy) as exc:
        outcomes = _refused(jobs, _failed_at(jobs, at[0]), str(exc), row_problems(exc))
    if progress is not None:
        for outcome in outcomes:
            progress.file_finished(outcome)
    return ImportReport(outcomes=outcomes)


def _failed_at(jobs: list[ImportJob], started: int) -> int:
    """The file an error came from: the one being imported, else (refused before the first
    began: a missing file, the lock) the first missing file, else the first."""
    if started >= 0:
        return started
    return next((i for i, job in enumerate(jobs) if not job.path.is_file()), 0)


def _refused(
    jobs: list[ImportJob], failed: int, error: str, problems: list[RowProblem]
) -> list[ImportOutcome]:
    """The outcomes of a set that was not imported: the error where it came from, and on every
    other file that it was not imported either."""
    culprit = jobs[failed].path.name
    return [
        ImportOutcome(
            source=job.parser.source,
            path=job.path,
            error=error
            if i == failed
            else f"{job.path}: not imported either: the {len(jobs)} files are imported "
            f"together, all or none, and {culprit} was refused",
            problems=problems if i == failed else [],
        )
        for i, job in enumerate(jobs)
    ]


def parser_for(source: str) -> Parser:
    """The importer of ``source``."""
    from schoolmode.importers import IMPORTERS

    importer = IMPORTERS.get(source)
    if importer is None:
        raise UnknownSource(f"unknown source {source!r}; known: {', '.join(sorted(IMPORTERS))}")
    return importer


class ImportFileRequest(_Frozen):
    source: str
    path: Path
    by: str | None = None
    allow_removals: bool = False


def import_file(
    ctx: Context, req: ImportFileRequest, progress: ImportProgress | None = None
) -> ImportReport:
    """Import one file of a known source."""
    job = ImportJob(parser=parser_for(req.source), path=req.path)
    request = ImportRequest(jobs=[job], by=req.by, allow_removals=req.allow_removals)
    return import_files(ctx, request, progress)


class ImportChicagoRequest(_Frozen):
    data_dir: Path | None = None
    """The data folder (default: the settings' ``data_dir``, the shipped snapshot)."""
    by: str | None = None
    allow_removals: bool = False


def import_chicago(
    ctx: Context, req: ImportChicagoRequest, progress: ImportProgress | None = None
) -> ImportReport:
    """Import every Chicago source's files from the data folder (default: the snapshot shipped
    in the package)."""
    from schoolmode.importers import CHICAGO

    data_dir = req.data_dir or ctx.settings.data_dir
    jobs = [ImportJob(parser=imp, path=p) for imp in CHICAGO for p in imp.default_paths(data_dir)]
    request = ImportRequest(jobs=jobs, by=req.by, allow_removals=req.allow_removals)
    return import_files(ctx, request, progress)


class SourceRow(_Frozen):
    source: str
    title: str
    chicago: bool
    """Part of ``import chicago``."""


def list_sources() -> list[SourceRow]:
    """The sources that can be imported."""
    from schoolmode.importers import IMPORTERS

    return [
        SourceRow(source=source, title=imp.title, chicago=imp.chicago)
        for source, imp in IMPORTERS.items()
    ]


# ---------------------------------------------------------------------- status


class StoreStatus(_Frozen):
    url: str
    """The store's URL (without its password)."""
    path: str | None
    """For a SQLite store, its file's absolute path."""
    schema_revision: str | None
    schema_current: bool
    """Whether the schema is this version's latest (else: `schoolmode db upgrade`)."""
    rows: dict[str, int]
    """Rows per record type."""
    last_imports: list[dict[str, Any]]
    """The latest import log entry of each source (JSON-ready)."""


def store_status(ctx: Context) -> StoreStatus:
    """Row counts per record type and the last import of each source."""
    url = ctx.settings.db_url
    path = sqlite_file(url)
    revision = current_revision(ctx.engine)
    return StoreStatus(
        url=ctx.engine.url.render_as_string(hide_password=True),
        path=None if path is None else str(path),
        schema_revision=revision,
        schema_current=revision == head_revision(),
        rows=row_counts(ctx.engine),
        last_imports=last_imports(ctx.engine),
    )


# ---------------------------------------------------------------------- the import log


class ImportLogRequest(_Frozen):
    """The import log, newest first: of one ``source`` (default: all), imported from ``first``
    to ``last`` (UTC days, both included)."""

    source: str | None = None
    first: dt.date | None = None
    last: dt.date | None = None


class ImportLogEntry(_Frozen):
    """One imported file: what it replaced (``supersedes_id``: the correction's earlier file of
    the same dataset, now ``superseded``) and what changed, in rows."""

    id: int
    source: str
    dataset: str
    record_type: str
    file_name: str
    file_sha256: str
    imported_by: str
    imported_at: dt.datetime
    status: str
    """``current`` or ``superseded`` (by a later file of the dataset: a correction)."""
    supersedes_id: int | None
    rows_in_file: int
    rows_added: int
    rows_changed: int
    rows_removed: int
    rows_unchanged: int
    rows_skipped: int
    notes: str | None


def import_log(ctx: Context, req: ImportLogRequest) -> list[ImportLogEntry]:
    """Every import log entry that matches, newest first."""
    fields = ImportLogEntry.model_fields
    out = []
    for row in reversed(import_history(ctx.engine)):
        day = as_utc(row["imported_at"]).date()
        if req.source is not None and row["source"] != req.source:
            continue
        if (req.first is not None and day < req.first) or (req.last is not None and day > req.last):
            continue
        entry = {k: v for k, v in row.items() if k in fields}
        out.append(ImportLogEntry(**{**entry, "imported_at": as_utc(row["imported_at"])}))
    return out

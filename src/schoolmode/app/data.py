"""Use cases of the store and its data: create or upgrade the store, import source files (one
file, every Chicago source, any parser's files) with progress told to the caller, list the
importable sources, and the store's status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, SkipValidation

from schoolmode.app.context import Context
from schoolmode.importers import CHICAGO, IMPORTERS
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.standard.batch import FileValidationError
from schoolmode.store.migrate import current_revision, head_revision, upgrade
from schoolmode.store.service import ImportFailed, Parser, last_imports, row_counts, run_import


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


def schema_is_current(ctx: Context) -> bool:
    """Whether the store is at the latest schema (imports and status need it)."""
    return current_revision(ctx.engine) == head_revision()


def schema_is_empty(ctx: Context) -> bool:
    """Whether the store was never migrated (a new database: ``init_store`` makes it)."""
    return current_revision(ctx.engine) is None


# ---------------------------------------------------------------------- imports


class ImportJob(_Frozen):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    parser: Annotated[Parser, SkipValidation]
    """What reads the file (an importer, or the standard layout under a source name)."""
    path: Path


class ImportOutcome(_Frozen):
    """One file's import: its summary, or why nothing of it was imported."""

    source: str
    path: Path
    summary: str | None = None
    error: str | None = None


class ImportProgress(Protocol):
    """What a caller is told while files are imported, file by file."""

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
    """Import each file in its own transaction; a file that fails is reported and the next
    one is imported."""
    outcomes = []
    rows = _rows_told(progress)
    for job in req.jobs:
        if progress is not None:
            progress.file_started(job.parser.source, job.path)
        try:
            result = run_import(
                ctx.engine,
                job.parser,
                job.path,
                imported_by=req.by,
                progress=rows,
                allow_removals=req.allow_removals,
            )
            outcome = ImportOutcome(
                source=job.parser.source, path=job.path, summary=result.summary()
            )
        except (FileValidationError, ImportFailed, FileNotFoundError) as exc:
            outcome = ImportOutcome(source=job.parser.source, path=job.path, error=str(exc))
        if progress is not None:
            progress.file_finished(outcome)
        outcomes.append(outcome)
    return ImportReport(outcomes=outcomes)


def parser_for(source: str) -> Parser:
    """The importer of ``source``."""
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
    return [
        SourceRow(source=source, title=imp.title, chicago=imp.chicago)
        for source, imp in IMPORTERS.items()
    ]


# ---------------------------------------------------------------------- status


class StoreStatus(_Frozen):
    schema_revision: str | None
    rows: dict[str, int]
    """Rows per record type."""
    last_imports: list[dict[str, Any]]
    """The latest import log entry of each source (JSON-ready)."""


def store_status(ctx: Context) -> StoreStatus:
    """Row counts per record type and the last import of each source."""
    return StoreStatus(
        schema_revision=current_revision(ctx.engine),
        rows=row_counts(ctx.engine),
        last_imports=last_imports(ctx.engine),
    )

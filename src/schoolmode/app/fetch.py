"""Use case ``fetch``: fetch a source's files (or every Chicago source's) from their
publishers into the fetch cache, then import them through the import service (a changed
upstream file is imported as a correction, with history; an unchanged one is reported as
such)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from schoolmode.app.context import Context
from schoolmode.app.data import (
    ImportJob,
    ImportProgress,
    ImportReport,
    ImportRequest,
    UnknownSource,
    import_files,
    parser_for,
)
from schoolmode.fetch import (
    SOURCES,
    FetchError,
    FetchPlan,
    FetchSource,
    Http,
    HttpConfig,
    Publishers,
    fetch_source,
)
from schoolmode.importers import IMPORTERS
from schoolmode.settings import AppSettings


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FetchRequest(_Frozen):
    source: str
    """A source id, or ``chicago`` for every Chicago source."""
    since: dt.date | None = None
    """Fetch only the rows from this date and merge them into the cached whole file."""
    load: bool = True
    """Import what was fetched (``--no-import``: fetch only)."""
    by: str | None = None
    allow_removals: bool = False


class FetchOutcome(_Frozen):
    source: str
    licence: str
    file: Path | None = None
    url: str | None = None
    sha256: str | None = None
    rows: int | None = None
    status: str | None = None
    """``new``, ``changed`` or ``unchanged`` (the same bytes as the cached copy)."""
    error: str | None = None


class FetchReport(_Frozen):
    fetched: list[FetchOutcome]
    imports: ImportReport | None = None

    @property
    def failed(self) -> bool:
        fetch_failed = any(o.error is not None for o in self.fetched)
        return fetch_failed or (self.imports is not None and self.imports.failed)


class FetchProgress(ImportProgress, Protocol):
    """What a caller is told: bytes or rows of each file as they come, then the imports."""

    def fetching(self, what: str, done: int, total: int | None) -> None: ...

    def fetched(self, outcome: FetchOutcome) -> None: ...


def fetch_sources(source: str) -> list[FetchSource]:
    """The sources ``source`` names (``chicago``: every fetchable Chicago source)."""
    if source == "chicago":
        return [s for s in SOURCES.values() if IMPORTERS[s.source].chicago]
    if source not in SOURCES:
        raise UnknownSource(
            f"cannot fetch {source!r}; fetchable: chicago, {', '.join(sorted(SOURCES))}"
        )
    return [SOURCES[source]]


def needs_store(req: FetchRequest) -> bool:
    """Whether the request imports anything (SocioPatterns alone, or ``--no-import``, does
    not)."""
    return req.load and any(s.importable for s in fetch_sources(req.source))


def http_for(settings: AppSettings) -> Http:
    token = settings.socrata_app_token
    sites = (
        {settings.chicago_portal_url: {"X-App-Token": token.get_secret_value()}}
        if token is not None
        else {}
    )
    config = HttpConfig(
        retries=settings.fetch_retries, backoff_s=settings.fetch_backoff, site_headers=sites
    )
    return Http(config)


def plan_for(settings: AppSettings, since: dt.date | None) -> FetchPlan:
    publishers = Publishers(
        chicago=settings.chicago_portal_url,
        github=settings.github_raw_url,
        ontario=settings.ontario_portal_url,
        sociopatterns=settings.sociopatterns_url,
    )
    return FetchPlan(settings.fetch_cache_dir, publishers, settings.fetch_page_size, since)


def fetch(ctx: Context, req: FetchRequest, progress: FetchProgress | None = None) -> FetchReport:
    """Fetch each source named (a source that fails is reported, nothing of it imported, and
    the next one fetched), then import the fetched files of the importable sources."""
    sources = fetch_sources(req.source)
    plan = plan_for(ctx.settings, req.since)
    outcomes: list[FetchOutcome] = []
    jobs: list[ImportJob] = []
    told = progress.fetching if progress is not None else None
    with http_for(ctx.settings) as http:
        for source in sources:
            try:
                files = fetch_source(http, source, plan, told)
            except FetchError as exc:
                failed = FetchOutcome(source=source.source, licence=source.licence, error=str(exc))
                outcomes.append(failed)
                if progress is not None:
                    progress.fetched(failed)
                continue
            for f in files:
                outcome = FetchOutcome(
                    source=f.source,
                    licence=source.licence,
                    file=f.path,
                    url=f.url,
                    sha256=f.sha256,
                    rows=f.rows,
                    status=f.status,
                )
                outcomes.append(outcome)
                if progress is not None:
                    progress.fetched(outcome)
                if source.importable:
                    jobs.append(ImportJob(parser=parser_for(f.source), path=f.path))
    if not req.load or not jobs:
        return FetchReport(fetched=outcomes)
    request = ImportRequest(jobs=jobs, by=req.by, allow_removals=req.allow_removals)
    return FetchReport(fetched=outcomes, imports=import_files(ctx, request, progress))

"""Imports: upload a source file, the import log with its corrections, and fetching a source
from its publisher.

An upload is checked and imported exactly as ``schoolmode import SOURCE FILE`` does (one
transaction, the removal guard, ``allow_removals``); a refused file is a 422 problem naming
the file, row and field of each error, and nothing is imported. A file of a dataset already
imported is a correction: it supersedes the earlier file, and the log says what changed.

``POST /fetch/{source}`` fetches one source and imports it as a job (202 and the job's address,
``GET /fetches/{id}``: its state, then the fetch report), run on the jobs' Dask cluster like a
backtest: one source at a time (``chicago``, every source at once, is the command's, not a
request's), bounded by the settings' page size, retries and back-off. An identical fetch still
queued or running is that job (200); a finished one is fetched anew. Uploads and fetches are
the data steward's (``imports:write``, district scope); a fetch's state and report are read
by those who read the import log (``imports:read``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path as Path_
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, ProblemError, problem_responses
from schoolmode.api.routes.jobs import ACCEPTED, Accepted, JobId, submit
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page, refused_file, saved
from schoolmode.app import data, fetch, jobs
from schoolmode.app.context import Context

router = APIRouter(tags=["imports"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Source = Annotated[str, Path(min_length=1, max_length=100, pattern=NO_CONTROL)]


def _known(source: str) -> None:
    if source not in {s.source for s in data.list_sources()}:
        raise ProblemError(404, "No such source", f"no importer reads {source!r}")


@router.post(
    "/imports/{source}",
    status_code=201,
    responses=problem_responses(413),
    summary="Upload a file of a source: checked and imported in one transaction",
)
def upload(
    source: Source,
    who: Annotated[Principal, Depends(Requires(Permission.imports_write))],
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="The source's file, as published")],
    allow_removals: Annotated[
        bool, Form(description="The file may drop stored rows it lacks")
    ] = False,
) -> data.ImportOutcome:
    _known(source)
    with saved(file, f"{source}.csv") as path:
        req = data.ImportFileRequest(
            source=source, path=path, by=who.name, allow_removals=allow_removals
        )
        outcome = data.import_file(ctx, req).outcomes[0]
        if outcome.error is not None:
            raise refused_file(path, outcome.error, outcome.problems)
    return outcome.model_copy(update={"path": Path_(path.name)})


@router.get("/imports/log", summary="Every imported file, newest first, with its corrections")
def import_log(
    _: Annotated[Principal, Depends(Requires(Permission.imports_read))],
    ctx: Ctx,
    request: Request,
    source: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL)] = None,
    first: Annotated[
        dt.date | None, Query(alias="from", description="Imported from this day (UTC)")
    ] = None,
    last: Annotated[
        dt.date | None, Query(alias="to", description="Imported up to this day (UTC)")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[data.ImportLogEntry]:
    found = data.import_log(ctx, data.ImportLogRequest(source=source, first=first, last=last))
    return page(request, found, limit, offset)


class FetchIn(BaseModel):
    since: dt.date | None = Field(
        default=None, description="Fetch only the rows from this day and merge them"
    )
    load: bool = Field(default=True, description="Import what was fetched")
    allow_removals: bool = False


@router.post(
    "/fetch/{source}",
    status_code=202,
    responses=ACCEPTED,
    summary="Fetch one source from its publisher and import it (a job, one source)",
)
def fetch_source(
    source: Source,
    body: FetchIn,
    who: Annotated[Principal, Depends(Requires(Permission.imports_write))],
    ctx: Ctx,
    request: Request,
    response: Response,
) -> Accepted:
    if source == "chicago":
        raise ProblemError(
            400,
            "One source at a time",
            "fetch the Chicago sources one by one, or run `schoolmode fetch chicago`",
        )
    try:
        fetch.fetch_sources(source)
    except data.UnknownSource as exc:
        raise ProblemError(404, "No such source", str(exc)) from None
    job = jobs.FetchJob(source=source, **body.model_dump())
    return submit(ctx, request, response, "fetch", job, who, status_route="show_fetch")


@router.get(
    "/fetches/{job_id}",
    summary="A fetch job: its state, then what was fetched and imported",
)
def show_fetch(
    job_id: JobId,
    _: Annotated[Principal, Depends(Requires(Permission.imports_read))],
    ctx: Ctx,
) -> jobs.FetchJobView:
    found = jobs.get_fetch(ctx, job_id)
    if found is None:
        raise ProblemError(404, "No such fetch", f"no fetch job {job_id}")
    return found

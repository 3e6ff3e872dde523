"""Jobs: backtests, sweeps and simulations submitted (202 and the job's address), run on Dask,
their state and report files read back; an identical request gets the stored job (200). A
fetch of a source is a job too (``routes/imports.py``), submitted and read there."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.app import jobs as uc
from schoolmode.app.context import Context
from schoolmode.app.jobrun import JobRunner

router = APIRouter(tags=["jobs"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Runner = Annotated[Principal, Depends(Requires(Permission.jobs_run))]
Reader = Annotated[Principal, Depends(Requires(Permission.jobs_read))]
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A job's id")]


class Accepted(BaseModel):
    """A submitted job: poll ``status_url`` until its status is done or failed."""

    id: int
    status: uc.Status
    status_url: str
    created: bool
    """False: an identical request's job, nothing new runs."""


def submit(
    ctx: Context,
    request: Request,
    response: Response,
    kind: uc.Kind,
    body: BaseModel,
    who: Principal,
    status_route: str = "show_job",
) -> Accepted:
    """Submit a job (``status_route``: the route its ``status_url`` names) and start it when it
    is new: 202, or 200 with an identical request's job."""
    try:
        found = uc.submit(ctx, kind, body, who)
    except uc.JobFieldError as exc:
        raise RequestValidationError(
            [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]
        ) from None
    if found.created:
        runner: JobRunner = request.app.state.jobs
        runner.start(found.job.id)
    url = str(request.url_for(status_route, job_id=found.job.id).path)
    response.status_code = 202 if found.created else 200
    response.headers["Location"] = url
    return Accepted(id=found.job.id, status=found.job.status, status_url=url, created=found.created)


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Accepted: the job is queued; Location is its status."},
    200: {"description": "An identical request's job (Location is its status)."},
}


@router.post(
    "/backtests",
    summary="Replay stored history through policies (a job)",
    status_code=202,
    responses=ACCEPTED,
)
def submit_backtest(
    body: uc.BacktestJob, who: Runner, ctx: Ctx, request: Request, response: Response
) -> Accepted:
    return submit(ctx, request, response, "backtest", body, who)


@router.post(
    "/sweeps",
    summary="Backtest once per value of a parameter (a job)",
    status_code=202,
    responses=ACCEPTED,
)
def submit_sweep(
    body: uc.SweepJob, who: Runner, ctx: Ctx, request: Request, response: Response
) -> Accepted:
    return submit(ctx, request, response, "sweep", body, who)


@router.post(
    "/simulations",
    summary="Simulate policies on the synthetic district, or sweep a setting (a job)",
    status_code=202,
    responses=ACCEPTED,
)
def submit_simulation(
    body: uc.SimulationJob, who: Runner, ctx: Ctx, request: Request, response: Response
) -> Accepted:
    return submit(ctx, request, response, "simulation", body, who)


@router.get("/jobs", summary="Jobs, newest first")
def list_jobs(
    _: Reader,
    ctx: Ctx,
    kind: uc.Kind | None = None,
    status: uc.Status | None = None,
    submitted_from: Annotated[dt.date | None, Query(description="Submitted on or after")] = None,
    submitted_to: Annotated[dt.date | None, Query(description="Submitted on or before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Jobs per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Jobs skipped")] = 0,
) -> uc.JobPage:
    return uc.list_jobs(ctx, kind, status, submitted_from, submitted_to, limit, offset)


@router.get("/jobs/{job_id}", summary="A job: its request, state, progress and files")
def show_job(job_id: JobId, _: Reader, ctx: Ctx) -> uc.JobView:
    found = uc.get_job(ctx, job_id)
    if found is None:
        raise ProblemError(404, "No such job", f"no job {job_id}")
    return found


@router.get(
    "/jobs/{job_id}/files/{name}",
    summary="A file of a job's report (Markdown, HTML, CSV, PNG, Parquet)",
    response_class=Response,
    responses={200: {"description": "The file, with its media type.", "content": {"*/*": {}}}},
)
def job_file(
    job_id: JobId,
    name: Annotated[
        str, Path(max_length=200, pattern=r"^[A-Za-z0-9._-]+$", description="The file's name")
    ],
    _: Reader,
    ctx: Ctx,
) -> Response:
    found = uc.read_file(ctx, job_id, name)
    if found is None:
        raise ProblemError(404, "No such file", f"job {job_id} has no file {name!r}")
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "X-Schoolmode-SHA256": found.sha256,
        },
    )

"""The public evidence pages: the backtest, sweep and simulation reports published from
finished jobs (``app/evidence.py``), each with its plots and data files; and the form that
publishes a finished job from its playground page (``evidence:publish``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import NO_CONTROL, PLAIN
from schoolmode.api.security import Requires, context
from schoolmode.app import evidence as uc
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.web.render import SECURITY_HEADERS, render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Public = Annotated[Principal, Depends(Requires(Permission.decisions_read))]
EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/evidence", response_class=HTMLResponse)
def evidence_list(_: Public, ctx: Ctx, request: Request) -> Response:
    return render(request, "evidence.html", items=uc.list_evidence(ctx))


@router.get("/evidence/{evidence_id}", response_class=HTMLResponse)
def evidence_page(evidence_id: EvidenceId, _: Public, ctx: Ctx, request: Request) -> Response:
    try:
        found = uc.get_evidence(ctx, evidence_id)
        report = uc.report_html(ctx, evidence_id)
    except uc.UnknownEvidence:
        return render(request, "error.html", 404, problem="no_evidence", value=str(evidence_id))
    return render(request, "evidence_one.html", item=found, report=report)


@router.get("/evidence/{evidence_id}/files/{name}")
def evidence_file(
    evidence_id: EvidenceId,
    name: Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9._-]+$")],
    _: Public,
    ctx: Ctx,
    request: Request,
) -> Response:
    """A file of a published report: images shown in the page, the rest downloaded."""
    try:
        found = uc.evidence_file(ctx, evidence_id, name)
    except uc.UnknownEvidence:
        return render(request, "error.html", 404, problem="no_evidence", value=name)
    inline = found.media_type.startswith("image/")
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "Cache-Control": "public, max-age=3600",
    }
    return Response(found.content, media_type=found.media_type, headers=headers)


@router.post("/evidence")
async def publish(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.evidence_publish))],
    job_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
    title: Annotated[str, Form(min_length=1, max_length=200, pattern=NO_CONTROL)],
    note: Annotated[str, Form(max_length=4000, pattern=PLAIN)] = "",
) -> Response:
    """Publish a finished job from its playground page (as ``POST /api/v1/evidence``)."""
    try:
        done = await run_in_threadpool(uc.publish, ctx, who, job_id, title, note)
    except SchoolmodeError as exc:
        return render(request, "error.html", 400, problem="not_published", value=str(exc))
    return RedirectResponse(f"/evidence/{done.id}", status_code=303)

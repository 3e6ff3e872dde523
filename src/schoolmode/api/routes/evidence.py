"""The public evidence: finished backtest, sweep and simulation jobs published by someone
allowed to (``evidence:publish``), after the small-count check of their files; anyone reads
them and their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import COMMON, NO_CONTROL, PLAIN, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.api.uploads import Limit, Offset, Page, page
from schoolmode.app import evidence as uc
from schoolmode.app.context import Context

router = APIRouter(tags=["evidence"], responses=COMMON)
Ctx = Annotated[Context, Depends(context)]
Anyone = Annotated[Principal, Depends(Requires(Permission.decisions_read))]
EvidenceId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The publication's id")]
FileName = Annotated[
    str, Path(max_length=200, pattern=r"^[A-Za-z0-9._-]+$", description="The file's name")
]


class PublishIn(BaseModel):
    job_id: int = Field(ge=1, le=2**31 - 1, description="A finished backtest, sweep or simulation")
    title: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    note: str = Field(default="", max_length=4000, pattern=PLAIN)


@router.get("/evidence", summary="The published evidence: reports of backtests and simulations")
def evidence_list(
    _: Anyone, ctx: Ctx, request: Request, limit: Limit = 100, offset: Offset = 0
) -> Page[uc.Evidence]:
    return page(request, uc.list_evidence(ctx), limit, offset)


@router.get("/evidence/{evidence_id}", summary="One publication: its job's request and files")
def evidence_one(evidence_id: EvidenceId, _: Anyone, ctx: Ctx) -> uc.Evidence:
    try:
        return uc.get_evidence(ctx, evidence_id)
    except uc.UnknownEvidence as exc:
        raise ProblemError(404, "No such evidence", str(exc)) from None


@router.get(
    "/evidence/{evidence_id}/files/{name}",
    summary="A file of a published report (Markdown, HTML, CSV, PNG, Parquet)",
    response_class=Response,
    responses={200: {"description": "The file, with its media type.", "content": {"*/*": {}}}},
)
def evidence_file(evidence_id: EvidenceId, name: FileName, _: Anyone, ctx: Ctx) -> Response:
    try:
        found = uc.evidence_file(ctx, evidence_id, name)
    except uc.UnknownEvidence as exc:
        raise ProblemError(404, "No such file", str(exc)) from None
    return Response(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "X-Schoolmode-SHA256": found.sha256,
        },
    )


@router.post("/evidence", status_code=201, summary="Publish a finished job on the evidence pages")
def publish(
    body: PublishIn,
    who: Annotated[Principal, Depends(Requires(Permission.evidence_publish))],
    ctx: Ctx,
) -> uc.Evidence:
    try:
        return uc.publish(ctx, who, body.job_id, body.title, body.note)
    except uc.UnknownEvidence as exc:
        raise ProblemError(404, "No such job", str(exc)) from None

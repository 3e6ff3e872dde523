"""Metrics by level (citywide, ZIP, district, school, classroom) and date range, as a page or
a download (CSV, Parquet, GeoJSON). Public callers get the suppressed release; roles with
decision inputs the exact figures within their scope (``app/metrics.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.cache import ResponseCache
from schoolmode.api.problems import COMMON, ProblemError
from schoolmode.api.security import Requires, context
from schoolmode.app import metrics as uc
from schoolmode.app.context import Context

router = APIRouter(prefix="/metrics", tags=["metrics"], responses=COMMON)
Reader = Annotated[Principal, Depends(Requires(Permission.decisions_read))]
Ctx = Annotated[Context, Depends(context)]
From = Annotated[dt.date | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
To = Annotated[dt.date | None, Query(alias="to", description="Last day (YYYY-MM-DD)")]
Units = Annotated[
    list[str] | None,
    Query(max_length=100, description="Only these units (repeat the parameter)"),
]
RULE_HEADER = "X-Schoolmode-Suppression"
NOTES_HEADER = "X-Schoolmode-Notes"
"""What a public download published coarser than asked, and why."""


def _request(
    level: uc.Level,
    start: dt.date | None,
    end: dt.date | None,
    units: list[str] | None,
    limit: int = 100,
    offset: int = 0,
) -> uc.MetricsRequest:
    for u in units or ():
        if len(u) > 100 or any(ord(ch) < 32 for ch in u):
            raise ProblemError(
                422, "Invalid request", "query.unit: at most 100 printable characters"
            )
    if start and end and start > end:
        raise ProblemError(422, "Invalid request", f"query.from: {start} is after query.to {end}")
    return uc.MetricsRequest(
        level=level, start=start, end=end, units=tuple(units or ()), limit=limit, offset=offset
    )


@router.get(
    "/{level}",
    summary="Metrics of a level by date range (public: small counts suppressed)",
)
def metrics(
    level: uc.Level,
    who: Reader,
    ctx: Ctx,
    start: From = None,
    end: To = None,
    unit: Units = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9, description="Rows skipped")] = 0,
) -> uc.MetricsPage:
    return uc.metrics_page(ctx, _request(level, start, end, unit, limit, offset), who)


@router.get(
    "/{level}/download",
    summary="Metrics of a level as CSV, Parquet or GeoJSON (schools)",
    response_class=Response,
    responses={
        200: {
            "content": {m.split(";")[0]: {} for m in uc.MEDIA.values()},
            "description": "The file; the suppression rule applied in X-Schoolmode-Suppression, "
            "what was published coarser than asked in X-Schoolmode-Notes",
        }
    },
)
def download(
    level: uc.Level,
    who: Reader,
    ctx: Ctx,
    request: Request,
    format: Annotated[uc.Format, Query(description="csv, parquet or geojson (schools)")] = "csv",
    start: From = None,
    end: To = None,
    unit: Units = None,
) -> Response:
    req = _request(level, start, end, unit)
    if uc.exact_for(who, level):
        got = _download(ctx, req, who, format)
    else:
        # the public file is the same for everyone until the next release: made once
        cache: ResponseCache = request.app.state.responses
        key = ("public download", uc.public_version(ctx), req, format)
        got = uc.Download.model_validate_json(
            cache.get(key, lambda: _download(ctx, req, who, format).model_dump_json().encode())
        )
    headers = {"Content-Disposition": f'attachment; filename="{got.filename}"'}
    if got.rule is not None:
        r = got.rule
        headers[RULE_HEADER] = f"{r.id}; counts {r.low}-{r.high} hidden; since {r.effective}"
    else:
        headers[RULE_HEADER] = "none (exact figures)"
    if got.notes:
        headers[NOTES_HEADER] = " | ".join(got.notes)
    return Response(got.content, media_type=got.media_type, headers=headers)


def _download(ctx: Context, req: uc.MetricsRequest, who: Principal, fmt: uc.Format) -> uc.Download:
    try:
        return uc.metrics_download(ctx, req, who, fmt)
    except uc.MetricsError as exc:
        raise ProblemError(422, "Invalid request", f"{exc.field}: {exc}") from None

"""The public pages: the district on a day, the schools, a school's page, the change log.
Each route declares its permission like the API's routes (``decisions:read``, which the
public holds) and renders a use case of ``app.dashboard``; figures come only from the public
use cases (modes, public explanations, stored public releases)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.cache import ResponseCache
from schoolmode.api.problems import NO_CONTROL
from schoolmode.api.security import Requires, context
from schoolmode.app import dashboard as uc
from schoolmode.app import policies as policy_uc
from schoolmode.app.charts import district_charts, school_charts
from schoolmode.app.context import Context
from schoolmode.i18n import language
from schoolmode.web.chart import draw
from schoolmode.web.render import (
    feed_response,
    feed_xml,
    page_language,
    render,
    render_feed,
)

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Public = Annotated[Principal, Depends(Requires(Permission.decisions_read))]
DayText = Annotated[str | None, Query(alias="date", max_length=20)]
SEARCH_LIMIT = 100


def _day(request: Request, text: str | None) -> dt.date | HTMLResponse | None:
    """The ``?date=`` of a page (None: the last day decided), or the page saying it is wrong."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return render(request, "error.html", 400, problem="bad_date", value=text)


@router.get("/", response_class=HTMLResponse)
def district(_: Public, ctx: Ctx, request: Request, date: DayText = None) -> HTMLResponse:
    day = _day(request, date)
    if isinstance(day, HTMLResponse):
        return day
    found = uc.district_day(ctx, day)
    if found is None:
        return render(request, "error.html", 404, problem="no_decision", value=date or "")
    charts = [(c, draw(c)) for c in district_charts(ctx, found.decided.day)]
    return render(request, "district.html", page=found, tiles=_tiles(ctx), charts=charts)


@router.get("/schools", response_class=HTMLResponse)
def schools(
    _: Public,
    ctx: Ctx,
    request: Request,
    q: Annotated[str, Query(max_length=100, pattern=NO_CONTROL)] = "",
    date: DayText = None,
) -> HTMLResponse:
    day = _day(request, date)
    if isinstance(day, HTMLResponse):
        return day
    found = uc.district_day(ctx, day)
    if found is None:
        return render(request, "error.html", 404, problem="no_decision", value=date or "")
    words = q.casefold().split()
    rows = [
        s
        for s in found.schools
        if all(w in f"{s.school.name} {s.school.id} {s.school.zip or ''}".casefold() for w in words)
    ]
    return render(
        request, "schools.html", page=found, rows=rows[:SEARCH_LIMIT], total=len(rows), q=q
    )


@router.get("/schools/{school_id}", response_class=HTMLResponse)
def school(
    school_id: Annotated[str, Path(max_length=100, pattern=NO_CONTROL)],
    _: Public,
    ctx: Ctx,
    request: Request,
    date: DayText = None,
) -> HTMLResponse:
    day = _day(request, date)
    if isinstance(day, HTMLResponse):
        return day
    try:
        found = uc.school_day(ctx, school_id, day)
    except uc.UnknownSchool:
        return render(request, "error.html", 404, problem="no_school", value=school_id)
    if found is None:
        return render(request, "error.html", 404, problem="no_decision", value=date or "")
    charts = [(c, draw(c)) for c in school_charts(ctx, school_id, found.decided.day)]
    return render(request, "school.html", page=found, charts=charts)


@router.get("/map", response_class=HTMLResponse)
def school_map(_: Public, ctx: Ctx, request: Request, date: DayText = None) -> HTMLResponse:
    day = _day(request, date)
    if isinstance(day, HTMLResponse):
        return day
    found = uc.district_day(ctx, day)
    if found is None:
        return render(request, "error.html", 404, problem="no_decision", value=date or "")
    return render(request, "map.html", page=found, tiles=_tiles(ctx))


def _tiles(ctx: Context) -> dict[str, str | None]:
    return {"url": ctx.settings.map_tile_url, "attribution": ctx.settings.map_tile_attribution}


@router.get("/map/schools.geojson")
def map_schools(_: Public, ctx: Ctx, request: Request, date: DayText = None) -> Response:
    """Every school with coordinates as a point, its name and its mode on the day (no count)."""
    day = _day(request, date)
    if isinstance(day, HTMLResponse):
        return day
    found = uc.school_modes(ctx, day)
    if found is None:
        return render(request, "error.html", 404, problem="no_decision", value=date or "")
    decided, rows = found
    lang = language(page_language(request))
    features = [
        {
            "type": "Feature",
            "geometry": None
            if s.school.latitude is None or s.school.longitude is None
            else {"type": "Point", "coordinates": [s.school.longitude, s.school.latitude]},
            "properties": {
                "id": s.school.id,
                "name": s.school.name,
                "zip": s.school.zip,
                "mode": s.mode,
                "mode_class": (s.mode or "none").replace("_", "-"),
                "label": lang.translations.pgettext("policy", s.label)
                if s.label
                else lang.gettext("not decided"),
                "url": f"/schools/{quote(s.school.id)}?date={decided.day.isoformat()}",
            },
        }
        for s in rows
    ]
    body = {"type": "FeatureCollection", "date": decided.day.isoformat(), "features": features}
    return Response(
        json.dumps(body).encode(),
        media_type="application/geo+json",
        headers={"Content-Language": lang.code, "Vary": "Accept-Language, Cookie"},
    )


@router.get("/feed.atom")
def district_feed(_: Public, ctx: Ctx, request: Request) -> Response:
    """Alerts: the district's and every school's changes of mode or status, as Atom (kept
    until a new run is stored)."""
    lang = page_language(request)
    key = ("feed", uc.newest(ctx), lang, str(request.base_url))

    def make() -> bytes:
        found = uc.district_feed(ctx)
        if found is None:
            return b""
        return feed_xml(
            request,
            feed=found,
            title=language(lang).gettext("schoolmode: changes in the district"),
            self_path="/feed.atom",
            page_path="/",
            updated=_updated(found),
        )

    responses: ResponseCache = request.app.state.responses
    body = responses.get(key, make)
    if not body:
        return render(request, "error.html", 404, problem="no_decision", value="")
    return feed_response(body, lang)


@router.get("/schools/{school_id}/feed.atom")
def school_feed(
    school_id: Annotated[str, Path(max_length=100, pattern=NO_CONTROL)],
    _: Public,
    ctx: Ctx,
    request: Request,
) -> Response:
    """Alerts: one school's changes of mode or status, as Atom."""
    try:
        found = uc.school_feed(ctx, school_id)
    except uc.UnknownSchool:
        return render(request, "error.html", 404, problem="no_school", value=school_id)
    if found is None or found.school is None:
        return render(request, "error.html", 404, problem="no_decision", value="")
    words = language(page_language(request)).gettext("schoolmode: changes at {school}")
    return render_feed(
        request,
        feed=found,
        title=words.format(school=found.school.name),
        self_path=f"/schools/{quote(school_id)}/feed.atom",
        page_path=f"/schools/{quote(school_id)}",
        updated=_updated(found),
    )


def _updated(feed: uc.Feed) -> str:
    """The feed's time: its newest change's day, else the last day decided."""
    day = feed.changes[0].date if feed.changes else feed.decided.day
    return f"{day.isoformat()}T00:00:00Z"


@router.get("/policies", response_class=HTMLResponse)
def policies(_: Public, ctx: Ctx, request: Request) -> HTMLResponse:
    return render(request, "policies.html", rows=policy_uc.list_policies(ctx).rows)


PolicyId = Annotated[str, Path(max_length=100, pattern=NO_CONTROL)]
PolicyQuery = Annotated[str, Query(max_length=100, pattern=NO_CONTROL)]


@router.get("/policies/compare", response_class=HTMLResponse)
def compare(_: Public, ctx: Ctx, request: Request, a: PolicyQuery, b: PolicyQuery) -> HTMLResponse:
    for asked in (a, b):
        if asked not in ctx.registry:
            return render(request, "error.html", 404, problem="no_policy", value=asked)
    diff = policy_uc.diff_policies(ctx, policy_uc.DiffRequest(policy_a=a, policy_b=b))
    titles = {p: ctx.registry.get(p).policy.title for p in (a, b)}
    ids = ctx.registry.ids()
    return render(request, "compare.html", diff=diff, titles=titles, ids=ids)


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy(
    policy_id: PolicyId, _: Public, ctx: Ctx, request: Request, on: DayText = None
) -> HTMLResponse:
    day = _day(request, on)
    if isinstance(day, HTMLResponse):
        return day
    if policy_id not in ctx.registry:
        return render(request, "error.html", 404, problem="no_policy", value=policy_id)
    view = policy_uc.show_policy(ctx, policy_uc.ShowPolicyRequest(policy_id=policy_id, on=day))
    sources = ctx.registry.get(policy_id).policy.sources
    return render(request, "policy.html", policy=view, sources=sources, on=day)


@router.get("/changes", response_class=HTMLResponse)
def changes(_: Public, ctx: Ctx, request: Request) -> HTMLResponse:
    return render(request, "changes.html", entries=uc.change_log(ctx))

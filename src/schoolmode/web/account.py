"""Logging in and the role views: ``/login`` (a form: a browser session, as
``POST /api/v1/auth/session`` opens it, with the same limit on failed logins), ``/logout``,
and ``/me``: who is logged in and, within their scope, the changes awaiting a named body's
decision; those who record decisions (``authorisations:write``) do it from the same page,
each form carrying the session's CSRF token, each decision written to the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import Permission, Principal
from schoolmode.api.problems import NO_CONTROL, PLAIN, ProblemError
from schoolmode.api.routes.auth import Password, Username, before_login, failed_login
from schoolmode.api.security import (
    Requires,
    clear_cookie,
    context,
    in_scope,
    read_cookie,
    set_cookie,
)
from schoolmode.app import accommodations as accommodations_uc
from schoolmode.app import concerns as concerns_uc
from schoolmode.app import dashboard as uc
from schoolmode.app import decisions as decisions_uc
from schoolmode.app import tracing as tracing_uc
from schoolmode.app import tracing_indicators as indicators_uc
from schoolmode.app.access import close_session, open_session
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.web.render import render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Anyone = Annotated[Principal, Depends(Requires(None))]
LoginForm = Annotated[Principal, Depends(Requires(None, csrf=False))]
Field = Annotated[str, Form(min_length=1, max_length=100, pattern=NO_CONTROL)]
Reason = Annotated[str, Form(min_length=1, max_length=4000, pattern=PLAIN)]
Body = Annotated[str, Form(min_length=1, max_length=200, pattern=NO_CONTROL)]
HR_VIEW = "district-hr"
"""The accommodations' view with the medical basis (``operations.accommodations.role_view``)."""
CONCERNS_SHOWN = 50
"""The newest concerns the role view lists (the API pages through all of them)."""
INDICATOR_WEEKS = 8
"""How many weeks of tracing indicators the role view shows."""
OUTBREAK_DAYS = 28
"""How far back the health department's view lists outbreaks awaiting its decision."""


@router.get("/login", response_class=HTMLResponse)
def login_page(who: Anyone, request: Request) -> Response:
    if not who.anonymous:
        return RedirectResponse("/me", status_code=303)
    return render(request, "login.html", problem=None, username="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, ctx: Ctx, _: LoginForm, username: Username, password: Password
) -> Response:
    try:
        before_login(request, username)  # another site's form, or too many failures
        try:
            opened = open_session(ctx, username, password, replaces=read_cookie(request, False))
        except SchoolmodeError as exc:
            raise failed_login(request, username, exc, "Cookie") from None
    except ProblemError as exc:
        return render(request, "login.html", exc.status, problem=exc.detail, username=username)
    response = RedirectResponse("/me", status_code=303)
    life = int((opened.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    set_cookie(response, request, False, opened.cookie, max_age=max(life, 1))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx, who: Anyone) -> Response:
    cookie = getattr(request.state, "session_cookie", None)  # set when the cookie logged in
    if cookie is not None:
        close_session(ctx, cookie, who)
    response = RedirectResponse("/", status_code=303)
    clear_cookie(response, request, oidc=False)
    return response


@router.get("/me", response_class=HTMLResponse)
def me(
    who: Anyone,
    ctx: Ctx,
    request: Request,
    date: Annotated[dt.date | None, Query()] = None,
    recorded: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    refused: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    concern: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    outbreak: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    if who.anonymous:
        return RedirectResponse("/login", status_code=303)
    inputs = who.may(Permission.decisions_inputs)
    view = uc.role_day(ctx, who, date) if inputs else None
    watch = uc.watch_list(ctx, who, date) if inputs else None
    outbreaks = None
    indicators = None
    if who.may(Permission.outbreaks_read):
        last = date or (view.decided.day if view else None)
        first = None if last is None else last - dt.timedelta(days=OUTBREAK_DAYS - 1)
        outbreaks = tracing_uc.outbreaks_in_scope(ctx, who, first, last, awaiting=True)[::-1]
        if last is not None:
            start = last - dt.timedelta(days=INDICATOR_WEEKS * 7 - 1)
            indicators = indicators_uc.tracing_indicators(ctx, who, start, last)
    return render(
        request,
        "me.html",
        who=who,
        view=view,
        csrf=getattr(request.state, "csrf_token", None),
        may_decide=who.may(Permission.authorisations_write),
        outbreaks=outbreaks,
        indicators=indicators,
        watch=watch,
        may_confirm=who.may(Permission.outbreaks_confirm),
        recorded=recorded,
        refused=refused,
        concern_recorded=concern,
        **_concerns(ctx, who),
        outbreak_recorded=outbreak,
        may_accommodations=who.may(Permission.accommodations_read),
        may_play=who.may(Permission.jobs_run),
        extra={"Cache-Control": "no-store"},
    )


def _concerns(ctx: Context, who: Principal) -> dict[str, Any]:
    """What the role view shows of the safety concerns (nothing without ``concerns:read``)."""
    if not who.may(Permission.concerns_read):
        return {"concerns": None}
    mine = [s for s in uc.schools(ctx) if who.scope.covers_school(s.id)]
    forms = []
    if who.may(Permission.concerns_answer):
        forms.append(("answers", [s.value for s in concerns_uc.Step if s in concerns_uc.ANSWERS]))
    if who.may(Permission.concerns_write):
        forms.append(
            ("follow-ups", [s.value for s in concerns_uc.Step if s in concerns_uc.FOLLOW_UPS])
        )
    return {
        "concerns": concerns_uc.concerns_in_scope(ctx, who)[:CONCERNS_SHOWN],
        "may_file": who.may(Permission.concerns_write),
        "concern_schools": mine if who.may(Permission.concerns_write) else [],
        "concern_names": {s.id: s.name for s in mine},
        "concern_forms": forms,
    }


@router.post("/me/concerns")
async def file_concern(
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_write))],
    subject: Body,
    body: Annotated[str, Form(min_length=1, max_length=8000, pattern=PLAIN)],
    school_id: Annotated[str, Form(max_length=40, pattern=NO_CONTROL)] = "",
) -> Response:
    """File a concern from the role view (as ``POST /api/v1/concerns``)."""
    req = concerns_uc.FileConcernRequest(
        school_id=school_id.strip() or None, subject=subject, body=body
    )
    found = await run_in_threadpool(concerns_uc.file_concern, ctx, who, req)
    return RedirectResponse(f"/me?concern={found.id}#concern-{found.id}", status_code=303)


@router.post("/me/concerns/{concern_id}/answers")
async def answer_concern(
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_answer))],
    concern_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    step: Annotated[concerns_uc.Step, Form()],
    note: Reason,
) -> Response:
    """Answer a concern from the role view (as ``POST /api/v1/concerns/{id}/answers``)."""
    return await _concern_step(ctx, who, concern_id, step, note, concerns_uc.ANSWERS)


@router.post("/me/concerns/{concern_id}/follow-ups")
async def follow_up_concern(
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.concerns_write))],
    concern_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    step: Annotated[concerns_uc.Step, Form()],
    note: Reason,
) -> Response:
    """Follow a concern up from the role view (as ``POST /api/v1/concerns/{id}/follow-ups``)."""
    return await _concern_step(ctx, who, concern_id, step, note, concerns_uc.FOLLOW_UPS)


async def _concern_step(
    ctx: Context,
    who: Principal,
    concern_id: int,
    step: concerns_uc.Step,
    note: str,
    allowed: frozenset[concerns_uc.Step],
) -> Response:
    req = concerns_uc.StepRequest(concern_id=concern_id, step=step, note=note)
    await run_in_threadpool(concerns_uc.add_step, ctx, who, req, allowed)
    return RedirectResponse(f"/me?concern={concern_id}#concern-{concern_id}", status_code=303)


@router.post("/me/authorisations")
async def authorise(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.authorisations_write))],
    policy_id: Field,
    rule: Field,
    unit: Field,
    day: Annotated[dt.date, Form()],
    by: Body,
    reason: Reason,
) -> Response:
    """Record a named body's decision to act from the role view (as
    ``POST /api/v1/authorisations``)."""
    req = decisions_uc.AuthoriseRequest(
        policy_id=policy_id,
        rule=rule,
        unit=unit,
        day=day,
        by=by,
        reason=reason,
        recorded_by=who.name,
    )
    key = await run_in_threadpool(_answer, ctx, who, req, decisions_uc.authorise)
    return RedirectResponse(f"/me?date={day.isoformat()}&recorded={key}", status_code=303)


@router.post("/me/refusals")
async def refuse(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.authorisations_write))],
    policy_id: Field,
    rule: Field,
    unit: Field,
    day: Annotated[dt.date, Form()],
    by: Body,
    reason: Reason,
) -> Response:
    """Record a named body's refusal of an eligible change, with its reason, from the role
    view (as ``POST /api/v1/refusals``)."""
    req = decisions_uc.AuthoriseRequest(
        policy_id=policy_id,
        rule=rule,
        unit=unit,
        day=day,
        by=by,
        reason=reason,
        recorded_by=who.name,
    )
    key = await run_in_threadpool(_answer, ctx, who, req, decisions_uc.refuse)
    return RedirectResponse(f"/me?date={day.isoformat()}&refused={key}", status_code=303)


def _answer(
    ctx: Context,
    who: Principal,
    req: decisions_uc.AuthoriseRequest,
    record: Callable[[Context, decisions_uc.AuthoriseRequest], decisions_uc.AuthoriseResult],
) -> int:
    in_scope(who, decisions_uc.rule_unit_school(ctx, req.policy_id, req.rule, req.unit))
    return record(ctx, req).key


@router.post("/me/outbreaks")
async def confirm_outbreak(
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.outbreaks_confirm))],
    classroom_id: Field,
    detected_on: Annotated[dt.date, Form()],
    confirmed: Annotated[bool, Form()],
    decided_by: Body,
    note: Reason,
) -> Response:
    """Record the health department's decision on an outbreak from its view (as
    ``POST /api/v1/outbreaks/confirmations``)."""

    def record() -> int:
        in_scope(who, decisions_uc.school_of_unit(ctx, "classroom", classroom_id))
        req = tracing_uc.ConfirmOutbreakRequest(
            classroom_id=classroom_id,
            detected_on=detected_on,
            confirmed=confirmed,
            decided_by=decided_by,
            note=note,
        )
        return tracing_uc.confirm_outbreak(ctx, req).decision_id

    key = await run_in_threadpool(record)
    return RedirectResponse(f"/me?date={detected_on.isoformat()}&outbreak={key}", status_code=303)


@router.get("/me/accommodations", response_class=HTMLResponse)
def accommodations(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_read, personal=True))],
    on: Annotated[dt.date | None, Query()] = None,
    policy_id: Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL)] = None,
    reviewed: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """HR's view: the current decision on every staff accommodation request, with its basis
    (personal data: each view is written to the access log with its rows); for those who
    review (``accommodations:write``), a day's pool and places (never a draw), the seed's
    commitment and the review that reveals it."""
    rows = accommodations_uc.show(ctx, accommodations_uc.ShowRequest(role=HR_VIEW)).rows
    request.state.rows = rows.height
    preview, problem = None, None
    if on is not None:
        try:
            req = accommodations_uc.CommitRequest(on=on, policy_id=policy_id or None)
            preview = accommodations_uc.preview(ctx, req)
        except SchoolmodeError as exc:
            problem = str(exc)
    return render(
        request,
        "accommodations.html",
        who=who,
        columns=rows.columns,
        rows=rows.rows(),
        on=on,
        policy_id=policy_id or "",
        preview=preview,
        problem=problem,
        reviewed=reviewed,
        may_review=who.may(Permission.accommodations_write),
        csrf=getattr(request.state, "csrf_token", None),
        extra={"Cache-Control": "no-store"},
    )


@router.post("/me/accommodations/commitments", response_class=HTMLResponse)
async def commit_lottery(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write))],
    on: Annotated[dt.date, Form()],
    policy_id: Annotated[str, Form(max_length=100, pattern=NO_CONTROL)] = "",
    seed: Annotated[str, Form(max_length=20, pattern="^[0-9]*$")] = "",
) -> Response:
    """Commit the review's lottery seed (drawn here, or given: drawn in the open) before
    anything is ranked, as ``POST /api/v1/accommodations/commitments``; the seed and nonce are
    shown this once."""
    req = accommodations_uc.CommitRequest(
        on=on, policy_id=policy_id or None, seed=int(seed) if seed else None, by=who.name
    )
    done = await run_in_threadpool(accommodations_uc.commit, ctx, req)
    return render(
        request,
        "commitment.html",
        who=who,
        done=done,
        csrf=getattr(request.state, "csrf_token", None),
        extra={"Cache-Control": "no-store"},
    )


@router.post("/me/accommodations/reviews")
async def review_lottery(
    request: Request,
    ctx: Ctx,
    who: Annotated[Principal, Depends(Requires(Permission.accommodations_write, personal=True))],
    on: Annotated[dt.date, Form()],
    seed: Annotated[int, Form(ge=0, le=2**63 - 1)],
    nonce: Annotated[str, Form(pattern="^[0-9a-f]{32}$")],
) -> Response:
    """Reveal the day's commitment and decide every pending request, as
    ``POST /api/v1/accommodations/reviews`` (the decisions are personal data: logged)."""
    req = accommodations_uc.ReviewRequest(on=on, seed=seed, nonce=nonce, by=who.name)
    done = await run_in_threadpool(accommodations_uc.review, ctx, req)
    request.state.rows = done.rows.height
    return RedirectResponse(f"/me/accommodations?reviewed={done.review_id}", status_code=303)

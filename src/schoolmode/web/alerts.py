"""The public pages of the e-mail alerts: the sign-up form's answer (on the district and school
pages), the confirmation link and the stop link (each a page with a button: a link opened by a
mail scanner changes nothing). Thin faces over ``app/alert_signup.py``; forms from anyone,
refused when another site's page posts them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import Principal
from schoolmode.api.problems import NO_CONTROL
from schoolmode.api.security import Requires, check_origin, context
from schoolmode.app import alert_signup as uc
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.web.render import page_language, render

router = APIRouter(include_in_schema=False)
Ctx = Annotated[Context, Depends(context)]
Open = Annotated[Principal, Depends(Requires(None, csrf=False))]
Token = Annotated[str, Query(min_length=20, max_length=100, pattern="^[A-Za-z0-9_-]+$")]
TokenForm = Annotated[str, Form(min_length=20, max_length=100, pattern="^[A-Za-z0-9_-]+$")]
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/alerts", response_class=HTMLResponse)
async def sign_up(
    request: Request,
    ctx: Ctx,
    _: Open,
    email: Annotated[str, Form(min_length=3, max_length=254, pattern=NO_CONTROL)],
    school_id: Annotated[str, Form(max_length=40, pattern=NO_CONTROL)] = "",
) -> Response:
    check_origin(request)
    req = uc.SignUp(email=email, school_id=school_id or None, lang=page_language(request))
    try:
        answer = await run_in_threadpool(uc.sign_up, ctx, req)
    except SchoolmodeError as exc:
        return render(request, "alerts.html", 400, step="problem", problem=str(exc), extra=NO_STORE)
    return render(request, "alerts.html", step="asked", detail=answer.detail, extra=NO_STORE)


@router.get("/alerts/confirm", response_class=HTMLResponse)
def confirm_page(request: Request, _: Open, token: Token) -> Response:
    return render(request, "alerts.html", step="confirm", token=token, extra=NO_STORE)


@router.post("/alerts/confirm", response_class=HTMLResponse)
async def confirm(request: Request, ctx: Ctx, _: Open, token: TokenForm) -> Response:
    check_origin(request)
    try:
        done = await run_in_threadpool(uc.confirm, ctx, token)
    except SchoolmodeError as exc:
        return render(request, "alerts.html", 400, step="problem", problem=str(exc), extra=NO_STORE)
    return render(request, "alerts.html", step="confirmed", school=done.school_id, extra=NO_STORE)


@router.get("/alerts/stop", response_class=HTMLResponse)
def stop_page(request: Request, _: Open, token: Token) -> Response:
    return render(request, "alerts.html", step="stop", token=token, extra=NO_STORE)


@router.post("/alerts/stop", response_class=HTMLResponse)
async def stop(request: Request, ctx: Ctx, _: Open, token: TokenForm) -> Response:
    check_origin(request)
    try:
        done = await run_in_threadpool(uc.stop, ctx, token)
    except SchoolmodeError as exc:
        return render(request, "alerts.html", 400, step="problem", problem=str(exc), extra=NO_STORE)
    return render(request, "alerts.html", step="stopped", school=done.school_id, extra=NO_STORE)

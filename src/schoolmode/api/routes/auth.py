"""Logging in and out: bearer tokens for the API, cookie sessions for browsers (a password or
OpenID Connect), and who am I.

Failed logins are counted per account name and per client address (``login_failures`` in 15
minutes, in each server process); past it, 429 until the oldest failure is 15 minutes old.
Each failure is in the access log with the name tried, never the password.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from schoolmode.access.oidc import OidcError, OidcNotConfigured, UnknownSubject
from schoolmode.access.roles import Permission, Principal, Scope, ScopeKind
from schoolmode.access.sessions import OIDC_LOGIN_LIFE
from schoolmode.api.limits import SlidingWindow, retry_after
from schoolmode.api.problems import COMMON, NO_CONTROL, ProblemError
from schoolmode.api.security import (
    Requires,
    check_origin,
    clear_cookie,
    context,
    read_cookie,
    set_cookie,
    store_context,
)
from schoolmode.app.access import (
    OpenedSession,
    close_session,
    finish_oidc_login,
    login,
    open_session,
    start_oidc_login,
)
from schoolmode.app.context import Context
from schoolmode.policy.errors import SchoolmodeError

router = APIRouter(tags=["auth"], responses=COMMON)

FAILURE_WINDOW_S = 15 * 60
AFTER_OIDC_LOGIN = "/"
"""Where the browser goes once logged in through the OpenID provider (the site's home)."""

Username = Annotated[str, Form(min_length=1, max_length=100, pattern=NO_CONTROL)]
Password = Annotated[str, Form(min_length=1, max_length=1000, pattern=NO_CONTROL)]


def _failures(request: Request) -> SlidingWindow:
    state = request.app.state
    if not hasattr(state, "login_failures"):
        state.login_failures = SlidingWindow(window=FAILURE_WINDOW_S)
    window: SlidingWindow = state.login_failures
    return window


def _failure_keys(request: Request, username: str) -> list[str]:
    return [f"name:{username}", f"client:{getattr(request.client, 'host', None) or 'unknown'}"]


def before_login(request: Request, username: str) -> None:
    """403 for a login another site's page posts; 429 past the failed logins allowed."""
    check_origin(request)
    limit = store_context(request).settings.login_failures
    window = _failures(request)
    waits = [w for k in _failure_keys(request, username) if (w := window.waiting(k, limit))]
    if waits:
        raise ProblemError(
            429,
            "Too many failed logins",
            f"at most {limit} failed logins in {FAILURE_WINDOW_S // 60} minutes; "
            f"try again in {retry_after(max(waits))} s",
            {"Retry-After": retry_after(max(waits))},
        )


def failed_login(
    request: Request, username: str, exc: SchoolmodeError, scheme: str
) -> ProblemError:
    limit = store_context(request).settings.login_failures
    for key in _failure_keys(request, username):
        _failures(request).take(key, limit)
    return ProblemError(401, "Login failed", str(exc), {"WWW-Authenticate": scheme})


class TokenOut(BaseModel):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    """Seconds."""


@router.post("/auth/token", summary="Log in with a name and password: a bearer token")
def token(
    request: Request,
    username: Username,
    password: Password,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Principal, Depends(Requires(None, csrf=False))],
) -> TokenOut:
    before_login(request, username)
    try:
        issued = login(ctx, username, password)
    except SchoolmodeError as exc:
        raise failed_login(request, username, exc, "Bearer") from None
    return TokenOut(access_token=issued.token, expires_in=int(issued.expires_in_days * 86400))


class SessionOut(BaseModel):
    """A browser session: the cookie is set on the response; send ``csrf_token`` back in the
    ``X-CSRF-Token`` header (or a ``csrf_token`` form field) with every POST, PUT, PATCH and
    DELETE."""

    account: str
    role: str
    scope: str
    via: str
    expires_at: dt.datetime
    """The absolute timeout."""
    idle_timeout_s: int
    """The session ends after this long without a request."""
    csrf_token: str


def _start(request: Request, response: Response, opened: OpenedSession) -> SessionOut:
    life = int((opened.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    set_cookie(response, request, False, opened.cookie, max_age=max(life, 1))
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        account=opened.account,
        role=opened.role.value,
        scope=opened.scope,
        via=opened.via,
        expires_at=opened.expires_at,
        idle_timeout_s=opened.idle_timeout_s,
        csrf_token=opened.csrf_token,
    )


@router.post("/auth/session", summary="Log in a browser with a name and password: a session cookie")
def session_login(
    request: Request,
    response: Response,
    username: Username,
    password: Password,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Principal, Depends(Requires(None, csrf=False))],
) -> SessionOut:
    before_login(request, username)
    try:
        opened = open_session(ctx, username, password, replaces=read_cookie(request, False))
    except SchoolmodeError as exc:
        raise failed_login(request, username, exc, "Cookie") from None
    return _start(request, response, opened)


@router.delete(
    "/auth/session",
    status_code=204,
    summary="Log out a browser: its session ends (needs the CSRF token)",
)
def session_logout(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    who: Annotated[Principal, Depends(Requires(None))],
) -> Response:
    cookie = request.state.session_cookie  # set only when the cookie logged this request in
    if cookie is not None:
        close_session(ctx, cookie, who)
    response = Response(status_code=204)
    clear_cookie(response, request, oidc=False)
    return response


def _not_configured(exc: OidcNotConfigured) -> ProblemError:
    return ProblemError(404, "OpenID Connect not configured", str(exc))


@router.get(
    "/auth/oidc/login",
    response_class=RedirectResponse,
    status_code=302,
    summary="Log in a browser at the OpenID Connect provider (a redirect there)",
    responses={302: {"description": "To the provider's authorization endpoint."}},
)
def oidc_login(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Principal, Depends(Requires(None))],
) -> RedirectResponse:
    try:
        made = start_oidc_login(ctx, str(request.url_for("oidc_callback")))
    except OidcNotConfigured as exc:
        raise _not_configured(exc) from None
    except OidcError as exc:
        raise ProblemError(502, "OpenID provider unavailable", str(exc)) from None
    response = RedirectResponse(made.url, status_code=302)
    set_cookie(response, request, True, made.state, int(OIDC_LOGIN_LIFE.total_seconds()))
    response.headers["Cache-Control"] = "no-store"
    return response


Param = Annotated[str | None, Query(max_length=2000, pattern=NO_CONTROL)]


@router.get(
    "/auth/oidc/callback",
    response_class=RedirectResponse,
    status_code=303,
    summary="The OpenID Connect provider sends the browser back here: a session cookie",
    responses={303: {"description": "Logged in: to the site's home page."}},
)
def oidc_callback(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    _: Annotated[Principal, Depends(Requires(None))],
    code: Param = None,
    state: Param = None,
    error: Param = None,
) -> RedirectResponse:
    if ctx.settings.oidc_issuer is None:
        raise _not_configured(OidcNotConfigured("OpenID Connect login is not configured"))
    if error is not None:
        raise ProblemError(400, "The provider refused the login", f"error {error!r}")
    if code is None or state is None:
        raise ProblemError(400, "OpenID login incomplete", "the callback needs code and state")
    kept = read_cookie(request, oidc=True)
    if kept is None or not hmac.compare_digest(kept.encode(), state.encode()):
        raise ProblemError(400, "OpenID login refused", "the state is not this browser's")
    try:
        opened = finish_oidc_login(ctx, code, state, replaces=read_cookie(request, False))
    except UnknownSubject as exc:
        raise ProblemError(403, "No account for this person", str(exc)) from None
    except OidcError as exc:
        raise ProblemError(400, "OpenID login refused", str(exc)) from None
    response = RedirectResponse(AFTER_OIDC_LOGIN, status_code=303)
    _start(request, response, opened)
    clear_cookie(response, request, oidc=True)
    return response


class Me(BaseModel):
    name: str | None
    role: str
    scope: str
    permissions: list[str]
    via: str | None = None
    """``token``, ``session`` (a browser cookie) or none (anonymous)."""
    csrf_token: str | None = None
    """For a browser session: the token its unsafe requests carry."""
    schools: list[str] | None = None
    """The schools the scope covers (a network's, from the stored school records; a school
    scope's one); none for the district scope, which covers every school."""


@router.get("/auth/me", summary="Who is asking: name, role, scope and permissions")
def me(request: Request, who: Annotated[Principal, Depends(Requires(None))]) -> Me:
    cookie = request.state.session_cookie
    via = None if who.anonymous else ("session" if cookie is not None else "token")
    return Me(
        name=who.name,
        role=who.role.value,
        scope=str(who.scope),
        permissions=sorted(p.value for p in Permission if who.may(p)),
        via=via,
        csrf_token=request.state.csrf_token if cookie is not None else None,
        schools=_covered(who.scope),
    )


def _covered(scope: Scope) -> list[str] | None:
    if scope.kind is ScopeKind.district:
        return None
    if scope.kind is ScopeKind.school:
        return [str(scope.unit)]
    return sorted(scope.schools)

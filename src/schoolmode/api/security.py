"""Who asks and whether they may: bearer tokens, session cookies with CSRF protection, and the
permission each route declares.

Every route takes one :class:`Requires` dependency (a test fails on a route without one): the
permission it needs from the table of ``access/roles.py``, or none for the few open routes
(logging in, who am I). Anonymous callers hold the public role; a route they may not use is
401 (log in), a logged-in caller without the permission is 403.

A caller is a bearer token (``Authorization: Bearer``) or, without one, a browser session
cookie (``POST /api/v1/auth/session``); the token wins when both come. A browser sends its
cookie by itself, also on a request another site's page starts, so every unsafe request
(POST, PUT, PATCH, DELETE) authenticated by the cookie must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``) and, when the browser sends one, an
``Origin`` (else ``Referer``) of this very site; otherwise 403. A bearer token is never sent
by itself, so token requests need neither.

The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and ``Secure``, named with the
``__Host-`` prefix (so no subdomain can set or shadow it). The one exception, with the
``session_cookie_secure`` setting at ``auto`` (the default): plain http to a loopback host
(127.0.0.1, ::1, localhost), where a developer runs ``schoolmode serve`` without TLS; a
loopback address is not reachable from another machine, so the cookie cannot cross a network
there. Set ``always`` behind a TLS proxy that does not forward the scheme and host.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from schoolmode.access.roles import ANONYMOUS, Permission, Principal
from schoolmode.api.problems import ProblemError
from schoolmode.app.access import SessionWho, authenticate, csrf_matches, session_who
from schoolmode.app.context import Context

bearer = HTTPBearer(auto_error=False, description="A token from `POST /api/v1/auth/token`.")

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = "__Host-schoolmode-session"
"""The session cookie's name: ``Secure``, ``Path=/``, no ``Domain`` (the ``__Host-`` rules)."""
LOOPBACK_SESSION_COOKIE = "schoolmode-session"
"""Its name on plain http to a loopback host (development; a ``__Host-`` cookie must be
``Secure``)."""
OIDC_STATE_COOKIE = "__Host-schoolmode-oidc"
LOOPBACK_OIDC_STATE_COOKIE = "schoolmode-oidc"
KEPT_SESSION = "kept_session"
"""The request state's ``(cookie, SessionWho | None)`` the rate limit found (``middleware``)."""
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def store_context(request: Request) -> Context:
    """The application's use-case context (settings, store, policies)."""
    ctx: Context = request.app.state.ctx
    return ctx


async def context(request: Request) -> Context:
    """The context as a route's dependency (async: no thread for it)."""
    return store_context(request)


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request) -> bool:
    """Whether this request's cookies are ``Secure`` (see the module's note)."""
    if store_context(request).settings.session_cookie_secure == "always":
        return True
    return not (request.url.scheme == "http" and _loopback(request.url.hostname))


def _name(request: Request, secure_name: str, loopback_name: str) -> str:
    return secure_name if cookie_secure(request) else loopback_name


def set_cookie(response: Response, request: Request, oidc: bool, value: str, max_age: int) -> None:
    """The session (or OpenID state) cookie: HttpOnly, SameSite=Lax, Path=/, Secure."""
    secure = cookie_secure(request)
    response.set_cookie(
        _name(request, *_names(oidc)),
        value,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, oidc: bool) -> None:
    response.delete_cookie(
        _name(request, *_names(oidc)),
        path="/",
        secure=cookie_secure(request),
        httponly=True,
        samesite="lax",
    )


def _names(oidc: bool) -> tuple[str, str]:
    if oidc:
        return OIDC_STATE_COOKIE, LOOPBACK_OIDC_STATE_COOKIE
    return SESSION_COOKIE, LOOPBACK_SESSION_COOKIE


def read_cookie(request: Request, oidc: bool) -> str | None:
    """The session (or OpenID state) cookie under its name for this request (a ``__Host-``
    one when secure: a cookie without the prefix is ignored there)."""
    return request.cookies.get(_name(request, *_names(oidc)))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site: an ``Origin`` (else a
    ``Referer``) that is not this site's scheme, host and port. Neither header: True."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    return _origin(source) == _origin(str(request.url))


def check_origin(request: Request) -> None:
    """403 for a request another site's page started (see :func:`same_origin`)."""
    if not same_origin(request):
        raise ProblemError(403, "Cross-site request refused", "Origin or Referer is not this site")


async def _check_csrf(request: Request, cookie: str) -> None:
    check_origin(request)
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        field = (await request.form()).get(CSRF_FIELD)
        given = field if isinstance(field, str) else None
    if not csrf_matches(cookie, given):
        raise ProblemError(
            403,
            "CSRF token missing or wrong",
            f"a request logged in by the session cookie needs the session's CSRF token in the "
            f"{CSRF_HEADER} header or the {CSRF_FIELD} form field",
        )


class Requires:
    """A route's permission (``None``: open to anyone); ``personal``: the route returns
    personal data, so each read is written to the access log; ``csrf=False``: only for the
    login routes, which check the origin themselves (the caller has no token yet)."""

    def __init__(
        self, permission: Permission | None, *, personal: bool = False, csrf: bool = True
    ) -> None:
        self.permission = permission
        self.personal = personal
        self.csrf = csrf

    async def _who(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> Principal:
        ctx = store_context(request)
        request.state.session_cookie = None
        if credentials is not None:
            who = await run_in_threadpool(authenticate, ctx, credentials.credentials)
            if who is None:
                raise ProblemError(
                    401, "Invalid token", "the token is unknown, expired or revoked", _CHALLENGE
                )
            return who
        cookie = read_cookie(request, oidc=False)
        if cookie is None:
            return ANONYMOUS
        kept: tuple[str, SessionWho | None] | None = getattr(request.state, KEPT_SESSION, None)
        found: SessionWho | None
        if kept is not None and kept[0] == cookie:  # the rate limit looked it up already
            found = kept[1]
        else:
            found = await run_in_threadpool(session_who, ctx, cookie)
        if found is None:  # expired, idle, revoked: the browser is anonymous again
            return ANONYMOUS
        if self.csrf and request.method in UNSAFE_METHODS:
            await _check_csrf(request, cookie)
        request.state.session_cookie = cookie
        request.state.csrf_token = found.csrf_token
        return found.principal

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        who = await self._who(request, credentials)
        request.state.principal = who
        request.state.personal = self.personal
        if self.permission is None or who.may(self.permission):
            return who
        if who.anonymous:
            raise ProblemError(
                401, "Login required", f"this needs the permission {self.permission}", _CHALLENGE
            )
        raise ProblemError(
            403,
            "Not allowed",
            f"role {who.role} with scope {who.scope} does not hold {self.permission}",
        )

    def __repr__(self) -> str:
        return f"Requires({self.permission})"


def route_requirements(route: APIRoute) -> list[Requires]:
    """Every :class:`Requires` among a route's dependencies (a route declares exactly one)."""
    out: list[Requires] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        if isinstance(dep.call, Requires):
            out.append(dep.call)
        pending.extend(dep.dependencies)
    return out


def in_scope(who: Principal, school: str | None) -> None:
    """403 unless ``who``'s scope covers ``school`` (None: the district, only for the district
    scope)."""
    whole = who.scope.kind.value == "district"
    if not (whole if school is None else who.scope.covers_school(school)):
        raise ProblemError(403, "Outside your scope", f"your scope is {who.scope}")

"""What wraps every request, as one pure ASGI middleware (no task group or memory stream per
layer, as Starlette's ``BaseHTTPMiddleware`` adds three times over):

- the rate limit: 429 with ``Retry-After`` past the settings' requests a minute, per bearer
  token (by its digest), per account of a live browser session cookie (its sessions together;
  the session found is kept in the request's state, so the route's ``Requires`` does not look
  it up again), or per client address for anyone else (anonymous, or a cookie that is not a
  live session's: a made-up cookie buys no count of its own);
- the stamp: every response carries the software version; a successful GET carries an ETag of
  its body and is answered 304 when the caller has it already;
- the access log: every write, and every read of personal data (a route's ``Requires`` marks
  it in the request's state), with who, the route, its parameters, the status and the rows.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schoolmode import __version__
from schoolmode.access.roles import ANONYMOUS
from schoolmode.api.limits import client_key, retry_after, session_key
from schoolmode.api.problems import problem_body
from schoolmode.api.security import KEPT_SESSION, read_cookie
from schoolmode.app.access import SessionWho, log_access, session_who
from schoolmode.settings import AppSettings

VERSION_HEADER = "X-Schoolmode-Version"
API_PREFIX = "/api/v1"
LOGGED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_VERSION = (VERSION_HEADER.lower().encode(), __version__.encode())


class Guard:
    """The rate limit, the version stamp with ETags, and the access log around ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if await self._limited(scope, headers, send):
            return
        status = 500
        method = scope["method"]
        tagged = method == "GET"
        start: Message | None = None
        chunks: list[bytes] = []

        async def stamp(message: Message) -> None:
            nonlocal status, start, tagged
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), _VERSION]
                tagged = tagged and status == 200
                if not tagged:
                    await send(message)
                else:
                    start = message
                return
            if not tagged:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                assert start is not None
                await _send_tagged(start, b"".join(chunks), headers, send)

        await self.app(scope, receive, stamp)
        state: dict[str, Any] = scope.get("state", {})
        if method in LOGGED_METHODS or state.get("personal", False):
            await run_in_threadpool(_log, scope, state, status)

    async def _limited(self, scope: Scope, headers: Headers, send: Send) -> bool:
        """Send a 429 problem and say so when the caller is past its limit."""
        app = scope["app"]
        settings: AppSettings = app.state.ctx.settings
        client = scope.get("client")
        key, token = client_key(headers.get("authorization"), client[0] if client else None)
        limit = settings.api_rate_token if token else settings.api_rate_anonymous
        if not token and (session := await _session(scope)) is not None:
            key, limit = session_key(session.principal.name), settings.api_rate_session
        wait = app.state.limits.take(key, limit)
        if wait is None:
            return False
        body = problem_body(
            scope.get("path", ""),
            429,
            "Too many requests",
            f"at most {limit} requests a minute; try again in {retry_after(wait)} s",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after(wait).encode()),
                    _VERSION,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


async def _session(scope: Scope) -> SessionWho | None:
    """The live session of the request's session cookie (None: no cookie, or not a live
    session's), kept in the request's state for the route."""
    request = Request(scope)
    cookie = read_cookie(request, oidc=False)
    if cookie is None:
        return None
    found = await run_in_threadpool(session_who, request.app.state.ctx, cookie)
    setattr(request.state, KEPT_SESSION, (cookie, found))
    return found


async def _send_tagged(start: Message, body: bytes, request: Headers, send: Send) -> None:
    """A 200 GET's response with its ETag, or 304 when the caller holds that tag."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    etag = (b"etag", tag.encode())
    if tag in request.get("if-none-match", ""):
        await send({"type": "http.response.start", "status": 304, "headers": [_VERSION, etag]})
        await send({"type": "http.response.body", "body": b""})
        return
    kept = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
    kept += [(b"content-length", str(len(body)).encode()), etag]
    await send({**start, "headers": kept})
    await send({"type": "http.response.body", "body": body})


def _log(scope: Scope, state: dict[str, Any], status: int) -> None:
    route = scope.get("route")
    asked = scope.get("path", "")
    if route is None:
        path = asked
    else:  # the route's template: the API's routes are mounted under API_PREFIX, the pages not
        path = API_PREFIX + route.path if asked.startswith(API_PREFIX + "/") else route.path
    params: dict[str, object] = {
        **scope.get("path_params", {}),
        **QueryParams(scope.get("query_string", b"")),
    }
    method = scope["method"]
    log_access(
        scope["app"].state.ctx,
        state.get("principal") or ANONYMOUS,
        method in LOGGED_METHODS,
        method,
        path,
        params,
        status,
        state.get("rows"),
    )

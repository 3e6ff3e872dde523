"""The application factory: ``create_app(settings)`` builds the API on one store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.middleware.base import BaseHTTPMiddleware

from schoolmode import __version__
from schoolmode.access.roles import ANONYMOUS
from schoolmode.api import problems
from schoolmode.api.cache import ResponseCache
from schoolmode.api.limits import SlidingWindow, client_key, retry_after
from schoolmode.api.problems import problem_response
from schoolmode.api.routes import access, decisions, meta, metrics, operations, policies
from schoolmode.api.security import route_requirements
from schoolmode.app.access import log_access
from schoolmode.app.context import Context
from schoolmode.settings import AppSettings

VERSION_HEADER = "X-Schoolmode-Version"
API_PREFIX = "/api/v1"
LOGGED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Next = Callable[[Request], Awaitable[Response]]

ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    policies.router,
    decisions.router,
    metrics.router,
    operations.router,
    access.router,
)
"""Every group of routes, mounted under ``API_PREFIX`` (the docs and tests walk these)."""


async def _stamp(request: Request, call_next: Next) -> Response:
    """Every response carries the software version; a successful GET carries an ETag of its
    body and is answered 304 when the caller has it already."""
    response = await call_next(request)
    response.headers[VERSION_HEADER] = __version__
    if request.method != "GET" or response.status_code != 200:
        return response
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["ETag"] = tag
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={VERSION_HEADER: __version__, "ETag": tag})
    return Response(body, response.status_code, headers, response.media_type)


async def _limit(request: Request, call_next: Next) -> Response:
    """429 with ``Retry-After`` past the settings' requests a minute (per token, else per
    client address)."""
    settings: AppSettings = request.app.state.ctx.settings
    key, token = client_key(
        request.headers.get("authorization"), getattr(request.client, "host", None)
    )
    limit = settings.api_rate_token if token else settings.api_rate_anonymous
    wait = request.app.state.limits.take(key, limit)
    if wait is None:
        return await call_next(request)
    return problem_response(
        request,
        429,
        "Too many requests",
        f"at most {limit} requests a minute; try again in {retry_after(wait)} s",
        headers={"Retry-After": retry_after(wait), VERSION_HEADER: __version__},
    )


async def _audit(request: Request, call_next: Next) -> Response:
    """Every write, and every read of personal data, in the access log."""
    response = await call_next(request)
    who = getattr(request.state, "principal", None)
    personal = getattr(request.state, "personal", False)
    if request.method in LOGGED_METHODS or personal:
        route = request.scope.get("route")
        params: dict[str, object] = {**request.path_params, **request.query_params}
        log_access(
            request.app.state.ctx,
            who or ANONYMOUS,
            request.method in LOGGED_METHODS,
            request.method,
            API_PREFIX + route.path if route is not None else request.url.path,
            params,
            response.status_code,
            getattr(request.state, "rows", None),
        )
    return response


def create_app(settings: AppSettings | None = None) -> FastAPI:
    """The API on the store of ``settings`` (default: from the environment), its settings
    validated now; the store's engine and the policies are opened on start-up."""
    settings = settings or AppSettings.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = Context(settings)
        app.state.limits = SlidingWindow()
        app.state.responses = ResponseCache()
        app.state.ctx.registry  # noqa: B018 (parse the policies now, not on the first request)
        try:
            yield
        finally:
            app.state.ctx.close()

    app = FastAPI(
        title="schoolmode",
        version=__version__,
        summary="Decide, explain and publish school learning modes by agreed health metrics.",
        openapi_url="/openapi.json",
        docs_url=None,  # its page loads scripts from a CDN: no page may make an external request
        redoc_url=None,
        lifespan=lifespan,
    )
    problems.install(app)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_audit)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_limit)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_stamp)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    _describe_anonymous_access(app)
    return app


def _describe_anonymous_access(app: FastAPI) -> None:
    """In the OpenAPI description, a route the public may use has the bearer token optional
    (``security: [{}, {HTTPBearer: []}]``); the others require it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for router in ROUTERS:
            for route in router.routes:
                if not isinstance(route, APIRoute):
                    continue
                needs = route_requirements(route)
                if needs and (needs[0].permission is None or ANONYMOUS.may(needs[0].permission)):
                    for method in route.methods or ():
                        operation = document["paths"][API_PREFIX + route.path][method.lower()]
                        operation["security"] = [{}, *operation.get("security", [])]
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]

"""The application factory: ``create_app(settings)`` builds the API on one store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from schoolmode import __version__
from schoolmode.access.roles import ANONYMOUS
from schoolmode.api import problems
from schoolmode.api.cache import Recent, ResponseCache
from schoolmode.api.limits import SlidingWindow
from schoolmode.api.middleware import API_PREFIX, Guard
from schoolmode.api.routes import (
    access,
    alerts,
    auth,
    concerns,
    decisions,
    evaluate,
    evidence,
    imports,
    jobs,
    meta,
    metrics,
    operations,
    policies,
    releases,
    screening,
    staff,
    tracing,
)
from schoolmode.api.security import route_requirements
from schoolmode.app.context import Context
from schoolmode.app.jobrun import JobRunner
from schoolmode.settings import AppSettings

ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    auth.router,
    policies.router,
    decisions.router,
    metrics.router,
    releases.router,
    operations.router,
    tracing.router,
    screening.router,
    staff.router,
    concerns.router,
    alerts.router,
    evidence.router,
    imports.router,
    access.router,
    jobs.router,
    evaluate.router,
)
"""Every group of routes, mounted under ``API_PREFIX`` (the docs and tests walk these)."""


def create_app(settings: AppSettings | None = None) -> FastAPI:
    """The API on the store of ``settings`` (default: from the environment), its settings
    validated now; the store's engine and the policies are opened on start-up."""
    settings = settings or AppSettings.load()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ctx = Context(settings)
        app.state.limits = SlidingWindow()
        app.state.responses = ResponseCache()
        app.state.latest_runs = Recent[int | None]()
        app.state.jobs = JobRunner(settings)  # its Dask client is made on the first job
        app.state.ctx.registry  # noqa: B018 (parse the policies now, not on the first request)
        try:
            yield
        finally:
            app.state.jobs.close()
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
    app.add_middleware(Guard)
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

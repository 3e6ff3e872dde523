"""The whole site: the API (``api.app.create_app``) with the dashboard's pages and their
static files mounted beside it; ``schoolmode serve`` runs this."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib.resources import files

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from schoolmode.api.app import create_app
from schoolmode.app.context import Context
from schoolmode.app.dashboard import decided
from schoolmode.settings import AppSettings
from schoolmode.web import account, alerts, evidence, pages, playground

STATIC = files("schoolmode.web") / "static"
STARTUP_TIMEOUT_S = 120
"""How long :func:`serving` waits for the server to start (a loaded machine is slow)."""


def create_site(settings: AppSettings | None = None) -> FastAPI:
    """The API and the dashboard on the store of ``settings`` (default: from the
    environment)."""
    app = create_app(settings)
    app.include_router(pages.router)
    app.include_router(account.router)
    app.include_router(playground.router)
    app.include_router(alerts.router)
    app.include_router(evidence.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        async with inner(started):
            # the pages explain the last day decided most: its run's evaluation (recomputed from
            # the audit record, a few hundred ms on the full district) is made at start, in a
            # thread, so the first visitor does not wait for it
            threading.Thread(
                target=_warm, args=(started.state.ctx,), name="schoolmode-warm", daemon=True
            ).start()
            yield

    app.router.lifespan_context = lifespan
    return app


def _warm(ctx: Context) -> None:
    """Recompute the evaluation of the run of the last day decided (None: nothing decided)."""
    try:
        found = decided(ctx, None)
        if found is not None:
            ctx.evaluations.get(ctx.engine, found.run_id)
    except Exception:  # a warm-up only: the page that needs it says what failed
        logging.getLogger(__name__).exception("warming the last run's evaluation failed")


@contextmanager
def serving(settings: AppSettings, host: str = "127.0.0.1") -> Iterator[str]:
    """The site served by uvicorn in a thread of this process, on a free port of ``host``, for
    as long as the block runs: its base URL (the browser tests, ``bench/bench_web.py`` and
    ``scripts/screenshots`` use it; ``schoolmode serve`` is the way to run it for people)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_site(settings), host=host, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="schoolmode-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the site did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)

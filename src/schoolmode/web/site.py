"""The whole site: the API (``api.app.create_app``) with the dashboard's pages and their
static files mounted beside it; ``schoolmode serve`` runs this."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from schoolmode.api.app import create_app
from schoolmode.settings import AppSettings
from schoolmode.web import pages

STATIC = files("schoolmode.web") / "static"


def create_site(settings: AppSettings | None = None) -> FastAPI:
    """The API and the dashboard on the store of ``settings`` (default: from the
    environment)."""
    app = create_app(settings)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app

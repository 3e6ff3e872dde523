"""Fetch the public sources from their publishers into a cache the importers read."""

from __future__ import annotations

from schoolmode.fetch.http import FetchError, Http, HttpConfig
from schoolmode.fetch.run import FetchedFile, FetchPlan, Publishers, fetch_source
from schoolmode.fetch.sources import SOURCES, FetchSource

__all__ = [
    "SOURCES",
    "FetchError",
    "FetchPlan",
    "FetchSource",
    "FetchedFile",
    "Http",
    "HttpConfig",
    "Publishers",
    "fetch_source",
]

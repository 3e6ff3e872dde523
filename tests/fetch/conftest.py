"""Fixtures of the fetch tests: the publishers served on 127.0.0.1, and settings that point
``fetch`` at them (small Socrata pages, no wait between tries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from schoolmode.app.context import Context, open_context
from schoolmode.store.migrate import upgrade
from tests.fetch.publisher import Publisher, Serving

PAGE_SIZE = 100


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    """Every fetchable source served from the test fixtures, on a free port of 127.0.0.1."""
    serving = Serving(Publisher.from_fixtures())
    try:
        yield serving.publisher
    finally:
        serving.close()


def publisher_settings(base: str, cache: Path) -> dict[str, object]:
    """Settings (as ``AppSettings`` fields) that send ``fetch`` to ``base``."""
    return {
        "cache_dir": cache,
        "chicago_portal_url": f"{base}/chicago",
        "github_raw_url": f"{base}/github",
        "ontario_portal_url": f"{base}/ontario",
        "sociopatterns_url": f"{base}/sociopatterns",
        "fetch_page_size": PAGE_SIZE,
        "fetch_backoff": 0.0,
        "fetch_retries": 3,
    }


def publisher_env(base: str, cache: Path) -> dict[str, str]:
    """The same settings as environment variables (for the command line)."""
    return {
        f"SCHOOLMODE_{name.upper()}" if name != "cache_dir" else "SCHOOLMODE_CACHE": str(value)
        for name, value in publisher_settings(base, cache).items()
    }


ContextFor = Callable[..., AbstractContextManager[Context]]


@pytest.fixture
def fetch_ctx(publisher: Publisher, tmp_path: Path) -> Iterator[Context]:
    """A context on an empty, migrated SQLite store whose fetches go to ``publisher``."""
    settings = publisher_settings(publisher.base, tmp_path / "cache")
    with open_context(db_url=f"sqlite:///{tmp_path / 'store.sqlite'}", **settings) as ctx:
        upgrade(ctx.engine)
        yield ctx

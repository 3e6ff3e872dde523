"""Debian's Chromium driven by Playwright (its own browser download is not available here):
where the browser is, how it is started, and a page that records every request it makes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ENV = "SCHOOLMODE_CHROMIUM"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


def chromium_path() -> str:
    """The Chromium to drive: ``$SCHOOLMODE_CHROMIUM``, else ``chromium`` on the PATH; the
    test fails (never skips) without one."""
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found or not Path(found).exists():
        pytest.fail(
            f"no Chromium: install Debian's chromium package (scripts/test does) or set "
            f"{CHROMIUM_ENV} to its path",
            pytrace=False,
        )
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def watched(page: Page) -> list[str]:
    """Every URL ``page`` requests from now on (the list grows as it loads)."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen

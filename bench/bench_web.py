"""Benchmark the dashboard's pages: server time of the district page and a school page, cold
and warm, and time to first contentful paint in Chromium, against serving the same data as
JSON from the API in the same run.

    uv run python bench/bench_web.py [--db sqlite:///out/schoolmode.sqlite] [--day 2022-01-20]
        [--school ID] [--repeat 20] [--no-browser]

The site (``web.site.create_site``: API and pages) is served by uvicorn on 127.0.0.1 in this
process (rate limits lifted); the store is only read. Times are measured by an HTTP client on
the loopback, from sending the request to the end of the response: the server's time plus a
loopback round trip (well under a millisecond).

- **cold**: the first request of a page after the server started, the school page first (it
  pays for recomputing the run's evaluation from its audit record, which the explanations are
  written from; the district page after it does not);
- **warm**: the median of ``--repeat`` requests after it;
- **baseline**: the JSON the page is made of, from the API, the same ways (district:
  `GET /api/v1/decisions?date=D&scope=school&limit=1000` and the district's public
  explanation; school: the school's decisions, its public explanation and its public metrics);
  the ratio is page / JSON;
- **first contentful paint**: Chromium's `first-contentful-paint` entry of the page (the
  median of 5 loads, a new browser context each), Debian's Chromium through Playwright
  (``$SCHOOLMODE_CHROMIUM`` or ``chromium`` on the PATH).

Targets (issue 14): under 300 ms server time for a school page on the full synthetic district,
under 1.5 s to first paint. The machine is shared: read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bc  # tables
from schoolmode.app.context import Context
from schoolmode.app.dashboard import decided, schools
from schoolmode.settings import AppSettings
from schoolmode.web.site import serving

DEFAULT_DB = "sqlite:///out/schoolmode.sqlite"
PAINT = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => {
    const entry = list.getEntriesByName("first-contentful-paint")[0];
    if (entry) resolve(entry.startTime);
  }).observe({type: "paint", buffered: true});
  setTimeout(() => resolve(null), 20000);
})"""
"""The page's first contentful paint (ms from navigation), when Chromium records it."""
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def _timed(client: httpx.Client, urls: list[str]) -> float:
    """Seconds to fetch every one of ``urls`` in turn (each must answer 200)."""
    start = time.perf_counter()
    for url in urls:
        got = client.get(url)
        if got.status_code != 200:
            raise SystemExit(f"{url}: {got.status_code} {got.text[:300]}")
    return time.perf_counter() - start


def _cold_warm(client: httpx.Client, urls: list[str], repeat: int) -> tuple[float, float]:
    cold = _timed(client, urls)
    warm = statistics.median(_timed(client, urls) for _ in range(repeat))
    return cold, warm


def _paint(base: str, paths: list[str], loads: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SCHOOLMODE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no Chromium: install Debian's chromium package, or use --no-browser")
    out: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for path in paths:
            times = []
            for _ in range(loads):
                context = browser.new_context()
                page = context.new_page()
                page.goto(base + path, wait_until="load")
                fcp = page.evaluate(PAINT)
                context.close()
                if fcp is None:
                    raise SystemExit(f"{path}: no first-contentful-paint entry")
                times.append(float(fcp) / 1000)
            out[path] = statistics.median(times)
        browser.close()
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--school", default=None)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    settings = AppSettings.load(db_url=args.db, api_rate_anonymous=10**6)
    ctx = Context(settings)
    try:
        found = decided(ctx, args.day)
        if found is None:
            raise SystemExit("no decision in the store: run the README's main command first")
        school = args.school or schools(ctx)[0].id
        n_schools = len(schools(ctx))
    finally:
        ctx.close()
    day = found.day.isoformat()
    start = (found.day - dt.timedelta(days=27)).isoformat()
    district_page = [f"/?date={day}"]
    school_page = [f"/schools/{school}?date={day}"]
    district_json = [
        f"/api/v1/decisions?date={day}&scope=school&limit=1000",
        f"/api/v1/decisions?date={day}&scope=district",
        f"/api/v1/metrics/district?from={start}&to={day}",
    ]
    school_json = [
        f"/api/v1/decisions?date={day}&scope=school&unit={school}",
        f"/api/v1/decisions/school/{school}/public-explanation?date={day}",
        f"/api/v1/metrics/school?units={school}&from={start}&to={day}",
    ]
    rows = []
    with serving(settings) as base, httpx.Client(base_url=base, timeout=600) as client:
        # each page cold before its JSON: the page pays the run's evaluation, if anyone does
        plan: list[tuple[str, list[str], list[str]]] = [
            (f"school page ({school})", school_page, school_json),
            ("district page", district_page, district_json),
        ]
        measured: dict[str, tuple[float, float, float, float]] = {}
        for name, page, json_urls in plan:
            page_cold, page_warm = _cold_warm(client, page, args.repeat)
            json_cold, json_warm = _cold_warm(client, json_urls, args.repeat)
            measured[name] = (page_cold, page_warm, json_cold, json_warm)
        paint = {} if args.no_browser else _paint(base, [*district_page, *school_page], 5)
    for (name, (pc, pw, jc, jw)), path in zip(
        measured.items(), [school_page[0], district_page[0]], strict=True
    ):
        fcp = paint.get(path)
        rows.append(
            [
                name,
                _ms(pc),
                _ms(pw),
                _ms(jc),
                _ms(jw),
                f"{pw / jw:.2f}",
                "-" if fcp is None else f"{fcp:.2f}",
            ]
        )
    header = [
        "page",
        "cold ms",
        "warm ms",
        "JSON cold ms",
        "JSON warm ms",
        "warm page / JSON",
        "first paint s",
    ]
    print(f"store {args.db}: {n_schools} schools, day {day}, run {found.run_id}")
    print(bc.markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Screenshots of the dashboard's main pages for docs/screenshots/, in English and Spanish.

    uv run python scripts/screenshots.py [--db URL] [--school ID] [--out docs/screenshots]

Serves the site on the store (default: the README's main job's, out/schoolmode.sqlite) in this
process on 127.0.0.1 and drives Debian's Chromium through Playwright
(``$SCHOOLMODE_CHROMIUM`` or ``chromium`` on the PATH). The school shown is ``--school``, else
the first school the district page lists in another mode than most, else the first school.
Every request the pages make is checked to stay on the site.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, sync_playwright

from schoolmode.app.context import Context
from schoolmode.app.dashboard import district_day
from schoolmode.settings import AppSettings
from schoolmode.web.site import serving

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
SHOTS: list[tuple[str, str, tuple[int, int], bool | str]] = [
    # name, path, viewport (width, height), whole page (or a section's CSS selector: that
    # section alone)
    ("district", "/", (1280, 1000), False),
    ("district-charts", "/", (1280, 1000), "section[aria-labelledby=charts]"),
    ("district-mobile", "/", (390, 844), False),
    ("map", "/map", (1280, 900), False),
    ("school", "/schools/{school}", (1280, 1400), False),
    ("schools", "/schools?q={school}", (1280, 700), False),
    ("changes", "/changes", (1280, 900), False),
]


def _school(settings: AppSettings, asked: str | None) -> str:
    if asked:
        return asked
    ctx = Context(settings)
    try:
        page = district_day(ctx)
    finally:
        ctx.close()
    if page is None:
        sys.exit("no decision in the store: run the README's main command first")
    counts = sorted(
        (c for c in page.counts if c.scope == "school"), key=lambda c: c.units, reverse=True
    )
    usual = counts[0].mode if counts else None
    other = [s for s in page.schools if s.mode is not None and s.mode != usual]
    return (other or page.schools)[0].school.id


def _shoot(page: Page, base: str, out: Path, school: str, lang: str) -> list[Path]:
    made = []
    for name, path, (width, height), whole in SHOTS:
        page.set_viewport_size({"width": width, "height": height})
        url = f"{base}{path.format(school=school)}"
        page.goto(url + ("&" if "?" in url else "?") + f"lang={lang}")
        if page.locator("[data-map]").count():
            page.locator("#map .school-marker, #map .marker-cluster").first.wait_for()
        target = out / f"{name}-{lang}.png"
        if isinstance(whole, str):
            page.locator(whole).screenshot(path=str(target))
        else:
            page.screenshot(path=str(target), full_page=whole)
        made.append(target)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=f"sqlite:///{ROOT / 'out' / 'schoolmode.sqlite'}")
    parser.add_argument("--school", default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    chromium = os.environ.get("SCHOOLMODE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.exit("no Chromium: install Debian's chromium package or set SCHOOLMODE_CHROMIUM")
    settings = AppSettings.load(db_url=args.db)
    school = _school(settings, args.school)
    args.out.mkdir(parents=True, exist_ok=True)
    with serving(settings) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page()
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        made = [f for lang in ("en", "es") for f in _shoot(page, base, args.out, school, lang)]
        browser.close()
    elsewhere = sorted({u for u in seen if urlsplit(u).netloc != urlsplit(base).netloc})
    if elsewhere:
        sys.exit(f"a page requested another site: {elsewhere}")
    for path in made:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

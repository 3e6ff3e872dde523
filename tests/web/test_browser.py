"""The public pages in a real browser (Debian's Chromium through Playwright) on the site served
by uvicorn: every page renders, a school is found and reached, the language switch holds, no
request leaves the site, no visible count of people from 1 to 10, and axe-core finds no
serious or critical accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import PASSWORD
from tests.web.browser import AXE, chromium, watched
from tests.web.conftest import FIRST, PLACES, SCHOOL

NAME = PLACES[SCHOOL][0]
PAGES = {
    "/": "The district on",
    "/schools": "Schools on",
    f"/schools/{SCHOOL}": NAME,
    "/map": "Map of the schools on",
    "/changes": "Change log",
    "/policies": "Policies",
    "/policies/cps-ctu-2022-01-10": "CPS-CTU safety agreement of 10 January 2022",
    "/policies/compare?a=ctu-proposal-2022-01-08&b=cps-ctu-2022-01-10": "side by side",
    "/login": "Log in",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    try:
        yield context.new_page()
    finally:
        context.close()


def _local(base: str, urls: list[str]) -> list[str]:
    """The URLs among ``urls`` that are not this site's (data: URLs are in the page)."""
    site = urlsplit(base).netloc
    return [u for u in urls if not u.startswith("data:") and urlsplit(u).netloc != site]


def test_every_public_page_renders_and_requests_only_this_site(live_site: str, page: Page) -> None:
    seen = watched(page)
    for path, heading in PAGES.items():
        response = page.goto(live_site + path)
        assert response is not None
        assert response.status == 200, path
        assert heading in page.locator("h1").inner_text(), path
        assert page.locator("html").get_attribute("lang") == "en"
        # the stylesheet applied: the page is styled by its own file
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert seen
    assert _local(live_site, seen) == []


def test_no_visible_count_of_people_from_1_to_10(live_site: str, page: Page) -> None:
    cells = 0
    for path in PAGES:
        page.goto(live_site + path)
        for text in page.locator("[data-count]").all_inner_texts():
            cells += 1
            figure = text.strip().replace(",", "")
            if figure.isdigit():
                assert int(figure) == 0 or int(figure) > 10, (path, text)
            else:
                assert not re.search(r"\d", figure), (path, text)
        body = page.locator("body").inner_text()
        assert not re.search(r"\b(?:person|student|staff)[-_ ]?\d+", body, re.I), path
    assert cells > 0


def test_a_school_is_found_by_search_and_reached(live_site: str, page: Page) -> None:
    page.goto(live_site + "/")
    page.get_by_role("link", name="Find a school").click()
    page.get_by_label("Search by name, school id or ZIP code").fill(SCHOOL)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/schools\?"))
    assert "1 school found" in page.get_by_role("status").inner_text()
    page.get_by_role("link", name=NAME, exact=True).click()
    page.wait_for_url(re.compile(rf"/schools/{SCHOOL}\?date="))
    assert page.locator("h1").inner_text() == NAME
    assert page.get_by_role("heading", name="Why").is_visible()


def test_the_language_switch_holds_across_pages(live_site: str, page: Page) -> None:
    page.goto(live_site + "/")
    page.get_by_role("link", name="Español").click()
    page.wait_for_url(re.compile(r"lang=es"))
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("h1").inner_text().startswith("El distrito el jueves, 10 de febrero")
    page.get_by_role("link", name="Escuelas", exact=True).first.click()
    page.wait_for_url(re.compile(r"/schools$|/schools\?"))
    assert page.locator("html").get_attribute("lang") == "es"  # the choice is kept
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"


def test_the_map_shows_one_marker_per_school_and_finds_one(live_site: str, page: Page) -> None:
    seen = watched(page)
    page.goto(live_site + "/map")
    map_ = page.locator("#map")
    # (waited for through locators: the pages' Content-Security-Policy forbids eval)
    expect(map_).to_have_attribute("data-markers", str(len(PLACES)))
    # each school a dot once the map has settled on their bounds (none clustered at that zoom)
    expect(page.locator("#map path.school-marker")).to_have_count(len(PLACES))
    assert page.get_by_role("status").inner_text().startswith("The map shows every school")
    # the legend and the text alternative
    assert page.locator(".legend li").count() >= 1
    assert page.get_by_role("link", name=re.compile("The same schools as a list")).is_visible()
    # search on the map: a school by a word of its name, its popup links to its page
    page.get_by_label(re.compile("Find a school on the map")).fill("wells")
    page.locator("#map-results button").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Ida B. Wells Elementary" in popup.inner_text()
    popup.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/schools/400002\?date="))
    assert _local(live_site, seen) == []  # no tile server set: nothing from elsewhere


@pytest.mark.parametrize("lang", ["en", "es"])
def test_axe_finds_no_serious_or_critical_violation(
    live_site: str, browser: Browser, lang: str
) -> None:
    script = AXE.read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    # the pages allow no inline script (their Content-Security-Policy): the test's context
    # lets axe's be added
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    for path in PAGES:
        page.goto(f"{live_site}{path}{'&' if '?' in path else '?'}lang={lang}")
        page.add_script_tag(content=script)
        result = page.evaluate(
            "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
            "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
        )
        assert result["passes"], path  # axe ran its rules on the page
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if bad:
            found[path] = bad
    context.close()
    assert found == {}


def test_the_mode_authority_records_a_decision_from_its_view(live_site: str, page: Page) -> None:
    page.goto(live_site + "/me")
    page.wait_for_url(re.compile(r"/login$"))  # a role view needs a login
    page.get_by_label("Name").fill("mode-authority")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/me$"))
    assert "Logged in as mode-authority" in page.locator("main").inner_text()
    page.goto(f"{live_site}/me?date={FIRST.isoformat()}")
    form = page.locator("form.authorise").first
    form.get_by_label("Reason").fill("Staffing cannot cover the absences (browser test).")
    form.get_by_role("button", name="Record the decision to act").click()
    page.wait_for_url(re.compile(r"recorded=\d+"))
    assert "Recorded in the audit trail" in page.get_by_role("status").first.inner_text()
    # the union's view of the same day: the same changes, no form to decide
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.goto(live_site + "/login")
    page.get_by_label("Name").fill("union-safety-committee")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_site}/me?date={FIRST.isoformat()}")
    assert page.locator("article.eligible").count() >= 1
    assert page.locator("form.authorise").count() == 0


def test_the_playground_runs_a_backtest(live_site: str, page: Page) -> None:
    page.goto(live_site + "/login")
    page.get_by_label("Name").fill("district-operations")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/me$"))
    page.get_by_role("link", name=re.compile("Proposal playground")).click()
    page.wait_for_url(re.compile(r"/playground$"))
    page.get_by_label("Parameter", exact=True).select_option("teacher_absence_share_pct")
    page.get_by_label("Values to try, separated by commas").fill("25")
    page.get_by_label("From").fill(FIRST.isoformat())
    page.get_by_role("button", name="Run the backtest").click()
    page.wait_for_url(re.compile(r"/playground/jobs/\d+$"))
    # the page reloads itself until the job is done (a few seconds on the session's cluster)
    expect(page.get_by_role("status")).to_have_text("Done.", timeout=120_000)
    assert page.locator("table.sweep tbody tr").count() == 2  # in force, and 25
    assert page.locator("tr.in-force").count() == 1
    assert page.get_by_role("link", name="download").count() == 2

"""The public pages through the application (no browser): each renders on both stores, in
English and Spanish, shows the modes and the released figures, never a count of people from
1 to 10, and declares its permission like the API's routes."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import ValidationError

from schoolmode.access.roles import Permission
from schoolmode.api.security import route_requirements
from schoolmode.app.charts import held_days, policy_lines, policy_rises
from schoolmode.settings import AppSettings
from schoolmode.web import pages
from schoolmode.web.site import create_site
from tests.web.conftest import DAY, FIRST, PLACES, SCHOOL, Site

PAGES = [
    "/",
    "/schools",
    f"/schools/{SCHOOL}",
    "/map",
    "/changes",
    "/policies",
    "/policies/cps-ctu-2022-01-10",
    "/policies/compare?a=ctu-proposal-2022-01-08&b=cps-ctu-2022-01-10",
]
COUNT_CELL = re.compile(r'data-count="(\w+)">([^<]*)<')


def test_every_page_declares_the_public_permission() -> None:
    for route in pages.router.routes:
        assert isinstance(route, APIRoute)
        needs = route_requirements(route)
        assert [n.permission for n in needs] == [Permission.decisions_read], route.path


def test_every_page_renders_for_the_public_with_its_headers(site: Site) -> None:
    for path in PAGES:
        got = site.client.get(path)
        assert got.status_code == 200, (path, got.text[:500])
        assert got.headers["content-type"].startswith("text/html")
        assert got.headers["content-language"] == "en"
        assert "default-src 'none'" in got.headers["content-security-policy"]
        assert '<html lang="en">' in got.text
        assert "<h1>" in got.text
        # nothing is loaded from elsewhere: every resource is this site's (a link to a source
        # document is an <a>, followed only when clicked)
        for tag, ref in re.findall(r"<(\w+)[^>]*?\s(?:src|href)=\"([^\"]+)\"", got.text):
            if tag != "a":
                assert ref.startswith(("/", "data:")), (tag, ref)
                assert not ref.startswith("//"), (tag, ref)


def test_the_district_page_shows_the_day_the_modes_and_the_schools(site: Site) -> None:
    text = site.client.get("/").text
    assert "Thursday 10 February 2022" in text  # the last day decided
    assert "Schools and classrooms in each mode" in text
    assert re.search(r'data-units="school">\d+<', text)
    assert f'href="/schools?date={DAY.isoformat()}"' in text
    other = site.client.get(f"/?date={FIRST.isoformat()}").text
    assert "Monday 7 February 2022" in other


def test_a_school_page_explains_and_lists_its_history(site: Site) -> None:
    text = site.client.get(f"/schools/{SCHOOL}").text
    assert f"School {SCHOOL}" in text
    assert "Why" in text
    assert 'class="rule"' in text
    # the history: the second run's four days, newest first
    days = re.findall(r'href="/schools/[^"?]+\?date=(\d{4}-\d\d-\d\d)">', text)
    assert days[:4] == ["2022-02-10", "2022-02-09", "2022-02-08", "2022-02-07"]


def test_no_count_of_people_from_1_to_10_is_shown(site: Site) -> None:
    seen = 0
    for path in [*PAGES, f"/schools/{SCHOOL}?date={FIRST.isoformat()}"]:
        for state, shown in COUNT_CELL.findall(site.client.get(path).text):
            seen += 1
            if state == "shown":
                value = int(shown.replace(",", ""))
                assert value == 0 or value > 10, (path, value)
            else:
                assert not re.search(r"\d", shown), (path, shown)
    assert seen > 0  # the pages do show released counts


def test_the_school_search_finds_a_school(site: Site) -> None:
    text = site.client.get("/schools", params={"q": SCHOOL}).text
    assert "1 school found" in text
    assert f'href="/schools/{SCHOOL}?date=' in text
    none = site.client.get("/schools", params={"q": "no such school anywhere"}).text
    assert "0 schools found" in none


def test_spanish_by_the_switch_and_by_the_browser(site: Site) -> None:
    got = site.client.get("/", params={"lang": "es"})
    assert got.headers["content-language"] == "es"
    assert '<html lang="es">' in got.text
    assert "jueves, 10 de febrero de 2022" in got.text
    assert "Escuelas" in got.text
    assert got.cookies.get("lang") == "es"
    site.client.cookies.clear()
    by_browser = site.client.get(f"/schools/{SCHOOL}", headers={"Accept-Language": "es-MX"})
    assert by_browser.headers["content-language"] == "es"
    english = site.client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.headers["content-language"] == "en"


def test_the_change_log_marks_the_redecision_and_the_releases(site: Site) -> None:
    text = site.client.get("/changes").text
    assert "decisions made again" in text
    assert "Replaces 1" in text or re.search(r"Replaces \d+\.", text)
    assert "figures released" in text


def test_wrong_dates_and_unknown_schools_are_pages_that_say_so(site: Site) -> None:
    bad = site.client.get("/?date=2022-13-40")
    assert bad.status_code == 400
    assert "is not a date" in bad.text
    unknown = site.client.get("/schools/no-such-school")
    assert unknown.status_code == 404
    assert "There is no school" in unknown.text
    undecided = site.client.get("/?date=1999-01-04")
    assert undecided.status_code == 404
    assert "Nothing was decided on 1999-01-04" in undecided.text


def test_the_map_data_are_the_schools_places_and_modes_only(site: Site) -> None:
    got = site.client.get("/map/schools.geojson", params={"date": DAY.isoformat()})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/geo+json"
    doc = got.json()
    assert doc["date"] == DAY.isoformat()
    by_id = {f["properties"]["id"]: f for f in doc["features"]}
    assert set(by_id) == set(PLACES)
    for school, (name, lat, lon) in PLACES.items():
        feature = by_id[school]
        assert feature["geometry"] == {"type": "Point", "coordinates": [lon, lat]}
        props = feature["properties"]
        assert props["name"] == name
        assert set(props) == {"id", "name", "zip", "mode", "mode_class", "label", "url"}
        assert props["url"] == f"/schools/{school}?date={DAY.isoformat()}"
    spanish = site.client.get("/map/schools.geojson", params={"lang": "es"})
    assert spanish.headers["content-language"] == "es"


def test_a_tile_server_is_a_setting_and_the_only_other_site(site: Site) -> None:
    page = site.client.get("/map")
    assert "data-tiles" not in page.text  # none set: the schools on a plain background
    assert "img-src 'self' data:;" in page.headers["content-security-policy"]
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings = AppSettings.load(db_url=site.url, map_tile_url=tiles, map_tile_attribution="© X")
    with TestClient(create_site(settings)) as client:
        shown = client.get("/map")
    assert f'data-tiles="{tiles}"' in shown.text
    assert (
        "img-src 'self' data: https://tiles.example.org;"
        in shown.headers["content-security-policy"]
    )
    with pytest.raises(ValidationError):
        AppSettings.load(db_url=site.url, map_tile_url="http://tiles.example.org/{z}/{x}/{y}.png")


ATOM = "{http://www.w3.org/2005/Atom}"


def _api_changes(site: Site) -> set[str]:
    """Each unit-day whose mode or status differs from the unit's previous decided day, from
    the API's decisions of each day (the feeds' expected entries)."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    changed = set()
    day = FIRST
    while day <= DAY:
        got = site.client.get("/api/v1/decisions", params={"date": day.isoformat(), "limit": 1000})
        if got.status_code == 200:
            for row in got.json()["items"]:
                if row["scope"] == "classroom":
                    continue
                key = (row["scope"], row["unit"])
                now = (row["mode"], row["status"])
                if key in seen and seen[key] != now:
                    changed.add(f"{row['scope']}/{row['unit']}/{day.isoformat()}")
                seen[key] = now
        day += dt.timedelta(days=1)
    return changed


def test_the_alert_feeds_list_each_change_of_mode_or_status(site: Site) -> None:
    got = site.client.get("/feed.atom")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(got.content)
    assert feed.find(f"{ATOM}title").text == "schoolmode: changes in the district"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://testserver/feed.atom"
    entries = {e.find(f"{ATOM}id").text.split("testserver/")[1] for e in feed.iter(f"{ATOM}entry")}
    expected = _api_changes(site)
    assert expected  # the store has a school whose status changes in the second run's days
    assert {e.rsplit("/run-", 1)[0] for e in entries} == expected
    school = site.client.get(f"/schools/{SCHOOL}/feed.atom", params={"lang": "es"})
    assert school.status_code == 200
    mine = ET.fromstring(school.content)
    assert mine.get("{http://www.w3.org/XML/1998/namespace}lang") == "es"
    assert PLACES[SCHOOL][0] in mine.find(f"{ATOM}title").text
    for entry in mine.iter(f"{ATOM}entry"):
        assert f"/school/{SCHOOL}/" in entry.find(f"{ATOM}id").text
    page = site.client.get(f"/schools/{SCHOOL}").text
    assert f'href="/schools/{SCHOOL}/feed.atom"' in page
    assert site.client.get("/schools/nowhere/feed.atom").status_code == 404


def test_the_policies_their_sources_and_two_side_by_side(site: Site) -> None:
    listed = site.client.get("/policies").text
    assert listed.count('href="/policies/') >= 17  # every shipped policy, linked
    shown = site.client.get("/policies/cps-ctu-2022-01-10", params={"on": "2022-01-20"}).text
    assert "Teacher absences make a school eligible for remote learning" in shown
    assert "Substance News" in shown  # a source, named and linked
    assert "verified" in shown
    compared = site.client.get(
        "/policies/compare", params={"a": "ctu-proposal-2022-01-08", "b": "cps-ctu-2022-01-10"}
    ).text
    assert 'class="differs"' in compared
    assert "<code>ctu-proposal-2022-01-08</code>" in compared
    missing = site.client.get("/policies/compare", params={"a": "nope", "b": "cps-ctu-2022-01-10"})
    assert missing.status_code == 404
    assert site.client.get("/policies/nope").status_code == 404
    spanish = site.client.get("/policies/cps-ctu-2022-01-10", params={"lang": "es"}).text
    assert "se muestran tal como están escritas, en inglés" in spanish


def test_the_pages_download_what_they_show_suppressed_the_same_way(site: Site) -> None:
    media = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
    media["geojson"] = "application/geo+json"
    seen = set()
    for path in ["/", f"/schools/{SCHOOL}", "/map"]:
        for href in re.findall(r'href="(/api/v1/metrics/[^"]+)"', site.client.get(path).text):
            url = href.replace("&amp;", "&")
            got = site.client.get(url)
            assert got.status_code == 200, url
            fmt = re.search(r"format=(\w+)", url)
            assert fmt is not None
            assert got.headers["content-type"].startswith(media[fmt.group(1)]), url
            assert "counts 1-10 hidden" in got.headers["x-schoolmode-suppression"], url
            seen.add(fmt.group(1))
    assert seen == set(media)


def test_the_district_page_draws_the_city_against_the_policies_thresholds(site: Site) -> None:
    day = site.client.get("/", params={"lang": "en"}).text
    charts = re.findall(r'<svg viewBox="0 0 640 240" role="img"', day)
    assert charts  # the store's citywide release (CDPH fixture series) has the days
    assert 'class="threshold"' in day  # at least one policy's line
    assert "cps-lbfo-2021-02-04 &gt;= 25" in day  # the mayor's 25% on the 7-day positivity
    assert "The figures as a table" in day


def test_policy_lines_are_every_district_threshold_on_a_metric(site: Site) -> None:
    lines = policy_lines(site.ctx, "positivity_7d_pct", DAY)
    assert [(line.policy_id, line.op, line.value, line.level) for line in lines] == [
        # CDC's K-12 levels on the same citywide positivity: each cut of its band table
        ("cdc-k12-2021-02-12", ">=", 5.0, "moderate"),
        ("cdc-k12-2021-02-12", ">=", 8.0, "substantial"),
        ("cdc-k12-2021-02-12", ">=", 10.0, "high"),
        ("ctu-resolution-2022-01-04", ">=", 10.0, None),
        ("cps-lbfo-2021-02-04", ">=", 25.0, None),
    ]
    # two rules reading one band table give its cuts once
    indicators = policy_lines(site.ctx, "positivity_14d_pct", DAY)
    cdc = [(line.value, line.level) for line in indicators if line.policy_id.startswith("cdc")]
    assert cdc == [(3.0, "lower"), (5.0, "moderate"), (8.0, "higher"), (10.0, "highest")]
    # the days a rise rule held, by the engine on the released figures: a week-on-week climb
    # of 1.15 and more holds from its 14th day (7 days of rise, each 15% above a week before)
    start = dt.date(2021, 12, 1)
    climbing = [(start + dt.timedelta(days=i), 2.0 * 1.03**i) for i in range(30)]
    held = held_days(site.ctx, "ctu-proposal-2022-01-08", "positivity_7d_pct", climbing)
    assert held
    assert held[0] == start + dt.timedelta(days=13)
    assert held == [d for d, _ in climbing[13:]]
    flat = [(d, 5.0) for d, _ in climbing]
    assert held_days(site.ctx, "ctu-proposal-2022-01-08", "positivity_7d_pct", flat) == []
    # rules on a rise of the metric, which no line can draw, are listed with their days
    rises = policy_rises(site.ctx, "positivity_7d_pct", DAY)
    assert [(r.policy_id, r.days) for r in rises] == [
        ("cps-ctu-2021-02-06", 7),
        ("cps-ctu-2021-04-15-hs", 7),
        ("ctu-proposal-2022-01-08", 7),
    ]
    assert policy_lines(site.ctx, "no_such_metric", DAY) == []


def test_a_school_page_charts_its_released_shares_against_the_thresholds(site: Site) -> None:
    from schoolmode.access.roles import ANONYMOUS
    from schoolmode.app.charts import CHART_DAYS, school_charts
    from schoolmode.app.metrics import MetricsRequest, metrics_frame

    charts = school_charts(site.ctx, SCHOOL, DAY)
    start = DAY - dt.timedelta(days=CHART_DAYS - 1)
    frame, _, _ = metrics_frame(
        site.ctx,
        MetricsRequest(level="school", start=start, end=DAY, units=(SCHOOL,), limit=1000),
        ANONYMOUS,
    )
    released = {
        column: [
            (d, float(v))
            for d, v in frame.select("date", column).drop_nulls().sort("date").iter_rows()
        ]
        for column in ("students_quarantine_isolation_pct", "covid_absent_teachers_pct")
        if column in frame.columns
    }
    # exactly the released shares (a hidden day left out), each with the agreement's threshold
    assert {c.column: c.points for c in charts} == {k: v for k, v in released.items() if v}
    assert charts, "the store releases some share of the school"
    thresholds = {c.column: [(line.policy_id, line.value) for line in c.lines] for c in charts}
    expected = {
        "students_quarantine_isolation_pct": [("cps-ctu-2022-01-10", 40.0)],
        "covid_absent_teachers_pct": [("cps-ctu-2022-01-10", 30.0)],
    }
    assert thresholds == {k: expected[k] for k in thresholds}
    page = site.client.get(f"/schools/{SCHOOL}", params={"date": DAY.isoformat()}).text
    assert "The school&#39;s shares over time, against the policies&#39; thresholds" in page
    assert page.count("<svg viewBox") == len(charts)

"""The metrics resources: the public release (suppressed, with the rule named), exact
figures for roles with decision inputs within their scope, downloads, bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import polars as pl

from schoolmode.app.metrics import CLASSROOM_COUNTS, SCHOOL_COUNTS, exact_tables
from schoolmode.app.releases import DAY_COUNTS
from tests.api.conftest import DAY, OTHER_SCHOOL, SCHOOL, Api

RANGE = {"from": (DAY - dt.timedelta(days=13)).isoformat(), "to": DAY.isoformat(), "limit": 1000}


def test_the_public_school_metrics_hide_small_counts_and_name_the_rule(api: Api) -> None:
    page = api.client.get("/api/v1/metrics/school", params=RANGE).json()
    assert page["exact"] is False
    assert (page["rule"]["low"], page["rule"]["high"]) == (1, 10)
    assert page["rule"]["effective"] == "2020-01-01"
    assert page["counts"] == list(DAY_COUNTS)
    assert page["total"] == 3 * 14
    exact = exact_tables(api.engine)["school"]
    hidden = 0
    for row in page["items"]:
        named = set((row["suppressed"] or "").split(",")) - {""}
        assert "school_cases" not in row
        assert "school_cases_14d" not in row
        for c in DAY_COUNTS:
            assert (row[c] is None) == (c in named)
            assert row[c] is None or not 1 <= row[c] <= 10, (row["unit"], c, row[c])
            hidden += c in named
        if row["covid_absent_teachers"] is None or row["classroom_teachers"] is None:
            assert row["covid_absent_teachers_pct"] is None
    assert hidden, "the tiny district has small counts: some must be hidden"
    shown = {(r["unit"], r["date"]): r for r in page["items"]}
    for row in exact.filter(pl.col("date").is_between(DAY - dt.timedelta(days=13), DAY)).to_dicts():
        public = shown[(row["unit"], row["date"].isoformat())]
        assert all(public[c] in (None, row[c]) for c in DAY_COUNTS), "a shown count differs"


def test_the_public_cases_are_by_complete_week(api: Api) -> None:
    weeks = api.client.get("/api/v1/metrics/school_weekly", params={"limit": 1000}).json()
    assert weeks["exact"] is False
    assert weeks["counts"] == ["school_cases"]
    mondays = sorted({r["date"] for r in weeks["items"]})
    assert mondays == ["2022-01-17", "2022-01-24", "2022-01-31"], "the week of DAY is not over"
    exact = exact_tables(api.engine)["school_weekly"]
    truth = {(r["unit"], r["date"].isoformat()): r["school_cases"] for r in exact.to_dicts()}
    for row in weeks["items"]:
        assert row["school_cases"] in (None, truth[(row["unit"], row["date"])])
        assert row["school_cases"] is None or not 1 <= row["school_cases"] <= 10
    district = api.client.get("/api/v1/metrics/district", params=RANGE).json()
    assert any("published by complete week" in n for n in district["notes"])
    on_day = {r["date"]: r for r in district["items"]}
    assert on_day[DAY.isoformat()]["school_cases"] is None, "its week is not released yet"
    for row in district["items"]:  # the day's and the week's hidden counts, one column
        assert "literal" not in row
        assert row["suppressed"] is None or row["suppressed"].strip(",") == row["suppressed"]
        assert row["suppressed"] != ""
    exact_union = api.client.get(
        "/api/v1/metrics/school_weekly", headers=api.as_("union-safety-committee")
    ).json()
    assert exact_union["exact"] is True
    assert all(r["school_cases"] is not None for r in exact_union["items"])


def test_the_releases_are_listed_for_anyone_and_made_by_district_operations(api: Api) -> None:
    listed = api.client.get("/api/v1/releases", params={"limit": 1000}).json()
    kinds = {r["kind"] for r in listed["items"]}
    assert {"day", "week"} <= kinds
    assert all("inputs_sha256" not in r for r in listed["items"]), "exact digests stay inside"
    days = [r for r in listed["items"] if r["kind"] == "day"]
    assert min(r["period_start"] for r in days) == "2022-01-17"
    assert api.client.post("/api/v1/releases", json={"first": "2022-01-17"}).status_code == 401
    body = {"first": "2022-01-17", "last": DAY.isoformat()}
    again = api.client.post("/api/v1/releases", json=body, headers=api.as_("district-operations"))
    assert again.status_code == 201, again.text
    assert again.json()
    assert not any(r["new"] for r in again.json()), "nothing changed"
    long = {"first": "2021-01-01", "last": DAY.isoformat()}
    r = api.client.post("/api/v1/releases", json=long, headers=api.as_("district-operations"))
    assert r.status_code == 422
    assert "schoolmode publish" in r.json()["detail"]


def test_a_role_with_decision_inputs_gets_exact_figures_in_its_scope(api: Api) -> None:
    union = api.client.get(
        "/api/v1/metrics/school", params=RANGE, headers=api.as_("union-safety-committee")
    ).json()
    assert union["exact"] is True
    assert union["rule"] is None
    assert {r["unit"] for r in union["items"]} == {SCHOOL, OTHER_SCHOOL, "400003"}
    assert all(r[c] is not None for r in union["items"] for c in SCHOOL_COUNTS)
    mine = api.client.get(
        "/api/v1/metrics/classroom", params=RANGE, headers=api.as_("school-union")
    ).json()
    assert mine["exact"] is True
    assert {r["parent"] for r in mine["items"]} == {SCHOOL}
    assert all(r[c] is not None for r in mine["items"] for c in CLASSROOM_COUNTS)
    district = api.client.get(
        "/api/v1/metrics/district", params=RANGE, headers=api.as_("school-union")
    ).json()
    assert district["exact"] is False, "a school's scope does not reach the district's figures"


def test_downloads_carry_the_same_rows_and_the_rule(api: Api) -> None:
    page = api.client.get("/api/v1/metrics/school", params=RANGE).json()
    query = {k: v for k, v in RANGE.items() if k != "limit"}
    csv = api.client.get("/api/v1/metrics/school/download", params={**query, "format": "csv"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["x-schoolmode-suppression"].startswith("cms-cdc-1-10; counts 1-10 hidden")
    rows = pl.read_csv(io.BytesIO(csv.content), infer_schema_length=None)
    assert rows.height == page["total"]
    parquet = api.client.get(
        "/api/v1/metrics/school/download", params={**query, "format": "parquet"}
    )
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert frame["enrolled"].to_list() == [r["enrolled"] for r in page["items"]]
    geo = api.client.get("/api/v1/metrics/school/download", params={**query, "format": "geojson"})
    assert geo.headers["content-type"] == "application/geo+json"
    doc = json.loads(geo.content)
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == page["total"]
    assert doc["suppression"]["id"] == "cms-cdc-1-10"


def test_bad_requests_name_the_field(api: Api) -> None:
    later = {"from": DAY.isoformat(), "to": (DAY - dt.timedelta(days=1)).isoformat()}
    r = api.client.get("/api/v1/metrics/school", params=later)
    assert r.status_code == 422
    assert "query.from" in r.json()["detail"]
    r = api.client.get("/api/v1/metrics/citywide/download", params={"format": "geojson"})
    assert r.status_code == 422
    assert "query.format" in r.json()["detail"]
    r = api.client.get("/api/v1/metrics/county")
    assert r.status_code == 422
    assert r.json()["invalid_params"][0]["name"] == "path.level"


def test_the_public_explanation_gives_bands_never_counts(api: Api) -> None:
    url = f"/api/v1/decisions/school/{SCHOOL}/public-explanation"
    public = api.client.get(url, params={"date": DAY.isoformat()})
    assert public.status_code == 200
    body = public.json()
    assert body["suppression"]["high"] == 10
    bands = [c["band"] for r in body["rules"] for c in r["conditions"]]
    assert bands
    assert all(b is not None for b in bands)
    assert not re.search(r"\d+ of \d+", body["text"]), body["text"]
    exact = api.client.get(
        f"/api/v1/decisions/school/{SCHOOL}/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_("union-safety-committee"),
    ).json()
    assert re.search(r"\d+ of \d+", exact["text"]), "the role view keeps the exact figures"
    refused = api.client.get(
        f"/api/v1/decisions/school/{SCHOOL}/explanation", params={"date": DAY.isoformat()}
    )
    assert refused.status_code == 401


def test_classroom_counts_are_not_public(api: Api) -> None:
    page = api.client.get("/api/v1/metrics/classroom", params=RANGE).json()
    assert page["exact"] is False
    assert page["items"] == []
    assert page["total"] == 0
    assert any("classroom counts are not public" in n for n in page["notes"])
    csv = api.client.get("/api/v1/metrics/classroom/download", params={"format": "csv"})
    assert csv.status_code == 200
    assert "classroom counts are not public" in csv.headers["x-schoolmode-notes"]
    assert pl.read_csv(io.BytesIO(csv.content)).height == 0
    school = api.client.get("/api/v1/metrics/school", params=RANGE).json()
    assert all("withheld" not in n for n in school["notes"]), "the tiny district is protected"

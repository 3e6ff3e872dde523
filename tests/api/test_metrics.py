"""The metrics resources: the public release (suppressed, with the rule named), exact
figures for roles with decision inputs within their scope, downloads, bad input."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import polars as pl

from schoolmode.app.metrics import CLASSROOM_COUNTS, SCHOOL_COUNTS, exact_tables
from tests.api.conftest import DAY, OTHER_SCHOOL, SCHOOL, Api

RANGE = {"from": (DAY - dt.timedelta(days=13)).isoformat(), "to": DAY.isoformat(), "limit": 1000}


def test_the_public_school_metrics_hide_small_counts_and_name_the_rule(api: Api) -> None:
    page = api.client.get("/api/v1/metrics/school", params=RANGE).json()
    assert page["exact"] is False
    assert (page["rule"]["low"], page["rule"]["high"]) == (1, 10)
    assert page["rule"]["effective"] == "2020-01-01"
    assert page["total"] == 3 * 14
    exact = exact_tables(api.engine)["school"]
    hidden = 0
    for row in page["items"]:
        named = set((row["suppressed"] or "").split(",")) - {""}
        for c in SCHOOL_COUNTS:
            assert (row[c] is None) == (c in named)
            assert row[c] is None or not 1 <= row[c] <= 10, (row["unit"], c, row[c])
            hidden += c in named
        if row["covid_absent_teachers"] is None or row["classroom_teachers"] is None:
            assert row["covid_absent_teachers_pct"] is None
    assert hidden, "the tiny district has small counts: some must be hidden"
    shown = {(r["unit"], r["date"]): r for r in page["items"]}
    for row in exact.filter(pl.col("date").is_between(DAY - dt.timedelta(days=13), DAY)).to_dicts():
        public = shown[(row["unit"], row["date"].isoformat())]
        assert all(public[c] in (None, row[c]) for c in SCHOOL_COUNTS), "a shown count differs"


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
    assert school["notes"] == [], "the tiny district's school table is protected as it is"

"""The operations and imports routes on a store with the tiny synthetic district, on SQLite and
PostgreSQL: the accommodation lottery committed before its draw, uploads checked as the
command checks them, scopes, pagination and date filters, the access log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl

from schoolmode.access.roles import Role, Scope
from schoolmode.app.access import AddAccountRequest, TokenRequest, add_account, create_token
from schoolmode.operations import accommodations as acc
from schoolmode.store.frames import record_frame
from tests.api.conftest import ADMIN, DAY, OTHER_SCHOOL, SCHOOL, Api

HEADER = "request_id,person_id,basis,requested_date,status\n"
REQUESTS = HEADER + "".join(
    [f"H{i:02d},P{i:02d},household_high_risk,2021-02-01,pending\n" for i in range(12)]
    + ["O1,Q1,own_high_risk,2021-02-01,pending\n", "C1,Q2,caregiver,2021-02-02,pending\n"]
)
ON = "2021-02-05"
LBFO = "cps-lbfo-2021-02-04"


def _log(api: Api, route: str) -> list[dict[str, Any]]:
    items = api.client.get(
        "/api/v1/access-log", params={"limit": 1000}, headers=api.as_("auditor")
    ).json()["items"]
    return [e for e in items if e["route"] == route]


def _upload(api: Api, path: str, body: str, who: str = "hr", **form: str) -> Any:
    files = {"file": ("requests.csv", body.encode())}
    return api.client.post(path, files=files, data=form, headers=api.as_(who))


def test_accommodation_lottery_is_committed_before_its_draw(api: Api) -> None:
    hr = api.as_("hr")
    bad = _upload(
        api, "/api/v1/accommodations/requests", HEADER + "A1,P1,astrology,2021-02-01,pending\n"
    )
    assert bad.status_code == 422
    names = [p["name"] for p in bad.json()["invalid_params"]]
    assert "file.requests.csv.row.1.basis" in names
    assert "schoolmode-upload" not in bad.text  # the server's folder is not shown
    done = _upload(api, "/api/v1/accommodations/requests", REQUESTS)
    assert done.status_code == 201, done.text
    assert done.json()["added"] == 14
    pool = api.client.get(
        "/api/v1/accommodations/pool", params={"date": ON, "policy_id": LBFO}, headers=hr
    )
    assert pool.status_code == 200
    assert pool.json()["eligible"] == 14
    assert "ranked" not in pool.text  # the pool and its places, never an order
    early = {"date": ON, "seed": 7, "nonce": "0" * 32}
    refused = api.client.post("/api/v1/accommodations/reviews", json=early, headers=hr)
    assert refused.status_code == 400
    assert "no lottery commitment" in refused.json()["detail"]
    made = api.client.post(
        "/api/v1/accommodations/commitments", json={"date": ON, "policy_id": LBFO}, headers=hr
    )
    assert made.status_code == 201, made.text
    committed = made.json()
    assert committed["commitment_sha256"] == acc.commitment_digest(
        committed["seed"], committed["nonce"]
    )
    logged = json.dumps(_log(api, "/api/v1/accommodations/commitments"))
    assert str(committed["seed"]) not in logged  # the secret is not in the access log
    assert committed["nonce"] not in logged
    reveal = {"date": ON, "seed": committed["seed"], "nonce": committed["nonce"]}
    wrong = api.client.post(
        "/api/v1/accommodations/reviews", json={**reveal, "seed": reveal["seed"] + 1}, headers=hr
    )
    assert wrong.status_code == 400
    assert "do not match" in wrong.json()["detail"]
    review = api.client.post("/api/v1/accommodations/reviews", json=reveal, headers=hr)
    assert review.status_code == 201, review.text
    decided = review.json()
    assert decided["decided"] == 14
    granted = [d for d in decided["decisions"] if d["outcome"] == "granted"]
    assert len(granted) == 4  # O1 by right, 3 of 12 (25%) by the lottery; C1 no provision
    again = api.client.post("/api/v1/accommodations/reviews", json=reveal, headers=hr)
    assert again.status_code == 400
    assert "was revealed by review" in again.json()["detail"]
    audit = api.client.get("/api/v1/accommodations/lotteries", headers=api.as_("auditor"))
    assert audit.json()["problems"] == []
    assert audit.json()["revealed"] == [committed["commitment_id"]]
    # appeal a loser of the draw, record the outcome, read the history
    loser = next(
        d for d in decided["decisions"] if d["rule"] == "lottery" and d["outcome"] == "denied"
    )
    filed = api.client.post(
        f"/api/v1/accommodations/decisions/{loser['decision_id']}/appeals",
        json={"grounds": "doctor's letter", "filed_on": "2021-02-08"},
        headers=hr,
    )
    assert filed.status_code == 201, filed.text
    outcome = api.client.post(
        f"/api/v1/accommodations/appeals/{filed.json()['appeal_id']}/outcome",
        json={"outcome": "granted", "reason": "severe condition", "on": "2021-02-09"},
        headers=hr,
    )
    assert outcome.status_code == 201, outcome.text
    history = api.client.get(
        f"/api/v1/accommodations/requests/{loser['request_id']}/history", headers=hr
    )
    assert [e["event"] for e in history.json()] == ["decision", "appeal", "decision"]
    assert _log(api, "/api/v1/accommodations/requests/{request_id}/history")[0]["rows"] == 3
    # the list, paginated, with its date filter
    listed = api.client.get("/api/v1/accommodations", params={"limit": 5}, headers=hr).json()
    assert (listed["total"], len(listed["items"])) == (14, 5)
    later = api.client.get("/api/v1/accommodations", params={"from": "2021-02-09"}, headers=hr)
    assert [r["request_id"] for r in later.json()["items"]] == [loser["request_id"]]


CPS_CASES = (
    "School,Latitude,Longitude,CPS_School_ID,7Total,14Total,21Total,gTotal,preSY2122,"
    "20201003,20201010,20201017,20201024,20201031\n"
    "FIXTURE ELEMENTARY A,41.9,-87.6,400001,0,0,0,9,9,1,3,0,5,0\n"
    "FIXTURE ELEMENTARY B,41.8,-87.7,400002,0,0,0,4,4,0,0,2,2,0\n"
)


def _cases_file(api: Api, body: str, **form: str) -> Any:
    files = {"file": ("allCpsCovidData.csv", body.encode())}
    return api.client.post(
        "/api/v1/imports/cps-school-covid-cases",
        files=files,
        data=form,
        headers=api.as_("data-steward"),
    )


def test_upload_of_a_source_is_checked_and_logged_with_its_corrections(api: Api) -> None:
    steward = api.as_("data-steward")
    bad = _cases_file(api, CPS_CASES.replace(",0,5,0\n", ",0,lots,0\n", 1))
    assert bad.status_code == 422, bad.text
    problem = bad.json()
    assert problem["invalid_params"][0]["name"].startswith("file.allCpsCovidData.csv.row.1.")
    assert "nothing imported" in problem["detail"]
    log = "/api/v1/imports/log"
    assert (
        api.client.get(log, params={"source": "cps-school-covid-cases"}, headers=steward).json()[
            "total"
        ]
        == 0
    )
    first = _cases_file(api, CPS_CASES)
    assert first.status_code == 201, first.text
    assert first.json()["path"] == "allCpsCovidData.csv"
    shorter = CPS_CASES.rsplit("FIXTURE ELEMENTARY B", 1)[0]
    refused = _cases_file(api, shorter)
    assert refused.status_code == 422
    assert "remov" in refused.json()["detail"]
    fixed = _cases_file(api, shorter, allow_removals="true")
    assert fixed.status_code == 201, fixed.text
    entries = api.client.get(
        log, params={"source": "cps-school-covid-cases"}, headers=steward
    ).json()
    assert entries["total"] == 2
    newest, older = entries["items"]
    assert (newest["status"], older["status"]) == ("current", "superseded")
    assert newest["supersedes_id"] == older["id"]
    assert newest["rows_removed"] >= 1
    none = api.client.get(log, params={"to": "2000-01-01"}, headers=steward)
    assert none.json()["total"] == 0
    files = {"file": ("x.csv", b"a\n")}
    nowhere = api.client.post("/api/v1/imports/astrology", files=files, headers=steward)
    assert nowhere.status_code == 404
    whole = api.client.post("/api/v1/fetch/chicago", json={}, headers=steward)
    assert whole.status_code == 400
    # a fetch is a job (tests/api/test_jobs.py runs them): an unknown source starts none
    unknown = api.client.post("/api/v1/fetch/astrology", json={}, headers=steward)
    assert unknown.status_code == 404
    assert "cannot fetch 'astrology'" in unknown.json()["detail"]


def _scoped(api: Api, name: str, role: Role, scope: str) -> dict[str, str]:
    add_account(api.ctx, AddAccountRequest(name=name, role=role, scope=scope), ADMIN)
    token = create_token(api.ctx, TokenRequest(name=name, label="tests"), ADMIN).token
    return {"Authorization": f"Bearer {token}"}


def test_tracing_routes_are_scoped_and_person_level_reads_logged(api: Api) -> None:
    case = record_frame(api.engine, "case").sort("case_id").row(0, named=True)
    traced = api.client.post(
        f"/api/v1/tracing/cases/{case['case_id']}", json={}, headers=api.as_("health-department")
    )
    assert traced.status_code == 200, traced.text
    assert traced.json()["case_id"] == case["case_id"]
    assert traced.json()["recorded"] is not None
    params = {"school": SCHOOL, "date": DAY.isoformat(), "limit": 2}
    listed = api.client.get(
        "/api/v1/quarantine", params=params, headers=api.as_("health-department")
    )
    assert listed.status_code == 200
    assert len(listed.json()["items"]) <= 2
    assert _log(api, "/api/v1/quarantine")[0]["rows"] == len(listed.json()["items"])
    local = _scoped(api, "school-health", Role.health_department, f"school:{SCHOOL}")
    assert api.client.get("/api/v1/quarantine", params=params, headers=local).status_code == 200
    elsewhere = {**params, "school": OTHER_SCHOOL}
    outside = api.client.get("/api/v1/quarantine", params=elsewhere, headers=local)
    assert outside.status_code == 403
    everywhere = api.client.get("/api/v1/outbreaks", headers=api.as_("union-safety-committee"))
    assert everywhere.status_code == 200
    mine = api.client.get("/api/v1/outbreaks", headers=api.as_("school-union")).json()["items"]
    rooms = set(
        record_frame(api.engine, "classroom").filter(pl.col("school_id") == SCHOOL)["classroom_id"]
    )
    assert {o["classroom_id"] for o in mine} <= rooms
    assert len(mine) <= everywhere.json()["total"]
    with_dates = api.client.get(
        "/api/v1/outbreaks", params={"from": "2030-01-01"}, headers=api.as_("auditor")
    )
    assert with_dates.json()["total"] == 0
    assert Scope.parse(f"school:{SCHOOL}").covers_school(SCHOOL)


def test_screening_and_vaccination_routes(api: Api) -> None:
    ops = api.as_("district-operations")
    week = api.client.get(
        "/api/v1/screening/positivity", params={"week": DAY.isoformat()}, headers=ops
    )
    assert week.status_code == 200, week.text
    assert week.json()["monday"] == "2022-02-07"
    queue = api.client.get("/api/v1/screening/exceptions", params={"all": "true"}, headers=ops)
    assert queue.status_code == 200
    assert queue.json()["total"] == 0
    missing = api.client.post(
        "/api/v1/screening/exceptions/9/resolution", json={"note": ""}, headers=ops
    )
    assert missing.status_code == 422
    assert missing.json()["invalid_params"][0]["name"] == "body.note"
    school = api.client.get(
        "/api/v1/screening/positivity",
        params={"week": DAY.isoformat()},
        headers=api.as_("school-union"),
    )
    assert school.status_code == 403  # screening is district-wide
    plan = api.client.post(
        "/api/v1/vaccination/schedules",
        json={
            "start": "2021-02-11",
            "weeks": 2,
            "policy_id": "cps-ctu-2021-02-06",
            "roster_date": DAY.isoformat(),
        },
        params={"limit": 3},
        headers=ops,
    )
    assert plan.status_code == 200, plan.text
    done = plan.json()
    assert done["run_id"] is None  # computed, not recorded
    assert len(done["appointments"]["items"]) == min(3, done["appointments"]["total"])
    assert done["staff"] > 0
    logged = _log(api, "/api/v1/vaccination/schedules")[0]
    assert (logged["action"], logged["rows"]) == ("write", len(done["appointments"]["items"]))


def test_tracing_indicators_count_the_traced_cases_of_each_week(api: Api) -> None:
    cases = record_frame(api.engine, "case").sort("report_date", "case_id")
    week = cases.row(0, named=True)["report_date"]
    monday = week - dt.timedelta(days=week.weekday())
    in_week = cases.filter(
        (pl.col("report_date") >= monday) & (pl.col("report_date") <= monday + dt.timedelta(days=6))
    )
    ids = in_week.get_column("case_id").to_list()
    params = {"from": monday.isoformat(), "to": (monday + dt.timedelta(days=6)).isoformat()}
    headers = api.as_("health-department")

    def week_row() -> dict:  # type: ignore[type-arg]
        got = api.client.get("/api/v1/tracing/indicators", params=params, headers=headers)
        assert got.status_code == 200, got.text
        items = got.json()["items"]
        assert [i["week_start"] for i in items] == [monday.isoformat()]
        return items[0]  # type: ignore[no-any-return]

    before = week_row()
    assert before["cases"] == len(ids)
    for case_id in ids[:2]:
        traced = api.client.post(f"/api/v1/tracing/cases/{case_id}", json={}, headers=headers)
        assert traced.status_code == 200, traced.text
    after = week_row()
    assert after["cases"] == len(ids)
    assert after["traced"] >= min(2, len(ids))
    assert after["traced"] + after["not_traced"] == len(ids)
    # the contacts counted are the distinct (case, person) pairs the runs recorded
    contacts = record_frame_sql(api, ids)
    assert after["contacts"] == contacts
    assert after["quarantined"] + after["test_to_stay"] + after["exempt"] == contacts
    if after["traced"]:
        assert after["contacts_per_case"] == round(contacts / after["traced"], 2)
    # counts only, and for the roles with the operations' counts; the range is checked
    assert api.client.get("/api/v1/tracing/indicators", params=params).status_code == 401
    assert (
        api.client.get(
            "/api/v1/tracing/indicators", params=params, headers=api.as_("hr")
        ).status_code
        == 403
    )
    wrong = {"from": params["to"], "to": params["from"]}
    assert (
        api.client.get("/api/v1/tracing/indicators", params=wrong, headers=headers).status_code
        == 422
    )


def record_frame_sql(api: Api, case_ids: list[str]) -> int:
    """Distinct (case, person) close contacts recorded for ``case_ids``, counted by SQL."""
    from sqlalchemy import text

    marks = ", ".join(f":c{i}" for i in range(len(case_ids)))
    with api.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT DISTINCT case_id, person_id FROM traced_contact "
                    f"WHERE case_id IN ({marks})) AS pairs"
                ),
                {f"c{i}": c for i, c in enumerate(case_ids)},
            ).scalar_one()
        )

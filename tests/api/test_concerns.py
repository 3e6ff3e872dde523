"""The union safety committee's concerns through the API, on SQLite and PostgreSQL: filed by
the committee within its scope, answered by district operations, followed up by the committee;
each list and concern filtered to the caller's scope; append-only history; wrong steps refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.api.conftest import OTHER_SCHOOL, SCHOOL, THIRD_SCHOOL, Api

UNION = "union-safety-committee"
OPS = "district-operations"


def _file(api: Api, who: str, school: str | None, subject: str) -> dict:  # type: ignore[type-arg]
    got = api.client.post(
        "/api/v1/concerns",
        json={"school_id": school, "subject": subject, "body": "Ventilation in room 204 is off."},
        headers=api.as_(who),
    )
    assert got.status_code == 201, got.text
    return got.json()  # type: ignore[no-any-return]


def test_a_concern_is_filed_answered_and_followed_up(api: Api) -> None:
    filed = _file(api, UNION, SCHOOL, "Room 204 ventilation")
    assert filed["status"] == "open"
    assert filed["filed_by"] == UNION
    assert filed["school_id"] == SCHOOL
    key = filed["id"]
    answers = f"/api/v1/concerns/{key}/answers"
    follow = f"/api/v1/concerns/{key}/follow-ups"
    # the union cannot answer its own concern, operations cannot follow it up as the union
    note = {"step": "answered", "note": "HEPA filter installed on 12 January."}
    assert api.client.post(answers, json=note, headers=api.as_(UNION)).status_code == 403
    assert api.client.post(follow, json=note, headers=api.as_(OPS)).status_code == 403
    got = api.client.post(
        answers, json={"step": "acknowledged", "note": "Facilities told."}, headers=api.as_(OPS)
    )
    assert got.status_code == 201, got.text
    assert got.json()["status"] == "acknowledged"
    got = api.client.post(answers, json=note, headers=api.as_(OPS))
    assert got.json()["status"] == "answered"
    # the same status twice is refused; a follow-up step the union may not take is refused
    again = api.client.post(answers, json=note, headers=api.as_(OPS))
    assert again.status_code == 400
    assert "already answered" in again.json()["detail"]
    wrong = api.client.post(follow, json=note, headers=api.as_(UNION))
    assert wrong.status_code == 400
    assert "you may: closed, comment, reopened" in wrong.json()["detail"]
    got = api.client.post(
        follow, json={"step": "reopened", "note": "Still no air flow."}, headers=api.as_(UNION)
    )
    assert got.json()["status"] == "reopened"
    got = api.client.post(
        follow, json={"step": "comment", "note": "Measured CO2 1,400 ppm."}, headers=api.as_(UNION)
    )
    shown = got.json()
    assert shown["status"] == "reopened"  # a comment keeps the status
    assert [e["step"] for e in shown["events"]] == [
        "acknowledged",
        "answered",
        "reopened",
        "comment",
    ]
    assert [e["by"] for e in shown["events"]] == [OPS, OPS, UNION, UNION]
    listed = api.client.get(
        "/api/v1/concerns", params={"status": "reopened"}, headers=api.as_("auditor")
    ).json()
    assert key in [c["id"] for c in listed["items"]]
    assert (
        api.client.get(f"/api/v1/concerns/{key}", headers=api.as_("mode-authority")).json()[
            "events"
        ]
        == shown["events"]
    )


def test_concerns_stay_within_scope(api: Api) -> None:
    mine = _file(api, "school-union", SCHOOL, "Masks at dismissal")
    network = _file(api, "network-union", OTHER_SCHOOL, "Substitutes in network 7")
    district = _file(api, UNION, None, "District-wide testing consent")
    third = _file(api, UNION, THIRD_SCHOOL, "Bus crowding")
    # a school-scoped member: its school only, not the district's, not another school's
    outside = api.client.post(
        "/api/v1/concerns",
        json={"school_id": OTHER_SCHOOL, "subject": "x", "body": "y"},
        headers=api.as_("school-union"),
    )
    assert outside.status_code == 400
    assert "outside your scope" in outside.json()["detail"]
    whole = api.client.post(
        "/api/v1/concerns",
        json={"subject": "x", "body": "y"},
        headers=api.as_("school-union"),
    )
    assert whole.status_code == 400
    seen = {
        c["id"]
        for c in api.client.get("/api/v1/concerns", headers=api.as_("school-union")).json()["items"]
    }
    assert mine["id"] in seen
    assert not seen & {network["id"], district["id"], third["id"]}
    seen = {
        c["id"]
        for c in api.client.get("/api/v1/concerns", headers=api.as_("network-union")).json()[
            "items"
        ]
    }
    assert {mine["id"], network["id"]} <= seen
    assert not seen & {district["id"], third["id"]}
    # one outside the scope is unknown, never shown
    got = api.client.get(f"/api/v1/concerns/{third['id']}", headers=api.as_("school-union"))
    assert got.status_code == 404
    got = api.client.post(
        f"/api/v1/concerns/{third['id']}/follow-ups",
        json={"step": "comment", "note": "x"},
        headers=api.as_("school-union"),
    )
    assert got.status_code == 404
    # an unknown school is named; the public and HR see nothing
    unknown = api.client.post(
        "/api/v1/concerns",
        json={"school_id": "999999", "subject": "x", "body": "y"},
        headers=api.as_(UNION),
    )
    assert unknown.status_code == 400
    assert "no school '999999'" in unknown.json()["detail"]
    assert api.client.get("/api/v1/concerns").status_code == 401
    assert api.client.get("/api/v1/concerns", headers=api.as_("hr")).status_code == 403


@pytest.mark.parametrize(
    "statement", ["UPDATE concern SET subject = 'x'", "DELETE FROM concern_event"]
)
def test_concerns_and_their_history_are_append_only(api: Api, statement: str) -> None:
    key = _file(api, UNION, SCHOOL, "Append-only check")["id"]
    api.client.post(
        f"/api/v1/concerns/{key}/answers",
        json={"step": "acknowledged", "note": "seen"},
        headers=api.as_(OPS),
    )
    with pytest.raises(DBAPIError, match="append-only"), api.engine.begin() as conn:
        conn.execute(text(statement))

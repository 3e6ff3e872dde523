"""POST /api/v1/evaluations on SQLite and PostgreSQL: a policy's worked cases give the modes
`policy test` checks; a whole policy document is evaluated as its id is; too large is 413;
an unknown metric, a bad document, a unit never given are 422 naming the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from schoolmode.api.app import create_app
from schoolmode.api.routes.evaluate import MAX_BODY_BYTES
from schoolmode.app.context import open_context
from schoolmode.app.evaluate import MAX_UNITS
from schoolmode.app.policies import RunCasesRequest, run_cases
from schoolmode.cases.runner import load_case_file
from schoolmode.policy.cases import EngineCase
from schoolmode.settings import AppSettings
from schoolmode.store.migrate import upgrade
from tests.conftest import POLICIES

AGREEMENT = "cps-ctu-2022-01-10"
CASES = POLICIES / AGREEMENT / "cases" / "teacher-absences.yaml"


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with open_context(db_url=db_url) as ctx:
        upgrade(ctx.engine)
    with TestClient(create_app(AppSettings.load(db_url=db_url))) as c:
        yield c


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _request(case: EngineCase) -> dict[str, Any]:
    return {
        "policy_id": AGREEMENT,
        "settings": {k: _plain(v) for k, v in case.settings.items()},
        "frames": {
            scope.value: [{k: _plain(v) for k, v in row.items()} for row in rows]
            for scope, rows in case.frames.items()
        },
    }


def test_worked_cases_give_the_modes_policy_test_checks(client: TestClient) -> None:
    with open_context() as ctx:
        report = run_cases(ctx, RunCasesRequest(policy_ids=[AGREEMENT]))
    assert report.failed == 0  # `policy test` passes them
    cases = [c for c in load_case_file(CASES).cases if isinstance(c, EngineCase)]
    checked = 0
    for case in cases:
        answer = client.post("/api/v1/evaluations", json=_request(case))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["policy_hash"].startswith("sha256:")
        modes = {(r["scope"], r["unit"], r["date"]): r for r in body["modes"]}
        for exp in case.expect:
            assert exp.date is not None
            row = modes[(exp.scope.value, exp.unit, exp.date.isoformat())]
            if exp.mode is not None:
                assert row["mode"] == exp.mode, case.id
                checked += 1
            if exp.status is not None:
                assert row["status"] == exp.status, case.id
                checked += 1
    assert checked >= 5


def test_a_document_is_evaluated_as_its_id_and_traced(client: TestClient) -> None:
    case = next(c for c in load_case_file(CASES).cases if isinstance(c, EngineCase))
    by_id = _request(case)
    day = case.expect[0].date
    assert day is not None
    trace = [{"scope": "school", "unit": "X", "date": day.isoformat()}]
    document = yaml.safe_load((POLICIES / AGREEMENT / "policy.yaml").read_text())
    by_document = {**by_id, "policy_id": None, "policy": _plain_tree(document), "trace": trace}
    one = client.post("/api/v1/evaluations", json={**by_id, "trace": trace}).json()
    two = client.post("/api/v1/evaluations", json=by_document).json()
    assert one["modes"] == two["modes"]
    assert one["policy_hash"] == two["policy_hash"]
    assert two["traces"][0]["unit"] == "X"
    assert two["traces"][0]["rules"]
    on = client.post("/api/v1/evaluations", json={**by_id, "on": day.isoformat()}).json()
    assert {r["date"] for r in on["modes"]} == {day.isoformat()}


def _plain_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_tree(v) for v in value]
    return _plain(value)


def _names(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [p["name"] for p in response.json()["invalid_params"]]


def test_bad_input_names_the_field(client: TestClient) -> None:
    case = next(c for c in load_case_file(CASES).cases if isinstance(c, EngineCase))
    body = _request(case)
    body["frames"]["school"][1]["covid_absent_nurses"] = 3
    post = client.post
    assert _names(post("/api/v1/evaluations", json=body)) == [
        "body.frames.school.1.covid_absent_nurses"
    ]
    assert _names(post("/api/v1/evaluations", json={**body, "policy_id": "nope"})) == [
        "body.policy_id"
    ]
    document = yaml.safe_load((POLICIES / AGREEMENT / "policy.yaml").read_text())
    document["modes"] = "every day"
    names = _names(
        post("/api/v1/evaluations", json={"policy": _plain_tree(document), "frames": {}})
    )
    assert names[0].startswith("body.policy.modes")
    good = _request(case)
    wrong_day = {**good, "frames": {"school": [{"unit": "X", "date": "18 January"}]}}
    assert _names(post("/api/v1/evaluations", json=wrong_day)) == ["body.frames.school.0.date"]
    trace = [{"scope": "school", "unit": "Y", "date": "2022-01-18"}]
    assert _names(post("/api/v1/evaluations", json={**good, "trace": trace})) == [
        "body.trace.0.unit"
    ]
    assert _names(post("/api/v1/evaluations", json={"frames": {}})) == ["body"]


def test_too_large_is_413(client: TestClient) -> None:
    units = [{"unit": f"S{i}", "date": "2022-01-18"} for i in range(MAX_UNITS + 1)]
    body = {"policy_id": AGREEMENT, "frames": {"school": units}}
    answer = client.post("/api/v1/evaluations", json=body)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert str(MAX_UNITS) in answer.json()["detail"]
    padding = "x" * (MAX_BODY_BYTES + 1)
    answer = client.post(
        "/api/v1/evaluations",
        content=b'{"policy_id": "' + padding.encode() + b'"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413

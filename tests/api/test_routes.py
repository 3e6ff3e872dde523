"""Every route declares its permission, and the role x scope x route matrix, generated from
the table of access/roles.py: each cell allowed or refused, 401 (anonymous) vs 403."""

from __future__ import annotations

from typing import Any

import pytest

from schoolmode.access.roles import Principal, Role, Scope, ScopeKind
from schoolmode.api.docs import api_routes, route_requirement, route_requirements
from tests.api.conftest import DAY, NETWORK, NETWORKS, PASSWORD, SCHOOL, Api

# how to call each route: (concrete path, query or form, JSON body)
CALLS: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any] | None]] = {
    ("GET", "/api/v1"): ("/api/v1", {}, None),
    ("POST", "/api/v1/auth/token"): (
        "/api/v1/auth/token",
        {"username": "auditor", "password": PASSWORD},
        None,
    ),
    ("GET", "/api/v1/auth/me"): ("/api/v1/auth/me", {}, None),
    ("POST", "/api/v1/auth/session"): (
        "/api/v1/auth/session",
        {"username": "auditor", "password": PASSWORD},
        None,
    ),
    ("DELETE", "/api/v1/auth/session"): ("/api/v1/auth/session", {}, None),
    ("GET", "/api/v1/auth/oidc/login"): ("/api/v1/auth/oidc/login", {}, None),
    ("GET", "/api/v1/auth/oidc/callback"): (
        "/api/v1/auth/oidc/callback",
        {"code": "c", "state": "s"},
        None,
    ),
    ("GET", "/api/v1/policies"): ("/api/v1/policies", {}, None),
    ("GET", "/api/v1/policies/{policy_id}"): ("/api/v1/policies/cps-ctu-2022-01-10", {}, None),
    ("GET", "/api/v1/policies/{policy_id}/cases"): (
        "/api/v1/policies/cambridge-2020-11-12/cases",
        {},
        None,
    ),
    ("GET", "/api/v1/policies/{policy_a}/diff/{policy_b}"): (
        "/api/v1/policies/ctu-proposal-2022-01-08/diff/cps-ctu-2022-01-10",
        {},
        None,
    ),
    ("GET", "/api/v1/decisions"): ("/api/v1/decisions", {"date": DAY.isoformat()}, None),
    ("GET", "/api/v1/decisions/{scope}/{unit}/explanation"): (
        f"/api/v1/decisions/school/{SCHOOL}/explanation",
        {"date": DAY.isoformat()},
        None,
    ),
    ("GET", "/api/v1/decisions/{scope}/{unit}/public-explanation"): (
        f"/api/v1/decisions/school/{SCHOOL}/public-explanation",
        {"date": DAY.isoformat()},
        None,
    ),
    ("POST", "/api/v1/decisions"): ("/api/v1/decisions", {}, {"first": DAY.isoformat()}),
    ("POST", "/api/v1/authorisations"): (
        "/api/v1/authorisations",
        {},
        {
            "policy_id": "cps-ctu-2022-01-10",
            "rule": "teacher-absences",
            "unit": SCHOOL,
            "day": DAY.isoformat(),
            "by": "CPS Tactical Team",
            "reason": "matrix test",
        },
    ),
    ("POST", "/api/v1/refusals"): (
        "/api/v1/refusals",
        {},
        {
            "policy_id": "cps-ctu-2022-01-10",
            "rule": "teacher-absences",
            "unit": SCHOOL,
            "day": DAY.isoformat(),
            "by": "CPS Tactical Team",
            "reason": "matrix test",
        },
    ),
    ("GET", "/api/v1/concerns"): ("/api/v1/concerns", {}, None),
    ("GET", "/api/v1/concerns/{concern_id}"): ("/api/v1/concerns/1", {}, None),
    ("POST", "/api/v1/concerns"): (
        "/api/v1/concerns",
        {},
        {"school_id": SCHOOL, "subject": "matrix test", "body": "matrix test"},
    ),
    ("POST", "/api/v1/concerns/{concern_id}/answers"): (
        "/api/v1/concerns/1/answers",
        {},
        {"step": "comment", "note": "matrix test"},
    ),
    ("POST", "/api/v1/concerns/{concern_id}/follow-ups"): (
        "/api/v1/concerns/1/follow-ups",
        {},
        {"step": "comment", "note": "matrix test"},
    ),
    ("GET", "/api/v1/tracing/indicators"): (
        "/api/v1/tracing/indicators",
        {"from": "2022-01-31", "to": DAY.isoformat()},
        None,
    ),
    ("POST", "/api/v1/alerts/subscriptions"): (
        "/api/v1/alerts/subscriptions",
        {},
        {"email": "matrix@example.org"},
    ),
    ("POST", "/api/v1/alerts/confirmations"): (
        "/api/v1/alerts/confirmations",
        {},
        {"token": "matrix-test-token-000000"},
    ),
    ("POST", "/api/v1/alerts/stops"): (
        "/api/v1/alerts/stops",
        {},
        {"token": "matrix-test-token-000000"},
    ),
    ("GET", "/api/v1/evidence"): ("/api/v1/evidence", {}, None),
    ("GET", "/api/v1/evidence/{evidence_id}"): ("/api/v1/evidence/1", {}, None),
    ("GET", "/api/v1/evidence/{evidence_id}/files/{name}"): (
        "/api/v1/evidence/1/files/report.md",
        {},
        None,
    ),
    ("POST", "/api/v1/evidence"): (
        "/api/v1/evidence",
        {},
        {"job_id": 999999, "title": "matrix test"},
    ),
    ("GET", "/api/v1/runs"): ("/api/v1/runs", {}, None),
    ("GET", "/api/v1/runs/{run_id}/reproduction"): ("/api/v1/runs/1/reproduction", {}, None),
    ("GET", "/api/v1/accommodations"): ("/api/v1/accommodations", {}, None),
    ("GET", "/api/v1/imports"): ("/api/v1/imports", {}, None),
    ("GET", "/api/v1/access-log"): ("/api/v1/access-log", {}, None),
    ("GET", "/api/v1/audit/head"): ("/api/v1/audit/head", {}, None),
    # operations (tracing, screening, staff, accommodations, imports)
    ("POST", "/api/v1/tracing/cases/{case_id}"): (
        "/api/v1/tracing/cases/no-such-case",
        {},
        {"store": False},
    ),
    ("GET", "/api/v1/quarantine"): (
        "/api/v1/quarantine",
        {"school": SCHOOL, "date": DAY.isoformat()},
        None,
    ),
    ("GET", "/api/v1/outbreaks"): ("/api/v1/outbreaks", {"from": "2022-01-01"}, None),
    ("POST", "/api/v1/outbreaks/confirmations"): (
        "/api/v1/outbreaks/confirmations",
        {},
        {
            "classroom_id": "no-such-room",
            "detected_on": DAY.isoformat(),
            "confirmed": True,
            "decided_by": "CDPH",
            "note": "matrix test",
        },
    ),
    ("POST", "/api/v1/screening/plans"): (
        "/api/v1/screening/plans",
        {},
        {"week": "2021-01-04", "policy_id": "no-such-policy"},
    ),
    ("POST", "/api/v1/screening/results"): (
        "/api/v1/screening/results",
        {"today": DAY.isoformat(), "plan_id": "999"},
        None,
    ),
    ("GET", "/api/v1/screening/exceptions"): ("/api/v1/screening/exceptions", {"all": "1"}, None),
    ("POST", "/api/v1/screening/exceptions/{exception_id}/resolution"): (
        "/api/v1/screening/exceptions/999/resolution",
        {},
        {"note": "matrix test"},
    ),
    ("GET", "/api/v1/screening/positivity"): (
        "/api/v1/screening/positivity",
        {"week": DAY.isoformat()},
        None,
    ),
    ("POST", "/api/v1/vaccination/schedules"): (
        "/api/v1/vaccination/schedules",
        {},
        {"start": "2021-02-11", "weeks": 1, "policy_id": "no-such-policy"},
    ),
    ("POST", "/api/v1/accommodations/requests"): ("/api/v1/accommodations/requests", {}, None),
    ("GET", "/api/v1/accommodations/pool"): (
        "/api/v1/accommodations/pool",
        {"date": "2021-02-05", "policy_id": "cps-lbfo-2021-02-04"},
        None,
    ),
    ("POST", "/api/v1/accommodations/commitments"): (
        "/api/v1/accommodations/commitments",
        {},
        {"date": "2021-02-05", "policy_id": "no-such-policy"},
    ),
    ("POST", "/api/v1/accommodations/reviews"): (
        "/api/v1/accommodations/reviews",
        {},
        {"date": "1999-01-01", "seed": 1, "nonce": "0" * 32},
    ),
    ("GET", "/api/v1/accommodations/lotteries"): ("/api/v1/accommodations/lotteries", {}, None),
    ("POST", "/api/v1/accommodations/decisions/{decision_id}/appeals"): (
        "/api/v1/accommodations/decisions/999999/appeals",
        {},
        {"grounds": "matrix test", "filed_on": DAY.isoformat()},
    ),
    ("POST", "/api/v1/accommodations/appeals/{appeal_id}/outcome"): (
        "/api/v1/accommodations/appeals/999999/outcome",
        {},
        {"outcome": "granted", "reason": "matrix test", "on": DAY.isoformat()},
    ),
    ("GET", "/api/v1/accommodations/requests/{request_id}/history"): (
        "/api/v1/accommodations/requests/no-such-request/history",
        {},
        None,
    ),
    ("POST", "/api/v1/imports/{source}"): ("/api/v1/imports/accommodation-requests", {}, None),
    ("GET", "/api/v1/imports/log"): ("/api/v1/imports/log", {"from": "2020-01-01"}, None),
    ("POST", "/api/v1/fetch/{source}"): ("/api/v1/fetch/chicago", {}, {}),
    ("GET", "/api/v1/fetches/{job_id}"): ("/api/v1/fetches/999999", {}, None),
    ("GET", "/api/v1/audit/verification"): ("/api/v1/audit/verification", {}, None),
    # jobs: a request refused as invalid (422) once the permission holds, so nothing runs
    ("POST", "/api/v1/backtests"): ("/api/v1/backtests", {}, {"policy_ids": []}),
    ("POST", "/api/v1/sweeps"): ("/api/v1/sweeps", {}, {"policy_ids": []}),
    ("POST", "/api/v1/simulations"): ("/api/v1/simulations", {}, {"policy_ids": []}),
    ("GET", "/api/v1/jobs"): ("/api/v1/jobs", {}, None),
    ("GET", "/api/v1/jobs/{job_id}"): ("/api/v1/jobs/1", {}, None),
    ("GET", "/api/v1/jobs/{job_id}/files/{name}"): ("/api/v1/jobs/1/files/report.md", {}, None),
    ("POST", "/api/v1/evaluations"): (
        "/api/v1/evaluations",
        {},
        {"policy_id": "cps-ctu-2022-01-10", "frames": {"school": []}},
    ),
    ("GET", "/api/v1/metrics/{level}"): (
        "/api/v1/metrics/school",
        {"from": DAY.isoformat(), "to": DAY.isoformat()},
        None,
    ),
    ("GET", "/api/v1/metrics/{level}/download"): (
        "/api/v1/metrics/school/download",
        {"from": DAY.isoformat(), "to": DAY.isoformat(), "format": "csv"},
        None,
    ),
    ("GET", "/api/v1/releases"): ("/api/v1/releases", {"kind": "week"}, None),
    ("POST", "/api/v1/releases"): (
        "/api/v1/releases",
        {},
        {"first": DAY.isoformat(), "last": DAY.isoformat()},
    ),
}

# routes that take a file (multipart): the file each is sent (an empty file, refused with 422
# by those allowed: the matrix checks who may, tests/api/test_operations.py what they do)
UPLOADS: dict[tuple[str, str], tuple[str, bytes]] = {
    ("POST", "/api/v1/screening/results"): ("results.csv", b""),
    ("POST", "/api/v1/accommodations/requests"): ("requests.csv", b""),
    ("POST", "/api/v1/imports/{source}"): ("requests.csv", b""),
}

PRINCIPALS: dict[str, Principal] = {
    "public": Principal(None, Role.public),
    **{r.value: Principal(r.value, r) for r in Role if r is not Role.public},
    "school-union": Principal(
        "school-union", Role.union_safety_committee, Scope.parse(f"school:{SCHOOL}")
    ),
    "network-union": Principal(
        "network-union",
        Role.union_safety_committee,
        Scope(
            ScopeKind.network, NETWORK, frozenset(s for s, n in NETWORKS.items() if n == NETWORK)
        ),
    ),
}


def _call(api: Api, who: str, method: str, path: str) -> int:
    url, params, body = CALLS[(method, path)]
    headers = api.as_(who)
    if method == "GET":
        return api.client.get(url, params=params, headers=headers).status_code
    if method == "DELETE":
        return api.client.delete(url, params=params, headers=headers).status_code
    if (method, path) in UPLOADS:
        files = {"file": UPLOADS[(method, path)]}
        return api.client.post(url, data=params, files=files, headers=headers).status_code
    if body is None:
        return api.client.post(url, data=params, headers=headers).status_code
    return api.client.post(url, json=body, headers=headers).status_code


def test_every_route_declares_exactly_one_permission(api: Api) -> None:
    routes = api_routes()
    assert routes, "no route found"
    for path, route in routes:
        found = route_requirements(route)
        assert len(found) == 1, f"{sorted(route.methods)} {path} declares {found}"
    documented = api.client.get("/openapi.json").json()["paths"]
    operations = {(m.upper(), p) for p, ops in documented.items() for m in ops}
    declared = {(m, p) for p, r in routes for m in r.methods}
    assert operations == declared, "a route outside the routers escapes the permission check"


def test_the_matrix_has_a_call_for_every_route() -> None:
    declared = {(m, p) for p, r in api_routes() for m in r.methods}
    assert declared == set(CALLS)


@pytest.mark.parametrize("who", list(PRINCIPALS))
def test_role_scope_route_matrix(api: Api, who: str) -> None:
    principal = PRINCIPALS[who]
    wrong = []
    for path, route in api_routes():
        needs = route_requirement(route)
        assert needs is not None
        allowed = needs.permission is None or principal.may(needs.permission)
        for method in route.methods:
            status = _call(api, who, method, path)
            if allowed:
                ok = status not in (401, 403)
            else:
                ok = status == (401 if principal.anonymous else 403)
            if not ok:
                wrong.append(f"{method} {path}: {status} ({'allowed' if allowed else 'refused'})")
    assert not wrong, f"{who}: " + "; ".join(wrong)

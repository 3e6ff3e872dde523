"""Every route declares its permission, and the role x scope x route matrix, generated from
the table of access/roles.py: each cell allowed or refused, 401 (anonymous) vs 403."""

from __future__ import annotations

from typing import Any

import pytest

from schoolmode.access.roles import Principal, Role, Scope
from schoolmode.api.docs import api_routes, route_requirement, route_requirements
from tests.api.conftest import DAY, PASSWORD, SCHOOL, Api

# how to call each route: (concrete path, query or form, JSON body)
CALLS: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any] | None]] = {
    ("GET", "/api/v1"): ("/api/v1", {}, None),
    ("POST", "/api/v1/auth/token"): (
        "/api/v1/auth/token",
        {"username": "auditor", "password": PASSWORD},
        None,
    ),
    ("GET", "/api/v1/auth/me"): ("/api/v1/auth/me", {}, None),
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
    ("GET", "/api/v1/runs"): ("/api/v1/runs", {}, None),
    ("GET", "/api/v1/runs/{run_id}/reproduction"): ("/api/v1/runs/1/reproduction", {}, None),
    ("GET", "/api/v1/accommodations"): ("/api/v1/accommodations", {}, None),
    ("GET", "/api/v1/imports"): ("/api/v1/imports", {}, None),
    ("GET", "/api/v1/access-log"): ("/api/v1/access-log", {}, None),
    ("GET", "/api/v1/audit/head"): ("/api/v1/audit/head", {}, None),
    ("GET", "/api/v1/audit/verification"): ("/api/v1/audit/verification", {}, None),
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
}

PRINCIPALS: dict[str, Principal] = {
    "public": Principal(None, Role.public),
    **{r.value: Principal(r.value, r) for r in Role if r is not Role.public},
    "school-union": Principal(
        "school-union", Role.union_safety_committee, Scope.parse(f"school:{SCHOOL}")
    ),
}


def _call(api: Api, who: str, method: str, path: str) -> int:
    url, params, body = CALLS[(method, path)]
    headers = api.as_(who)
    if method == "GET":
        return api.client.get(url, params=params, headers=headers).status_code
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

"""The public-route scanner: every route the anonymous role may use (walked from ROUTERS, so a
future public route is covered without a change here), with every value of its enumerated
parameters (formats, levels, scopes), on the synthetic district; it fails on any person-level
id and on any count of people from 1 to 10 in a body (JSON, CSV, Parquet, GeoJSON) or in a
public text. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import typing
from typing import Any

import polars as pl
from fastapi.routing import APIRoute

from schoolmode.access.roles import ANONYMOUS
from schoolmode.api.docs import api_routes, route_requirement
from tests.api.conftest import DAY, OTHER_SCHOOL, SCHOOL, Api

PERSON_IDS = re.compile(
    r"(^|_)(person|staff|student|case|request|contact|employee|account|user)_id$|^email$"
)
"""Keys and columns that carry person-level ids."""

COUNT_WORDS = re.compile(
    r"enrolled|students|teachers|staff|cases|absent|absences|substitutes|people|persons|"
    r"positive|quarantine|isolation|granted|denied|decided|requests|members|contacts"
)
NOT_COUNTS = re.compile(r"_pct$|per_100k|positivity|_share$|_band$|^in_outbreak$")
"""A key naming a count of people: one of the words, unless it is a rate, share or flag."""
NOT_PEOPLE = frozenset({"cases"})
"""Keys with a count word that count no people: ``cases`` of a policy are its worked cases."""

COUNT_IN_TEXT = re.compile(
    r"\b([1-9]|10)\s+(of\s+\d+\s+)?(teachers?|students?|staff|cases?|people|persons?|"
    r"employees?|children|absent|decided|granted|denied|requests?)\b",
    re.IGNORECASE,
)

PATH_VALUES: dict[str, list[str]] = {
    "policy_id": ["cps-ctu-2022-01-10"],
    "policy_a": ["ctu-proposal-2022-01-08"],
    "policy_b": ["cps-ctu-2022-01-10"],
    "scope": [],  # its values come from the route's enumeration
    "level": [],
    "unit": [SCHOOL, OTHER_SCHOOL, "chicago"],
    "run_id": ["1"],
    # nothing is published in this store (tests/web/test_evidence.py reads a publication; the
    # publish step refuses a small count of people, app/evidence.py)
    "evidence_id": ["1"],
    "name": ["report.md"],
}
"""Values of each path parameter; a route with a parameter missing here fails the scan."""

QUERY_VALUES: dict[str, str] = {
    "date": DAY.isoformat(),
    "from": (DAY - dt.timedelta(days=30)).isoformat(),
    "to": DAY.isoformat(),
    "limit": "1000",
}


def _choices(route: APIRoute, name: str) -> list[str]:
    """The values of an enumerated parameter (a Literal), else []."""
    for param in route.dependant.path_params + route.dependant.query_params:
        if name in (param.name, param.alias):
            return _literals(param.field_info.annotation)
    return []


def _literals(annotation: Any) -> list[str]:
    """The strings of a Literal, also inside ``X | None``."""
    if typing.get_origin(annotation) is typing.Literal:
        return [a for a in typing.get_args(annotation) if isinstance(a, str)]
    return [v for arg in typing.get_args(annotation) for v in _literals(arg)]


def _calls(route: APIRoute, path: str) -> list[tuple[str, dict[str, str]]]:
    urls = [path]
    for param in route.dependant.path_params:
        values = _choices(route, param.name) or PATH_VALUES.get(param.name)
        assert values, (
            f"{path}: no value for the path parameter {param.name}: add it to PATH_VALUES"
        )
        urls = [u.replace("{" + param.name + "}", v) for u in urls for v in values]
    queries: list[dict[str, str]] = [{}]
    for param in route.dependant.query_params:
        key = param.alias or param.name
        if key in QUERY_VALUES:
            queries = [{**q, key: QUERY_VALUES[key]} for q in queries]
        elif choices := _choices(route, key):
            queries = [{**q, key: c} for q in queries for c in choices]
    return [(u, q) for u in urls for q in queries]


def _leaks(where: str, value: Any, key: str = "") -> list[str]:
    """Person ids and small counts of people anywhere in a parsed body."""
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if PERSON_IDS.search(str(k)) and v is not None:
                found.append(f"{where}: person-level key {k}")
            found += _leaks(where, v, str(k))
    elif isinstance(value, list):
        for v in value:
            found += _leaks(where, v, key)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        is_count = COUNT_WORDS.search(key) and not NOT_COUNTS.search(key) and key not in NOT_PEOPLE
        if is_count and 1 <= value <= 10 and float(value).is_integer():
            found.append(f"{where}: {key} = {value}")
    elif isinstance(value, str):
        found += [f"{where}: text {m.group(0)!r}" for m in COUNT_IN_TEXT.finditer(value)]
    return found


def _parsed(content_type: str, body: bytes) -> Any:
    kind = content_type.split(";")[0].strip()
    if kind.endswith("json"):
        return json.loads(body)
    if kind == "text/csv":
        return pl.read_csv(io.BytesIO(body), infer_schema_length=None).to_dicts()
    if kind == "application/vnd.apache.parquet":
        return pl.read_parquet(io.BytesIO(body)).to_dicts()
    return body.decode()


def test_no_public_route_leaks_a_person_or_a_small_count(api: Api) -> None:
    leaks: list[str] = []
    called = 0
    for path, route in api_routes():
        needs = route_requirement(route)
        assert needs is not None
        if "GET" not in route.methods:
            continue
        if needs.permission is not None and not ANONYMOUS.may(needs.permission):
            continue
        for url, query in _calls(route, path):
            response = api.client.get(url, params=query)
            called += 1
            assert response.status_code < 500, f"{url} {query}: {response.status_code}"
            if response.status_code != 200:
                continue
            body = _parsed(response.headers.get("content-type", ""), response.content)
            leaks += _leaks(f"{url} {query}", body)
            leaks += [
                f"{url}: person-level column {c}" for c in _columns(body) if PERSON_IDS.search(c)
            ]
    assert called >= 20, f"only {called} public calls: the walk found too few routes"
    assert not leaks, "\n".join(leaks[:40])


def _columns(body: Any) -> set[str]:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return set(body[0])
    return set()


def test_the_scanner_sees_what_it_looks_for() -> None:
    """The scanner is not blind: an exact school row and a leaky explanation are caught."""
    row = {"unit": SCHOOL, "covid_absent_teachers": 2, "classroom_teachers": 16, "person_id": "p1"}
    assert len(_leaks("x", {"items": [row]})) == 2
    assert _leaks("x", "2 of 16 teachers absent for documented COVID-19")
    assert not _leaks("x", {"covid_absent_teachers_pct": 5.0, "total": 3, "enrolled": 66})

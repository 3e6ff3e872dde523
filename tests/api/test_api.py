"""The API end to end: public and protected reads, login and tokens, a day's decisions with
their policy hash, scopes, problem details, versions and ETags, the access log, generated docs."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import polars as pl
import pytest
from sqlalchemy import Engine, insert, select

from schoolmode import __version__
from schoolmode.access.accounts import AccountError
from schoolmode.access.docs import render as render_roles
from schoolmode.access.networks import network_schools
from schoolmode.access.roles import Role
from schoolmode.api.cache import ResponseCache
from schoolmode.api.docs import render as render_api
from schoolmode.app import decisions as uc
from schoolmode.app.access import (
    AddAccountRequest,
    TokenRequest,
    add_account,
    create_token,
    disable_account,
    revoke_token,
)
from schoolmode.decisions import record
from schoolmode.engine.evaluate import Evaluation
from schoolmode.i18n import language
from schoolmode.policy.loader import Registry
from schoolmode.store.frames import record_frame
from schoolmode.store.tables import RECORD_TABLES
from tests.api.conftest import (
    ADMIN,
    DAY,
    NETWORK,
    NETWORKS,
    OTHER_SCHOOL,
    PASSWORD,
    SCHOOL,
    THIRD_SCHOOL,
    Api,
)
from tests.i18n.test_explanations import assert_same_figures

ROOT = Path(__file__).resolve().parents[2]


def test_anonymous_reads_policies_but_not_accommodations(api: Api) -> None:
    assert api.client.get("/api/v1/policies").status_code == 200
    refused = api.client.get("/api/v1/accommodations")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["detail"] == "this needs the permission accommodations:read"


def test_openapi_lists_every_resource(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for path in (
        "/api/v1/policies",
        "/api/v1/policies/{policy_id}",
        "/api/v1/policies/{policy_a}/diff/{policy_b}",
        "/api/v1/policies/{policy_id}/cases",
        "/api/v1/decisions",
        "/api/v1/decisions/{scope}/{unit}/explanation",
        "/api/v1/authorisations",
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/reproduction",
        "/api/v1/accommodations",
        "/api/v1/imports",
        "/api/v1/access-log",
    ):
        assert path in doc["paths"], path
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_login_with_a_password_and_who_am_i(api: Api) -> None:
    token = api.client.post(
        "/api/v1/auth/token", data={"username": "auditor", "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    me = api.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert me["name"] == "auditor"
    assert me["role"] == "auditor"
    assert me["via"] == "token"
    assert me["csrf_token"] is None
    assert "access-log:read" in me["permissions"]
    assert "decisions:run" not in me["permissions"]
    anonymous = api.client.get("/api/v1/auth/me").json()
    assert anonymous == {
        "name": None,
        "role": "public",
        "scope": "district",
        "permissions": ["decisions:read", "policies:read"],
        "via": None,
        "csrf_token": None,
        "schools": None,
    }


def test_wrong_password_unknown_name_and_bad_token_are_401(api: Api) -> None:
    for name, password in (("auditor", "wrong password!!"), ("nobody", PASSWORD)):
        r = api.client.post("/api/v1/auth/token", data={"username": name, "password": password})
        assert r.status_code == 401
        assert r.json()["detail"] == "wrong name or password"
    r = api.client.get("/api/v1/policies", headers={"Authorization": "Bearer smt_not-a-token"})
    assert r.status_code == 401
    assert r.json()["title"] == "Invalid token"


def test_revoked_token_and_disabled_account_stop_working(api: Api) -> None:
    add_account(api.ctx, AddAccountRequest(name="leaver", role=Role.auditor), ADMIN)
    first = create_token(api.ctx, TokenRequest(name="leaver", label="a"), ADMIN).token
    second = create_token(api.ctx, TokenRequest(name="leaver", label="b"), ADMIN).token
    for token in (first, second):
        ok = api.client.get("/api/v1/runs", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    revoke_token(api.ctx, first, ADMIN)
    gone = api.client.get("/api/v1/runs", headers={"Authorization": f"Bearer {first}"})
    assert gone.status_code == 401
    disable_account(api.ctx, "leaver", ADMIN)
    gone = api.client.get("/api/v1/runs", headers={"Authorization": f"Bearer {second}"})
    assert gone.status_code == 401


def test_a_days_decisions_with_the_policy_and_its_hash(api: Api) -> None:
    r = api.client.get("/api/v1/decisions", params={"date": DAY.isoformat(), "limit": 1000})
    assert r.status_code == 200
    body = r.json()
    policy = Registry().get("cps-ctu-2022-01-10")
    assert body["policy_id"] == policy.id
    assert body["policy_hash"] == policy.content_hash
    assert body["day"] == DAY.isoformat()
    scopes = {row["scope"] for row in body["items"]}
    assert scopes == {"district", "school", "classroom"}
    assert body["total"] == len(body["items"])
    page = api.client.get(
        "/api/v1/decisions",
        params={"date": DAY.isoformat(), "scope": "school", "limit": 1, "offset": 1},
    ).json()
    schools = sorted(row["unit"] for row in body["items"] if row["scope"] == "school")
    assert page["total"] == len(schools)
    assert [row["unit"] for row in page["items"]] == schools[1:2]
    for row in body["items"]:
        assert set(row) == {"scope", "unit", "mode", "status", "rule", "action", "decided_by"}


def test_no_decision_and_bad_parameters_are_problem_details(api: Api) -> None:
    none = api.client.get("/api/v1/decisions", params={"date": "2019-01-01"})
    assert none.status_code == 404
    assert none.json()["detail"] == "no stored run decided 2019-01-01"
    bad = api.client.get("/api/v1/decisions", params={"date": "2022-02-30", "limit": 0})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    names = {p["name"] for p in bad.json()["invalid_params"]}
    assert names == {"query.date", "query.limit"}
    unknown = api.client.get("/api/v1/policies/cps-ctu-2022-01-11")
    assert unknown.status_code == 404
    assert "Did you mean 'cps-ctu-2022-01-10'?" in unknown.json()["detail"]


def test_a_school_scope_explains_its_school_only(api: Api) -> None:
    own = api.client.get(
        f"/api/v1/decisions/school/{SCHOOL}/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_("school-union"),
    )
    assert own.status_code == 200, own.text
    assert own.json()["run_id"] == api.run_id
    assert own.json()["text"]
    assert own.json()["policy_id"] == "cps-ctu-2022-01-10"
    assert own.json()["policy_hash"] == Registry().get("cps-ctu-2022-01-10").content_hash
    other = api.client.get(
        f"/api/v1/decisions/school/{OTHER_SCHOOL}/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_("school-union"),
    )
    assert other.status_code == 403
    assert other.json()["detail"] == f"your scope is school:{SCHOOL}"
    district = api.client.get(
        "/api/v1/decisions/district/district/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_("school-union"),
    )
    assert district.status_code == 403


def _explain(api: Api, who: str, scope: str, unit: str) -> int:
    return api.client.get(
        f"/api/v1/decisions/{scope}/{unit}/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_(who),
    ).status_code


def test_a_network_scope_covers_its_networks_schools_only(api: Api) -> None:
    who = "network-union"
    assert (_explain(api, who, "school", SCHOOL), _explain(api, who, "school", OTHER_SCHOOL)) == (
        200,
        200,
    )
    other = api.client.get(
        f"/api/v1/decisions/school/{THIRD_SCHOOL}/explanation",
        params={"date": DAY.isoformat()},
        headers=api.as_(who),
    )
    assert other.status_code == 403
    assert other.json()["detail"] == f"your scope is network:{NETWORK}"
    me = api.client.get("/api/v1/auth/me", headers=api.as_(who)).json()
    assert me["schools"] == sorted(s for s, n in NETWORKS.items() if n == NETWORK)
    assert THIRD_SCHOOL not in me["schools"]
    assert api.client.get("/api/v1/auth/me", headers=api.as_("school-union")).json()["schools"] == [
        SCHOOL
    ]
    assert _explain(api, who, "district", "district") == 403
    rooms = record_frame(api.engine, "classroom").select("classroom_id", "school_id")
    room_of = {s: str(rooms.filter(pl.col("school_id") == s)["classroom_id"][0]) for s in NETWORKS}
    assert _explain(api, who, "classroom", room_of[OTHER_SCHOOL]) == 200
    assert _explain(api, who, "classroom", room_of[THIRD_SCHOOL]) == 403
    # the outbreak list: exactly the district's, less the classrooms of other networks' schools
    school_of = dict(rooms.iter_rows())
    every = api.client.get(
        "/api/v1/outbreaks", params={"limit": 1000}, headers=api.as_("auditor")
    ).json()["items"]
    mine = api.client.get("/api/v1/outbreaks", params={"limit": 1000}, headers=api.as_(who)).json()[
        "items"
    ]
    assert mine == [o for o in every if NETWORKS[school_of[o["classroom_id"]]] == NETWORK]
    assert mine != every, "the district's outbreaks should reach beyond the network"
    # person-level reads: a health department scoped to the network
    add_account(
        api.ctx,
        AddAccountRequest(
            name="network-health", role=Role.health_department, scope=f"network:{NETWORK}"
        ),
        ADMIN,
    )
    token = create_token(api.ctx, TokenRequest(name="network-health", label="t"), ADMIN).token
    health = {"Authorization": f"Bearer {token}"}
    for school, status in ((OTHER_SCHOOL, 200), (THIRD_SCHOOL, 403)):
        params = {"school": school, "date": DAY.isoformat()}
        got = api.client.get("/api/v1/quarantine", params=params, headers=health)
        assert got.status_code == status, got.text


def test_a_network_scope_follows_each_schools_latest_year(api: Api) -> None:
    school = RECORD_TABLES["school"]
    with api.engine.connect() as conn:
        assert network_schools(conn, NETWORK) == {SCHOOL, OTHER_SCHOOL}
        row = conn.execute(select(school).where(school.c.school_id == THIRD_SCHOOL)).one()
        moved = {**row._asdict(), "school_year": "2099-2100", "network": NETWORK}
        conn.execute(insert(school).values(**moved))  # rolled back: the store stays as it was
        assert network_schools(conn, NETWORK) == {SCHOOL, THIRD_SCHOOL, OTHER_SCHOOL}
        assert network_schools(conn, "network-9") == frozenset()
        conn.rollback()


def test_an_account_of_an_unknown_network_is_refused(api: Api) -> None:
    request = AddAccountRequest(name="nowhere", role=Role.auditor, scope="network:network-0")
    with pytest.raises(AccountError) as refused:
        add_account(api.ctx, request, ADMIN)
    assert str(refused.value) == (
        "scope network:network-0: no stored school record names network 'network-0' "
        "(known networks: network-7, network-9)"
    )


def test_every_response_carries_the_version_and_reads_an_etag(api: Api) -> None:
    first = api.client.get("/api/v1/policies")
    assert first.headers["x-schoolmode-version"] == __version__
    again = api.client.get("/api/v1/policies", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    refused = api.client.get("/api/v1/access-log")
    assert refused.headers["x-schoolmode-version"] == __version__
    assert "etag" not in refused.headers


def test_personal_reads_and_writes_are_in_the_access_log(api: Api) -> None:
    api.client.get("/api/v1/accommodations")  # refused: still logged
    read = api.client.get("/api/v1/accommodations", headers=api.as_("hr"), params={"limit": 5})
    assert read.status_code == 200
    decided = api.client.post(
        "/api/v1/decisions", json={"first": DAY.isoformat()}, headers=api.as_("district-operations")
    )
    assert decided.status_code == 201, decided.text
    log = api.client.get("/api/v1/access-log", headers=api.as_("auditor")).json()
    events = log["items"]
    write = events[0]
    assert (write["principal"], write["action"], write["route"], write["status"]) == (
        "district-operations",
        "write",
        "/api/v1/decisions",
        201,
    )
    reads = [e for e in events if e["route"] == "/api/v1/accommodations"]
    assert (reads[0]["principal"], reads[0]["role"], reads[0]["action"], reads[0]["status"]) == (
        "hr",
        "hr",
        "read",
        200,
    )
    assert reads[0]["params"] == {"limit": "5"}
    assert reads[0]["rows"] == 0
    assert (reads[1]["principal"], reads[1]["status"]) == (None, 401)
    runs = api.client.get("/api/v1/runs", headers=api.as_("auditor")).json()
    assert runs["items"][-1]["created_by"] == "district-operations"


def test_generated_docs_are_current() -> None:
    assert (ROOT / "docs" / "roles.md").read_text(encoding="utf-8") == render_roles()
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == render_api()


def test_a_new_run_is_served_at_once_not_a_kept_page(api: Api) -> None:
    params = {"date": DAY.isoformat(), "scope": "district"}
    first = api.client.get("/api/v1/decisions", params=params).json()
    again = api.client.get("/api/v1/decisions", params=params).json()
    assert again == first
    decided = api.client.post(
        "/api/v1/decisions", json={"first": DAY.isoformat()}, headers=api.as_("district-operations")
    )
    assert decided.status_code == 201
    after = api.client.get("/api/v1/decisions", params=params).json()
    assert after["run_id"] == decided.json()["run_id"] > first["run_id"]


def test_units_without_a_kept_trace_are_explained_from_one_recomputation(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run keeps traces only for units out of their default mode: the others are explained
    # from the run's record, evaluated again once for all of them (and each text kept)
    recomputed: list[int] = []
    original = record._recompute

    def counted(engine: Engine, run_id: int) -> Evaluation:
        recomputed.append(run_id)
        return original(engine, run_id)

    monkeypatch.setattr(record, "_recompute", counted)
    monkeypatch.setattr(api.client.app.state.ctx, "_evaluations", None)  # type: ignore[attr-defined]
    api.client.app.state.responses = ResponseCache()  # type: ignore[attr-defined]
    page = api.client.get(
        "/api/v1/decisions", params={"date": DAY.isoformat(), "scope": "classroom"}
    ).json()
    quiet = [d["unit"] for d in page["items"] if d["mode"] == "in_person"][:4]
    assert len(quiet) == 4
    for unit in quiet * 2:
        got = api.client.get(
            f"/api/v1/decisions/classroom/{unit}/explanation",
            params={"date": DAY.isoformat()},
            headers=api.as_("district-operations"),
        )
        assert got.status_code == 200, got.text
        assert got.json()["text"]
    assert recomputed == [got.json()["run_id"]]  # the day's latest run, once


def _explanation(
    api: Api, lang: str | None = None, accept_language: str | None = None
) -> httpx.Response:
    params = {"date": DAY.isoformat()} | ({} if lang is None else {"lang": lang})
    headers = api.as_("school-union") | (
        {} if accept_language is None else {"Accept-Language": accept_language}
    )
    return api.client.get(
        f"/api/v1/decisions/school/{SCHOOL}/explanation", params=params, headers=headers
    )


def test_an_explanation_in_spanish_says_its_language(api: Api) -> None:
    english = _explanation(api)
    assert english.status_code == 200, english.text
    assert english.json()["lang"] == "en"
    assert english.headers["content-language"] == "en"
    assert english.headers["vary"] == "Accept-Language"
    spanish = _explanation(api, lang="es")
    assert spanish.status_code == 200, spanish.text
    assert spanish.json()["lang"] == "es"
    assert spanish.headers["content-language"] == "es"
    assert spanish.json()["text"].startswith("El ")
    assert f"la escuela {SCHOOL} tiene la modalidad " in spanish.json()["text"]
    assert spanish.json()["run_id"] == english.json()["run_id"]
    assert spanish.json()["policy_hash"] == english.json()["policy_hash"]
    # kept per language: English again is the English text, not the Spanish one just kept
    again = _explanation(api, lang="en")
    assert again.json()["text"] == english.json()["text"]
    assert again.headers["etag"] != spanish.headers["etag"]


def test_the_language_comes_from_accept_language_when_lang_is_absent(api: Api) -> None:
    browser = "es-MX,es;q=0.9,en;q=0.8"
    chosen = _explanation(api, accept_language=browser)
    assert chosen.headers["content-language"] == "es"
    assert chosen.json()["lang"] == "es"
    assert _explanation(api, lang="en", accept_language=browser).json()["lang"] == "en"
    assert _explanation(api, accept_language="fr-FR, de;q=0.5").json()["lang"] == "en"


def test_an_unsupported_language_is_a_problem_naming_the_field(api: Api) -> None:
    refused = _explanation(api, lang="fr")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    (invalid,) = refused.json()["invalid_params"]
    assert invalid["name"] == "query.lang"
    assert "'en'" in invalid["reason"]
    assert "'es'" in invalid["reason"]


def test_every_unit_of_the_day_is_explained_alike_in_both_languages(api: Api) -> None:
    """Every unit decided on DAY (the district, its schools and classrooms): the Spanish
    explanation states the same mode, the same rules and the same figures as the English one."""
    found = uc.day_decisions(api.ctx, uc.DayDecisionsRequest(day=DAY, limit=1000))
    assert found is not None
    assert 0 < found.total <= 1000
    assert {item.scope for item in found.items} == {"district", "school", "classroom"}
    modes = {m.id: m.label for m in Registry().get(found.policy_id).policy.modes}
    es = language("es")

    def words(status: str, lang: str) -> str:
        """How the first sentence of a plain explanation names the status."""
        mode = status.removeprefix("eligible_for_")
        label = modes[mode] if lang == "en" else es.translations.pgettext("policy", modes[mode])
        if mode == status:
            return f'is "{label}"' if lang == "en" else f'tiene la modalidad "{label}"'
        return ("is eligible for " if lang == "en" else "es elegible para ") + f'"{label}"'

    statuses = set()
    for item in found.items:
        req = uc.ExplainRequest(scope=item.scope, unit=item.unit, day=DAY)
        english = uc.explain(api.ctx, req)
        spanish = uc.explain(api.ctx, req.model_copy(update={"lang": "es"}))
        assert (spanish.run_id, spanish.lang) == (english.run_id, "es")
        assert f" {words(item.status, 'en')} " in english.text.splitlines()[0]
        assert f" {words(item.status, 'es')} " in spanish.text.splitlines()[0]
        rules = re.compile(r'^(?:Rule|La regla|Regla) "(.+?)"', flags=re.M)
        titles = [es.translations.pgettext("policy", t) for t in rules.findall(english.text)]
        assert titles == rules.findall(spanish.text)
        assert_same_figures(english.text, spanish.text)
        statuses.add(item.status)
    assert len(statuses) > 1  # more than the default mode is explained

"""Browser sessions: login and logout, the cookie's flags, CSRF on unsafe requests (refused
without or with a wrong token, from another origin; accepted with the token), bearer tokens
exempt and winning over a cookie, idle and absolute expiry, a new session id at each login,
failed logins limited and logged without the password; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from schoolmode.access.accounts import token_digest
from schoolmode.api.app import create_app
from schoolmode.api.security import LOOPBACK_SESSION_COOKIE, SESSION_COOKIE
from schoolmode.settings import AppSettings
from schoolmode.store.tables import access_log, web_session
from tests.api.conftest import DAY, PASSWORD, Api

SITE = "https://testserver"


@pytest.fixture
def browser(api: Api) -> TestClient:
    """A browser on https (so the ``Secure`` cookie comes back), its own cookie jar, on the
    running app of ``api`` (no second start-up)."""
    return TestClient(api.client.app, base_url=SITE)


def _login(client: TestClient, name: str = "district-operations") -> dict[str, object]:
    r = client.post("/api/v1/auth/session", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _holding(client: TestClient, cookie: str) -> TestClient:
    """Another browser on the same app, holding ``cookie`` as its session cookie."""
    return TestClient(client.app, base_url=SITE, cookies={SESSION_COOKIE: cookie})


def _cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value is not None
    return value


def test_login_sets_a_secure_http_only_lax_cookie(browser: TestClient) -> None:
    r = browser.post("/api/v1/auth/session", data={"username": "auditor", "password": PASSWORD})
    assert r.status_code == 200, r.text
    header = r.headers["set-cookie"]
    morsel = SimpleCookie(header)[SESSION_COOKIE]
    assert morsel["secure"] is True
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert 12 * 3600 - 60 <= int(morsel["max-age"]) <= 12 * 3600
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["account"] == "auditor"
    assert body["via"] == "password"
    assert body["idle_timeout_s"] == 30 * 60
    assert "csrf_token" in body
    assert body["csrf_token"] not in header  # the token is not the cookie
    me = browser.get("/api/v1/auth/me").json()
    assert me["name"] == "auditor"
    assert me["via"] == "session"
    assert me["csrf_token"] == body["csrf_token"]
    # the session gives the role's permissions: the auditor reads the access log
    assert browser.get("/api/v1/access-log").status_code == 200


def test_csrf_refused_without_or_with_a_wrong_token_accepted_with_it(
    api: Api, browser: TestClient
) -> None:
    csrf = str(_login(browser)["csrf_token"])
    decide = {"first": DAY.isoformat()}
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf[:-1]}):
        r = browser.post("/api/v1/decisions", json=decide, headers=headers)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "CSRF token missing or wrong"
    # another site's page, even holding the token, is refused by its Origin or Referer
    for other in ({"Origin": "https://evil.example"}, {"Referer": "http://testserver/x"}):
        r = browser.post("/api/v1/decisions", json=decide, headers={"X-CSRF-Token": csrf, **other})
        assert r.status_code == 403, r.text
        assert r.json()["title"] == "Cross-site request refused"
    ok = browser.post(
        "/api/v1/decisions", json=decide, headers={"X-CSRF-Token": csrf, "Origin": SITE}
    )
    assert ok.status_code == 201, ok.text
    # the write is in the access log under the session's account
    with api.engine.connect() as conn:
        last = conn.execute(
            select(access_log)
            .where(access_log.c.route == "/api/v1/decisions")
            .order_by(access_log.c.id.desc())
        ).first()
    assert last is not None
    assert (last.principal, last.status) == ("district-operations", 201)


def test_csrf_token_as_a_form_field_and_logout(api: Api, browser: TestClient) -> None:
    csrf = str(_login(browser, "auditor")["csrf_token"])
    cookie = _cookie(browser)
    assert browser.delete("/api/v1/auth/session").status_code == 403  # no token: still in
    assert browser.get("/api/v1/auth/me").json()["name"] == "auditor"
    r = browser.request("DELETE", "/api/v1/auth/session", data={"csrf_token": csrf})
    assert r.status_code == 204, r.text
    assert SESSION_COOKIE in r.headers["set-cookie"]  # cleared in the browser
    assert browser.get("/api/v1/auth/me").json()["name"] is None
    # the old cookie, sent again, is anonymous: the session is revoked in the store
    replay = _holding(browser, cookie)
    assert replay.get("/api/v1/auth/me").json()["name"] is None
    assert replay.get("/api/v1/access-log").status_code == 401
    with api.engine.connect() as conn:
        row = conn.execute(
            select(web_session).where(web_session.c.session_sha256 == token_digest(cookie))
        ).one()
        routes = [r.route for r in conn.execute(select(access_log.c.route))]
    assert row.revoked_at is not None
    assert row.revoked_by == "auditor"
    assert "session open" in routes
    assert "session close" in routes


def test_bearer_tokens_need_no_csrf_and_win_over_a_cookie(api: Api, browser: TestClient) -> None:
    _login(browser, "auditor")
    ops = {"Authorization": f"Bearer {api.tokens['district-operations']}"}
    me = browser.get("/api/v1/auth/me", headers=ops).json()
    assert (me["name"], me["via"], me["csrf_token"]) == ("district-operations", "token", None)
    r = browser.post("/api/v1/decisions", json={"first": DAY.isoformat()}, headers=ops)
    assert r.status_code == 201, r.text
    # a bad token is 401 even with a live cookie beside it: the token decides
    bad = browser.get("/api/v1/auth/me", headers={"Authorization": "Bearer smt_nope"})
    assert bad.status_code == 401


def test_a_login_always_gets_a_new_session_id(api: Api, browser: TestClient) -> None:
    _login(browser, "auditor")
    first = _cookie(browser)
    _login(browser, "auditor")
    second = _cookie(browser)
    assert first != second
    with api.engine.connect() as conn:
        old = conn.execute(
            select(web_session).where(web_session.c.session_sha256 == token_digest(first))
        ).one()
    assert old.revoked_at is not None
    assert _holding(browser, first).get("/api/v1/auth/me").json()["name"] is None
    # a cookie value the server never issued is nobody (no session fixation)
    planted = _holding(browser, "chosen-by-attacker").get("/api/v1/auth/me")
    assert planted.json()["name"] is None


@pytest.mark.parametrize("column", ["last_seen_at", "expires_at"], ids=["idle", "absolute"])
def test_idle_and_absolute_timeouts_end_a_session(
    api: Api, browser: TestClient, column: str
) -> None:
    _login(browser, "auditor")
    cookie = _cookie(browser)
    assert browser.get("/api/v1/auth/me").json()["name"] == "auditor"
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)  # past the 30 minutes idle
    with api.engine.begin() as conn:  # the clock moved on: the stored times moved back
        conn.execute(
            update(web_session)
            .where(web_session.c.session_sha256 == token_digest(cookie))
            .values({column: past})
        )
    assert browser.get("/api/v1/auth/me").json()["name"] is None
    assert browser.get("/api/v1/access-log").status_code == 401


def test_failed_logins_are_limited_and_logged_without_the_password(api: Api) -> None:
    settings = AppSettings.load(db_url=api.ctx.settings.db_url, login_failures=3)
    wrong = "not the password at all"
    with TestClient(create_app(settings), base_url=SITE) as client:
        for _ in range(3):
            r = client.post("/api/v1/auth/session", data={"username": "hr", "password": wrong})
            assert r.status_code == 401
            assert r.json()["detail"] == "wrong name or password"
        r = client.post("/api/v1/auth/session", data={"username": "hr", "password": PASSWORD})
        assert r.status_code == 429  # even the right password waits now
        assert int(r.headers["retry-after"]) > 0
        token = client.post("/api/v1/auth/token", data={"username": "hr", "password": PASSWORD})
        assert token.status_code == 429  # the same count for bearer-token logins
    with api.engine.connect() as conn:
        failed = [
            json.loads(r.params_json)
            for r in conn.execute(select(access_log).where(access_log.c.route == "login failed"))
        ]
        logged = " ".join(r.params_json for r in conn.execute(select(access_log)))
    assert {"name": "hr", "via": "password"} in failed
    assert wrong not in logged
    assert PASSWORD not in logged


def test_a_login_from_another_site_is_refused(browser: TestClient) -> None:
    r = browser.post(
        "/api/v1/auth/session",
        data={"username": "auditor", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_secure_is_dropped_only_on_plain_http_to_a_loopback_host(api: Api) -> None:
    def flags(base: str, secure: str = "auto") -> tuple[str, bool]:
        settings = AppSettings.load(db_url=api.ctx.settings.db_url, session_cookie_secure=secure)
        with TestClient(create_app(settings), base_url=base) as client:
            r = client.post(
                "/api/v1/auth/session", data={"username": "auditor", "password": PASSWORD}
            )
        assert r.status_code == 200, r.text
        ((name, morsel),) = SimpleCookie(r.headers["set-cookie"]).items()
        return name, bool(morsel["secure"])

    assert flags("http://127.0.0.1:8000") == (LOOPBACK_SESSION_COOKIE, False)
    assert flags("http://localhost:8000") == (LOOPBACK_SESSION_COOKIE, False)
    assert flags("http://schools.example.org") == (SESSION_COOKIE, True)
    assert flags("https://127.0.0.1") == (SESSION_COOKIE, True)
    assert flags("http://127.0.0.1:8000", secure="always") == (SESSION_COOKIE, True)

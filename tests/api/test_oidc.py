"""OpenID Connect login against a real provider on 127.0.0.1 (Authlib's authorization server,
``tests/api/oidc_provider.py``): a full login; a bad state; a replayed state and a replayed
code; an ID token for another audience, from another issuer, already expired; a subject no
account is mapped to (403); the routes when no provider is configured (404); on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import select
from typer.testing import CliRunner

from schoolmode.access.accounts import account_by_subject
from schoolmode.access.roles import Role
from schoolmode.api.app import create_app
from schoolmode.api.security import OIDC_STATE_COOKIE, SESSION_COOKIE
from schoolmode.app.access import AddAccountRequest, add_account
from schoolmode.cli.app import app
from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from schoolmode.store.tables import access_log
from tests.api.conftest import ADMIN, Api
from tests.api.oidc_provider import CLIENT_ID, CLIENT_SECRET, KID, Provider

SITE = "https://testserver"
CALLBACK = SITE + "/api/v1/auth/oidc/callback"
SUBJECT = "person-1"


@pytest.fixture(scope="module")
def oidc_account(api: Api) -> str:
    """A district operations account mapped to the provider's ``SUBJECT``."""
    add_account(
        api.ctx,
        AddAccountRequest(name="oidc-ops", role=Role.district_operations, oidc_subject=SUBJECT),
        ADMIN,
    )
    return "oidc-ops"


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider(CALLBACK)
    yield running
    running.close()


@pytest.fixture
def browser(
    api: Api, provider: Provider, oidc_account: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """A browser of the API configured with the provider (the secret from the environment)."""
    monkeypatch.setenv("SCHOOLMODE_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    settings = AppSettings.load(
        db_url=api.ctx.settings.db_url, oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID
    )
    with TestClient(create_app(settings), base_url=SITE) as client:
        yield client


def _at_provider(browser: TestClient) -> str:
    """Start a login and let the provider answer: the callback address it sends back."""
    r = browser.get("/api/v1/auth/oidc/login", follow_redirects=False)
    assert r.status_code == 302, r.text
    assert browser.cookies.get(OIDC_STATE_COOKIE) is not None
    asked = parse_qs(urlsplit(r.headers["location"]).query)
    assert asked["response_type"] == ["code"]
    assert asked["client_id"] == [CLIENT_ID]
    assert asked["redirect_uri"] == [CALLBACK]
    assert asked["scope"] == ["openid"]
    assert asked["code_challenge_method"] == ["S256"]
    assert len(asked["code_challenge"][0]) == 43
    assert asked["nonce"][0]
    assert asked["state"] == [browser.cookies.get(OIDC_STATE_COOKIE)]
    back = httpx.get(r.headers["location"], follow_redirects=False)  # the real provider
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(CALLBACK + "?")
    return str(back.headers["location"])


def _problem(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return str(r.json()["detail"])


def test_a_full_login_gives_a_session_of_the_mapped_account(api: Api, browser: TestClient) -> None:
    r = browser.get(_at_provider(browser), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    assert browser.cookies.get(SESSION_COOKIE) is not None
    assert browser.cookies.get(OIDC_STATE_COOKIE) is None  # used up
    me = browser.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["via"]) == ("oidc-ops", "district-operations", "session")
    assert "decisions:run" in me["permissions"]
    with api.engine.connect() as conn:
        opened = [
            json.loads(row.params_json)
            for row in conn.execute(select(access_log).where(access_log.c.route == "session open"))
        ]
    assert any(p["name"] == "oidc-ops" and p["via"] == "oidc" for p in opened)


def test_a_bad_state_is_refused(browser: TestClient, provider: Provider) -> None:
    back = _at_provider(browser)
    code = parse_qs(urlsplit(back).query)["code"][0]
    wrong = browser.get(
        "/api/v1/auth/oidc/callback", params={"code": code, "state": "not-the-state"}
    )
    assert "not this browser's" in _problem(wrong, 400)
    # the right state from a browser that did not start this login (no state cookie)
    other = TestClient(browser.app, base_url=SITE)  # the running app: no second start-up
    assert "not this browser's" in _problem(other.get(back, follow_redirects=False), 400)
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_a_replayed_callback_and_a_replayed_code_are_refused(
    browser: TestClient, provider: Provider
) -> None:
    back = _at_provider(browser)
    state = browser.cookies.get(OIDC_STATE_COOKIE)
    assert browser.get(back, follow_redirects=False).status_code == 303
    # the same callback again, its state cookie put back: the state serves once
    browser.cookies.set(OIDC_STATE_COOKIE, str(state), domain="testserver.local", path="/")
    assert "already used" in _problem(browser.get(back, follow_redirects=False), 400)
    # a new login in this browser, answered with the old code: the provider refuses it
    new = _at_provider(browser)
    new_state = parse_qs(urlsplit(new).query)["state"][0]
    old_code = parse_qs(urlsplit(back).query)["code"][0]
    replay = browser.get(
        "/api/v1/auth/oidc/callback", params={"code": old_code, "state": new_state}
    )
    assert "refused the code: invalid_grant" in _problem(replay, 400)


@pytest.mark.parametrize(
    ("knob", "value", "why"),
    [
        ("audience", "another-client", "aud"),
        ("id_token_life", -600, "expired"),
        ("issuer_claim", "https://impostor.example", "iss"),
    ],
    ids=["wrong-audience", "expired", "wrong-issuer"],
)
def test_an_id_token_that_does_not_validate_is_refused(
    browser: TestClient, provider: Provider, knob: str, value: object, why: str
) -> None:
    setattr(provider, knob, value)
    r = browser.get(_at_provider(browser), follow_redirects=False)
    detail = _problem(r, 400)
    assert detail.startswith("the ID token is not valid"), detail
    assert why in detail
    assert browser.cookies.get(SESSION_COOKIE) is None
    assert browser.get("/api/v1/auth/me").json()["name"] is None


def _new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": KID, "use": "sig"}, private=True)


def test_a_key_replaced_under_the_same_key_id_is_read_again(
    browser: TestClient, provider: Provider
) -> None:
    """A provider that replaces its signing key and keeps the key id: the next login is
    verified against its keys read again, not the ones the first login left in the cache."""
    assert browser.get(_at_provider(browser), follow_redirects=False).status_code == 303
    provider.key = _new_key()
    browser.cookies.clear()
    r = browser.get(_at_provider(browser), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert browser.cookies.get(SESSION_COOKIE) is not None


def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    browser: TestClient, provider: Provider
) -> None:
    provider.published = _new_key()
    detail = _problem(browser.get(_at_provider(browser), follow_redirects=False), 400)
    assert detail.startswith("the ID token is not valid: bad_signature"), detail
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_unknown_subject_is_403_and_logged(
    api: Api, browser: TestClient, provider: Provider
) -> None:
    provider.subject = "someone-with-no-account"
    r = browser.get(_at_provider(browser), follow_redirects=False)
    assert "someone-with-no-account" in _problem(r, 403)
    assert browser.cookies.get(SESSION_COOKIE) is None
    with api.engine.connect() as conn:
        failed = [
            json.loads(row.params_json)["reason"]
            for row in conn.execute(select(access_log).where(access_log.c.route == "login failed"))
            if json.loads(row.params_json).get("via") == "oidc"
        ]
    assert any("someone-with-no-account" in reason for reason in failed)


def test_without_an_issuer_the_routes_are_404(api: Api) -> None:
    for path in ("/api/v1/auth/oidc/login", "/api/v1/auth/oidc/callback"):
        r = api.client.get(path, params={"code": "c", "state": "s"}, follow_redirects=False)
        assert r.status_code == 404
        assert r.json()["title"] == "OpenID Connect not configured"


def test_the_client_secret_comes_from_the_environment_only() -> None:
    with pytest.raises(ValueError, match="environment only"):
        AppSettings.load(oidc_client_secret="on-a-command-line")


def test_accounts_map_a_subject_from_the_command_line_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--db", url]).exit_code == 0
    add = ["users", "add", "--role", "hr", "--no-password", "--oidc-subject", "sub-7", "--db", url]
    first = runner.invoke(app, [*add[:2], "hr-lead", *add[2:]])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*add[:2], "hr-other", *add[2:]])
    assert again.exit_code != 0
    assert "OpenID subject 'sub-7' belongs to another account" in again.output
    engine = make_engine(url)
    try:
        found = account_by_subject(engine, "sub-7")
        assert found is not None
        assert (found.name, found.role) == ("hr-lead", Role.hr)
        assert account_by_subject(engine, "sub-8") is None
    finally:
        engine.dispose()

"""Rate limits per anonymous client, per token and per account of browser sessions: 429 with
Retry-After, then allowed again."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from schoolmode.access.roles import Principal, Role
from schoolmode.api.app import create_app
from schoolmode.api.limits import SlidingWindow, client_key
from schoolmode.api.security import SESSION_COOKIE
from schoolmode.app.access import AddAccountRequest, TokenRequest, add_account, create_token
from schoolmode.app.context import Context
from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import upgrade
from tests.api.conftest import PASSWORD

SITE = "https://testserver"
"""On https, so that the ``Secure`` session cookie comes back."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_sliding_window_allows_limit_events_per_window() -> None:
    clock = Clock()
    window = SlidingWindow(60.0, clock)
    assert [window.take("a", 3) for _ in range(3)] == [None, None, None]
    assert window.take("a", 3) == 60.0
    assert window.take("b", 3) is None  # another key has its own window
    clock.now += 20
    assert window.take("a", 3) == 40.0
    clock.now += 40
    assert window.take("a", 3) is None


def test_a_token_is_counted_by_its_digest_never_itself() -> None:
    key, token = client_key("Bearer smt_secret", "10.0.0.1")
    assert token
    assert "smt_secret" not in key
    assert client_key(None, "10.0.0.1") == ("client:10.0.0.1", False)


def test_the_api_answers_429_past_the_limit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(make_engine(url))
    settings = AppSettings.load(db_url=url, api_rate_anonymous=3, api_rate_token=5)
    ctx = Context(settings)
    admin = Principal("admin", Role.administrator)
    add_account(ctx, AddAccountRequest(name="bot", role=Role.auditor), admin)
    token = create_token(ctx, TokenRequest(name="bot", label="t"), admin).token
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/api/v1/policies").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = client.get("/api/v1/policies")
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["detail"].startswith("at most 3 requests a minute; try again in")
        bearer = {"Authorization": f"Bearer {token}"}
        assert [client.get("/api/v1/runs", headers=bearer).status_code for _ in range(6)] == [
            *[200] * 5,
            429,
        ]
    ctx.close()


def test_a_browser_session_is_limited_per_account_not_per_address(store: Engine) -> None:
    settings = AppSettings.load(
        db_url=store.url.render_as_string(hide_password=False),
        api_rate_anonymous=3,
        api_rate_token=100,
        api_rate_session=4,
    )
    ctx = Context(settings)
    admin = Principal("admin", Role.administrator)
    add_account(ctx, AddAccountRequest(name="ward", role=Role.auditor, password=PASSWORD), admin)
    login = {"username": "ward", "password": PASSWORD}
    with TestClient(create_app(settings), base_url=SITE) as browser:
        # the login itself is an anonymous request (1 of the address's 3)
        assert browser.post("/api/v1/auth/session", data=login).status_code == 200
        # the session's requests count for its account: 4 a minute, not the address's 3
        statuses = [browser.get("/api/v1/runs").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]
        refused = browser.get("/api/v1/policies")
        assert refused.json()["detail"].startswith("at most 4 requests a minute")
        # a second browser of the same account: its login is anonymous (2 of 3), then it shares
        # the account's count
        other = TestClient(browser.app, base_url=SITE)
        assert other.post("/api/v1/auth/session", data=login).status_code == 200
        assert other.get("/api/v1/runs").status_code == 429
        # the address still has its own anonymous count (3 of 3), then 429; a made-up cookie
        # is anonymous, not a count of its own
        anonymous = TestClient(browser.app, base_url=SITE)
        assert anonymous.get("/api/v1/policies").status_code == 200
        forged = TestClient(browser.app, base_url=SITE, cookies={SESSION_COOKIE: "made-up"})
        assert forged.get("/api/v1/policies").status_code == 429
        assert anonymous.get("/api/v1/policies").status_code == 429
    ctx.close()

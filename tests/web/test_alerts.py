"""Alerts by webhook and e-mail on the store of the web tests (a school's status changes in the
second run's days): each change told once to each subscription, signed, recorded; a failed
delivery tried again; a revoked subscription told nothing; bad targets refused."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from typer.testing import CliRunner

from schoolmode.access.roles import Principal, Role
from schoolmode.app import alerts
from schoolmode.app.context import Context
from schoolmode.cli.app import app
from schoolmode.settings import AppSettings
from schoolmode.store.tables import alert_delivery
from tests.web.conftest import PLACES, Site

OPS = Principal("ops", Role.district_operations)
CHANGED = "400001"
"""The school whose status changes on 2022-02-09 in the store (tests/web/test_pages.py)."""


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1: records each POST; ``/fail`` answers 500."""

    url: str
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, dict(self.headers), body))
            self.send_response(500 if self.path == "/fail" else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}", got)
    finally:
        server.shutdown()
        server.server_close()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its server by connecting to its port
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _ctx(site: Site, port: int = 9) -> Context:
    return Context(
        AppSettings.load(
            db_url=site.url,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            site_url="https://schools.example.org",
            alert_timeout_s=5,
        )
    )


def _deliveries(ctx: Context) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alert_delivery)).scalar_one())


def test_each_change_is_told_once_signed_and_recorded(
    site: Site, receiver: Receiver, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    ctx = _ctx(site, port)
    try:
        hook = alerts.subscribe(ctx, "webhook", receiver.url + "/hook", CHANGED, OPS)
        mail = alerts.subscribe(ctx, "email", "parents@example.org", None, OPS)
        assert hook.secret is not None
        assert mail.secret is None
        first = alerts.deliver(ctx)
        assert first.failed == 0
        mine = [d for d in first.deliveries if d.subscription_id == hook.subscription.id]
        assert [(d.unit, d.date.isoformat()) for d in mine] == [(CHANGED, "2022-02-09")]
        (path, headers, body) = receiver.posts[-1]
        assert path == "/hook"
        expected = hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers[alerts.SIGNATURE_HEADER] == f"sha256={expected}"
        payload = json.loads(body)
        assert payload["unit"] == CHANGED
        assert payload["name"] == PLACES[CHANGED][0]
        assert payload["url"] == f"https://schools.example.org/schools/{CHANGED}?date=2022-02-09"
        assert set(payload) >= {"mode", "status", "previous_mode", "previous_status", "run_id"}
        # the district-wide address gets every change, the school's among them
        told = [message_from_bytes(m) for m in box.messages]
        assert any(PLACES[CHANGED][0] in str(m["Subject"]) for m in told)
        assert all(m["To"] == "parents@example.org" for m in told)
        # again: nothing new to tell
        recorded = _deliveries(ctx)
        again = alerts.deliver(ctx)
        assert again.deliveries == []
        assert _deliveries(ctx) == recorded
        # revoked: told nothing, kept
        alerts.revoke(ctx, hook.subscription.id, OPS)
        listed = {s.id: s for s in alerts.subscriptions(ctx)}
        assert listed[hook.subscription.id].revoked_at is not None
        with pytest.raises(alerts.AlertError, match="no active subscription"):
            alerts.revoke(ctx, hook.subscription.id, OPS)
        alerts.revoke(ctx, mail.subscription.id, OPS)
    finally:
        ctx.close()


def test_a_failed_delivery_is_recorded_and_tried_again(site: Site, receiver: Receiver) -> None:
    ctx = _ctx(site)
    try:
        sub = alerts.subscribe(ctx, "webhook", receiver.url + "/fail", CHANGED, OPS)
        failed = alerts.deliver(ctx)
        assert [d.status for d in failed.deliveries] == ["failed"]
        assert "500" in failed.deliveries[0].detail
        again = alerts.deliver(ctx)
        assert [d.status for d in again.deliveries] == ["failed"]  # tried again, still failing
        assert len([p for p in receiver.posts if p[0] == "/fail"]) == 2
        alerts.revoke(ctx, sub.subscription.id, OPS)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("kind", "target", "why"),
    [
        ("webhook", "http://example.org/hook", "https"),
        ("webhook", "ftp://127.0.0.1/x", "https"),
        ("email", "not-an-address", "not an e-mail address"),
        ("sms", "+13125550100", "webhook or an email"),
    ],
)
def test_bad_targets_are_refused(site: Site, kind: str, target: str, why: str) -> None:
    ctx = _ctx(site)
    try:
        with pytest.raises(alerts.AlertError, match=why):
            alerts.subscribe(ctx, kind, target, None, OPS)
        with pytest.raises(alerts.AlertError, match="no school"):
            alerts.subscribe(ctx, "email", "a@example.org", "999999", OPS)
    finally:
        ctx.close()


def test_the_cli_subscribes_lists_sends_and_revokes(site: Site, receiver: Receiver) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app, ["alerts", "subscribe", "--webhook", receiver.url + "/cli", "--db", site.url]
    )
    assert made.exit_code == 0, made.output
    assert "signing key (shown once" in made.output
    number = made.output.split("subscription ")[1].split(":")[0]
    listed = runner.invoke(app, ["alerts", "list", "--db", site.url])
    assert re.search(rf"{number}\s+webhook\s+{receiver.url}/cli\s+district\s+active", listed.output)
    sent = runner.invoke(app, ["alerts", "send", "--db", site.url])
    assert sent.exit_code == 0, sent.output
    assert " sent, 0 failed" in sent.output
    assert any(p[0] == "/cli" for p in receiver.posts)
    gone = runner.invoke(app, ["alerts", "revoke", number, "--db", site.url])
    assert gone.exit_code == 0, gone.output
    both = runner.invoke(app, ["alerts", "subscribe", "--db", site.url])
    assert both.exit_code != 0
    assert "give one of --webhook URL or --email ADDRESS" in both.output

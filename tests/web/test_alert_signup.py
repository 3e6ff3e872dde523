"""E-mail alerts anyone can ask for, end to end on the web tests' store with a real SMTP server
on 127.0.0.1 (aiosmtpd): the form on a school's page, the confirmation e-mail and its link, the
alerts then sent with a link that stops them; nothing sent before the confirmation; the same
answer whatever the address; at most three unconfirmed sign-ups a day; the API's routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from schoolmode.app import alerts
from schoolmode.app.context import Context
from schoolmode.settings import AppSettings
from schoolmode.store.tables import alert_subscription
from schoolmode.web.site import create_site
from tests.web.conftest import PLACES, Site
from tests.web.test_alerts import CHANGED, Inbox, inbox  # noqa: F401 (the SMTP fixture)

SITE = "https://schools.example.org"


@pytest.fixture
def mailing(site: Site, inbox: tuple[Inbox, int]) -> Iterator[tuple[TestClient, Context, Inbox]]:  # noqa: F811
    """The site with e-mail alerts on (the inbox's SMTP server), and a context on its store."""
    box, port = inbox
    settings = AppSettings.load(
        db_url=site.url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        site_url=SITE,
        alert_timeout_s=5,
        api_rate_anonymous=10**6,
    )
    ctx = Context(settings)
    with TestClient(create_site(settings), base_url="http://127.0.0.1") as client:
        yield client, ctx, box
    ctx.close()


def _mail(box: Inbox, index: int = -1) -> Message:
    return message_from_bytes(box.messages[index])


def _link(message: Message, path: str) -> str:
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    found = re.search(rf"{re.escape(SITE)}{path}\?token=([A-Za-z0-9_-]+)", text)
    assert found is not None, text
    return found.group(1)


def _subscription(ctx: Context, address: str) -> list[tuple[object, ...]]:
    t = alert_subscription
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.id, t.c.confirmed_at, t.c.revoked_at, t.c.school_id).where(
                t.c.target == address
            )
        ).all()
    return [tuple(r) for r in rows]


def test_a_parent_signs_up_confirms_gets_alerts_and_stops_them(
    mailing: tuple[TestClient, Context, Inbox],
) -> None:
    client, ctx, box = mailing
    page = client.get(f"/schools/{CHANGED}").text
    assert 'action="/alerts"' in page
    address = "parent.one@example.org"
    asked = client.post("/alerts", data={"email": address, "school_id": CHANGED})
    assert asked.status_code == 200
    assert "a message is on its way" in asked.text
    assert address not in asked.text  # the answer never echoes the address
    confirmation = _mail(box)
    assert confirmation["To"] == address
    assert PLACES[CHANGED][0] in confirmation["Subject"]
    token = _link(confirmation, "/alerts/confirm")
    # unconfirmed: told nothing
    [(key, confirmed, revoked, school)] = _subscription(ctx, address)
    assert (confirmed, revoked, school) == (None, None, CHANGED)
    sent = alerts.deliver(ctx)
    assert key not in {d.subscription_id for d in sent.deliveries}
    # the link shows a button (a scanner opening it changes nothing); the button confirms
    shown = client.get("/alerts/confirm", params={"token": token})
    assert shown.status_code == 200
    assert _subscription(ctx, address)[0][1] is None
    done = client.post("/alerts/confirm", data={"token": token})
    assert done.status_code == 200
    assert "The alerts are on" in done.text
    assert _subscription(ctx, address)[0][1] is not None
    told = alerts.deliver(ctx)
    mine = [d for d in told.deliveries if d.subscription_id == key]
    assert [(d.unit, d.status) for d in mine] == [(CHANGED, "sent")]
    alert = _mail(box)
    assert alert["To"] == address
    stop = _link(alert, "/alerts/stop")
    assert client.post("/alerts/stop", data={"token": stop}).status_code == 200
    assert _subscription(ctx, address)[0][2] is not None
    assert not [d for d in alerts.deliver(ctx).deliveries if d.subscription_id == key]


def test_the_answer_is_the_same_and_sign_ups_are_limited(
    mailing: tuple[TestClient, Context, Inbox],
) -> None:
    client, ctx, box = mailing
    address = "curious@example.org"
    answers = set()
    before = len(box.messages)
    for _ in range(5):
        got = client.post("/api/v1/alerts/subscriptions", json={"email": address})
        assert got.status_code == 202, got.text
        answers.add(got.json()["detail"])
    assert len(answers) == 1
    assert len(box.messages) - before == 3  # at most three unconfirmed a day
    assert len(_subscription(ctx, address)) == 3
    # Spanish e-mails for a Spanish sign-up; a wrong token and a bad address are said
    got = client.post(
        "/api/v1/alerts/subscriptions", json={"email": "padre@example.org", "lang": "es"}
    )
    assert got.status_code == 202
    assert "confirme" in _mail(box)["Subject"]
    wrong = client.post("/api/v1/alerts/confirmations", json={"token": "x" * 40})
    assert wrong.status_code == 400
    bad = client.post("/alerts", data={"email": "not-an-address"})
    assert bad.status_code == 400
    assert "is not an e-mail address" in bad.text
    confirmed = client.post(
        "/api/v1/alerts/confirmations", json={"token": _link(_mail(box), "/alerts/confirm")}
    )
    assert confirmed.status_code == 200
    assert confirmed.json() == {"school_id": None}


def test_without_smtp_the_pages_offer_no_e_mail(site: Site) -> None:
    page = site.client.get(f"/schools/{CHANGED}").text
    assert 'action="/alerts"' not in page
    got = site.client.post("/api/v1/alerts/subscriptions", json={"email": "a@example.org"})
    assert got.status_code == 400
    assert "e-mail alerts are off" in got.json()["detail"]

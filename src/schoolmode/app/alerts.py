"""Alerts by webhook and e-mail: subscriptions to a school (or the whole district), and the
delivery of each change of a unit's mode or status (the changes the Atom feeds list,
``app.dashboard``) that a subscription has not been told of yet.

A webhook gets a JSON ``POST`` signed with the subscription's key (header
``X-Schoolmode-Signature: sha256=<HMAC-SHA256 of the body>``, the key shown once when the
subscription is made); an e-mail goes through the SMTP server of the settings. Every attempt
is recorded (``alert_delivery``, append-only); a failed one is tried again by the next
delivery, a sent one never again. Only public facts travel: a unit, a day, its mode and status.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select, update

from schoolmode.access.roles import Principal
from schoolmode.app.context import Context
from schoolmode.app.dashboard import (
    DISTRICT_FEED_DAYS,
    ModeChange,
    UnknownSchool,
    district_feed,
    school_feed,
)
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store.db import begin_write
from schoolmode.store.tables import alert_delivery, alert_subscription

KINDS = ("webhook", "email")
EMAIL = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
SIGNATURE_HEADER = "X-Schoolmode-Signature"
EVENT_HEADER = "X-Schoolmode-Event"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class AlertError(SchoolmodeError):
    """A subscription that cannot be made or found; the message says why."""


class Subscription(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    target: str
    school_id: str | None
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    confirmed_at: dt.datetime | None = None
    """None: an e-mail sign-up its address has not confirmed yet (told nothing)."""


class Subscribed(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: Subscription
    secret: str | None
    """A webhook's signing key: shown this once, never again."""


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: int
    scope: str
    unit: str
    date: dt.date
    status: str
    detail: str


class DeliveryReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    sent: int
    failed: int
    deliveries: list[Delivery]


def check_target(kind: str, target: str) -> None:
    if kind not in KINDS:
        raise AlertError(f"kind {kind!r}: an alert is a webhook or an email")
    if kind == "email":
        if not EMAIL.match(target) or len(target) > 254:
            raise AlertError(f"{target!r} is not an e-mail address")
        return
    parts = urlsplit(target)
    local = parts.hostname in LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise AlertError(
            f"{target!r}: a webhook is an https:// address (http only on this machine)"
        )
    if not parts.hostname or len(target) > 500:
        raise AlertError(f"{target!r} is not a webhook address")


def subscribe(
    ctx: Context, kind: str, target: str, school_id: str | None, who: Principal
) -> Subscribed:
    """A new subscription to ``school_id``'s changes (None: the district and every school)."""
    check_target(kind, target)
    if school_id is not None:
        try:
            school_feed(ctx, school_id)
        except UnknownSchool:
            raise AlertError(f"no school {school_id!r} in the store") from None
    secret = secrets.token_hex(32) if kind == "webhook" else None
    now = dt.datetime.now(dt.UTC)
    with begin_write(ctx.engine) as conn:
        key = conn.execute(
            insert(alert_subscription).values(
                kind=kind,
                target=target,
                school_id=school_id,
                secret=secret,
                created_at=now,
                created_by=who.name or "anonymous",
                confirmed_at=now,  # made by an operator: nobody else's address to confirm
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    made = Subscription(
        id=int(key),
        kind=kind,
        target=target,
        school_id=school_id,
        created_at=now,
        created_by=who.name or "anonymous",
        revoked_at=None,
        confirmed_at=now,
    )
    return Subscribed(subscription=made, secret=secret)


def subscriptions(ctx: Context, active_only: bool = False) -> list[Subscription]:
    t = alert_subscription
    shown = [c for c in t.c if c.name in Subscription.model_fields]
    query = select(*shown).order_by(t.c.id)
    if active_only:
        query = query.where(t.c.revoked_at.is_(None), t.c.confirmed_at.is_not(None))
    with ctx.engine.connect() as conn:
        return [Subscription(**row._mapping) for row in conn.execute(query)]


def revoke(ctx: Context, subscription_id: int, who: Principal) -> None:
    t = alert_subscription
    with begin_write(ctx.engine) as conn:
        done = conn.execute(
            update(t)
            .where(t.c.id == subscription_id, t.c.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC), revoked_by=who.name or "anonymous")
        ).rowcount
    if not done:
        raise AlertError(f"no active subscription {subscription_id}")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _payload(ctx: Context, change: ModeChange) -> dict[str, object]:
    base = ctx.settings.site_url
    page = f"/schools/{change.unit}" if change.scope == "school" else "/"
    return {
        "event": "mode_change",
        "scope": change.scope,
        "unit": change.unit,
        "name": change.name,
        "date": change.date.isoformat(),
        "mode": change.mode,
        "label": change.label,
        "status": change.status,
        "previous_mode": change.previous_mode,
        "previous_status": change.previous_status,
        "policy_id": change.policy_id,
        "run_id": change.run_id,
        "url": f"{base}{page}?date={change.date.isoformat()}",
    }


def _webhook(ctx: Context, url: str, secret: str, payload: dict[str, object]) -> str:
    body = json.dumps(payload, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, body),
        EVENT_HEADER: "mode_change",
    }
    answer = httpx.post(url, content=body, headers=headers, timeout=ctx.settings.alert_timeout_s)
    answer.raise_for_status()
    return f"HTTP {answer.status_code}"


def _email(ctx: Context, to: str, payload: dict[str, object], manage: str | None = None) -> str:
    what = payload["label"] if payload["mode"] != payload["previous_mode"] else payload["status"]
    stop = (
        f"To stop these e-mails: {ctx.settings.site_url}/alerts/stop?token={manage}\n"
        if manage
        else "You get this because this address follows it on schoolmode; ask the district to "
        "stop it.\n"
    )
    return send_mail(
        ctx,
        to,
        f"schoolmode: {payload['name']}: {what} on {payload['date']}",
        f"{payload['name']} on {payload['date']}: {payload['label']} (status "
        f"{payload['status']}), was {payload['previous_mode']} (status "
        f"{payload['previous_status']}).\n\nWhy, and the figures: {payload['url']}\n\n{stop}",
    )


def send_mail(ctx: Context, to: str, subject: str, text: str) -> str:
    """One plain-text e-mail through the SMTP server of the settings."""
    settings = ctx.settings
    if settings.smtp_host is None:
        raise AlertError("e-mail alerts need the smtp_host setting")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    timeout = settings.alert_timeout_s
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
    return f"sent to {settings.smtp_host}"


def _sent(ctx: Context) -> set[tuple[int, str, str, dt.date, int]]:
    t = alert_delivery
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.subscription_id, t.c.scope, t.c.unit, t.c.date, t.c.run_id).where(
                t.c.status == "sent"
            )
        ).all()
    return {(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def _secrets(ctx: Context) -> dict[int, tuple[str | None, str | None]]:
    """Per subscription: its webhook's signing key and its e-mails' unsubscribe token."""
    t = alert_subscription
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.secret, t.c.manage_token))
        return {r[0]: (r[1], r[2]) for r in rows}


def deliver(ctx: Context, since: dt.date | None = None) -> DeliveryReport:
    """Tell every active subscription of each change (from ``since``; default: the district
    feed's days) it has not been told of; record each attempt."""
    feed = district_feed(ctx)
    if feed is None:
        return DeliveryReport(sent=0, failed=0, deliveries=[])
    first = since or feed.decided.day - dt.timedelta(days=DISTRICT_FEED_DAYS)
    changes = [c for c in feed.changes if c.date >= first]
    done = _sent(ctx)
    keys = _secrets(ctx)
    out: list[Delivery] = []
    for sub in subscriptions(ctx, active_only=True):
        for change in reversed(changes):  # oldest first
            if sub.school_id is not None and (change.scope, change.unit) != (
                "school",
                sub.school_id,
            ):
                continue
            key = (sub.id, change.scope, change.unit, change.date, change.run_id)
            if key in done:
                continue
            payload = _payload(ctx, change)
            try:
                secret, manage = keys[sub.id]
                if sub.kind == "webhook":
                    detail = _webhook(ctx, sub.target, secret or "", payload)
                else:
                    detail = _email(ctx, sub.target, payload, manage)
                status = "sent"
            except (httpx.HTTPError, OSError, smtplib.SMTPException, AlertError) as exc:
                status, detail = "failed", f"{type(exc).__name__}: {exc}"[:1000]
            with begin_write(ctx.engine) as conn:
                conn.execute(
                    insert(alert_delivery).values(
                        subscription_id=sub.id,
                        scope=change.scope,
                        unit=change.unit,
                        date=change.date,
                        run_id=change.run_id,
                        status=status,
                        detail=detail,
                        at=dt.datetime.now(dt.UTC),
                    )
                )
            out.append(
                Delivery(
                    subscription_id=sub.id,
                    scope=change.scope,
                    unit=change.unit,
                    date=change.date,
                    status=status,
                    detail=detail,
                )
            )
    sent = sum(1 for d in out if d.status == "sent")
    return DeliveryReport(sent=sent, failed=len(out) - sent, deliveries=out)

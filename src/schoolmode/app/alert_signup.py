"""E-mail alerts anyone can ask for: a parent (or a journalist) gives an address and a school
(or the whole district) on the public pages or through the API; the address is told nothing
until it confirms by the link e-mailed to it (double opt-in), and every e-mail carries a link
that stops them.

The answer to a sign-up never says whether the address was already subscribed (no one learns
who follows what); the same address gets at most ``MAX_PENDING`` unconfirmed sign-ups a day
(the rest are recorded nowhere and e-mailed nothing); a confirmation link lasts
``CONFIRM_DAYS`` days and is kept only as its sha256. Addresses are personal data: no public
view shows one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, insert, select, update

from schoolmode.app.alerts import AlertError, check_target, send_mail
from schoolmode.app.context import Context
from schoolmode.app.dashboard import schools
from schoolmode.i18n import DEFAULT, LANGUAGES, language
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import alert_subscription

CONFIRM_DAYS = 7
MAX_PENDING = 3
"""Unconfirmed sign-ups of one address in 24 hours beyond which nothing more is sent."""
PUBLIC = "public sign-up"
"""``created_by`` of a sign-up (no account made it)."""


class SignUp(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    school_id: str | None
    """None: the district and every school."""
    lang: str = DEFAULT


class SignUpAnswer(BaseModel):
    """The same answer whatever the address: it says what happens next, never who follows
    what."""

    model_config = ConfigDict(frozen=True)

    detail: str


class Confirmed(BaseModel):
    model_config = ConfigDict(frozen=True)

    school_id: str | None
    """What the confirmed subscription follows (None: the district)."""


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_up(ctx: Context, req: SignUp) -> SignUpAnswer:
    """Record an unconfirmed e-mail subscription and e-mail its confirmation link."""
    if ctx.settings.smtp_host is None:
        raise AlertError("e-mail alerts are off on this site (no smtp_host setting)")
    address = req.email.strip()
    check_target("email", address)
    if req.lang not in LANGUAGES:
        raise AlertError(f"unsupported language {req.lang!r}: {', '.join(LANGUAGES)}")
    name = "the district"
    if req.school_id is not None:
        info = next((s for s in schools(ctx) if s.id == req.school_id), None)
        if info is None:
            raise AlertError(f"no school {req.school_id!r} in the store")
        name = info.name
    words = language(req.lang)
    answer = SignUpAnswer(
        detail=words.gettext(
            "If the address is right, a message is on its way to it: follow its link within "
            "{days} days to start the alerts."
        ).format(days=CONFIRM_DAYS)
    )
    t = alert_subscription
    now = dt.datetime.now(dt.UTC)
    token, manage = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with begin_write(ctx.engine) as conn:
        recent = conn.execute(
            select(func.count())
            .select_from(t)
            .where(
                t.c.target == address,
                t.c.confirmed_at.is_(None),
                t.c.created_at >= now - dt.timedelta(days=1),
            )
        ).scalar_one()
        if recent >= MAX_PENDING:
            return answer  # said the same; nothing recorded, nothing sent
        conn.execute(
            insert(t).values(
                kind="email",
                target=address,
                school_id=req.school_id,
                created_at=now,
                created_by=PUBLIC,
                confirm_sha256=_sha(token),
                manage_token=manage,
                language=req.lang,
            )
        )
    site = ctx.settings.site_url
    send_mail(
        ctx,
        address,
        words.gettext("schoolmode: confirm the alerts for {name}").format(name=name),
        words.gettext(
            "Someone asked schoolmode to e-mail this address each time the learning mode of "
            "{name} changes.\n\nTo start the alerts, open this link within {days} days:\n"
            "{confirm}\n\nIf it was not you, do nothing: without the link, nothing is sent. "
            "To stop the alerts at any time: {stop}\n"
        ).format(
            name=name,
            days=CONFIRM_DAYS,
            confirm=f"{site}/alerts/confirm?token={token}",
            stop=f"{site}/alerts/stop?token={manage}",
        ),
    )
    return answer


def confirm(ctx: Context, token: str) -> Confirmed:
    """Start the subscription whose confirmation link this is (once; again: the same)."""
    t = alert_subscription
    with begin_write(ctx.engine) as conn:
        row = conn.execute(
            select(t.c.id, t.c.school_id, t.c.created_at, t.c.confirmed_at, t.c.revoked_at).where(
                t.c.confirm_sha256 == _sha(token)
            )
        ).first()
        if row is None or row.revoked_at is not None:
            raise AlertError("this confirmation link is not known (or its alerts were stopped)")
        if row.confirmed_at is None:
            if as_utc(row.created_at) < dt.datetime.now(dt.UTC) - dt.timedelta(days=CONFIRM_DAYS):
                raise AlertError(
                    f"this confirmation link has expired ({CONFIRM_DAYS} days): sign up again"
                )
            conn.execute(
                update(t).where(t.c.id == row.id).values(confirmed_at=dt.datetime.now(dt.UTC))
            )
    return Confirmed(school_id=row.school_id)


def stop(ctx: Context, token: str) -> Confirmed:
    """Stop the subscription whose e-mails carry this link (revoked, never deleted)."""
    t = alert_subscription
    with begin_write(ctx.engine) as conn:
        row = conn.execute(
            select(t.c.id, t.c.school_id, t.c.revoked_at).where(t.c.manage_token == token)
        ).first()
        if row is None:
            raise AlertError("this link is not known")
        if row.revoked_at is None:
            conn.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(revoked_at=dt.datetime.now(dt.UTC), revoked_by="the address's owner")
            )
    return Confirmed(school_id=row.school_id)

"""Browser sessions: a random cookie value, stored as its sha256 with idle and absolute
timeouts; its CSRF token; OpenID Connect logins under way.

A session is made by a login (password or OpenID Connect) and ends at its absolute expiry,
after ``idle`` without a request, or when revoked (logging out, a new login in the same
browser, the account disabled). Nothing is deleted: a revoked session keeps who and when.

The CSRF token is the synchronizer token of the session: an HMAC-SHA256 of a fixed label keyed
by the session's cookie value. It is tied to the session (a new login gives a new one), the
server needs to keep nothing more (the cookie's sha256 suffices to find the session), and a
page of another site cannot compute it: it cannot read the ``HttpOnly`` cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from schoolmode.access.accounts import Account, AccountError, account_from_row, token_digest
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import account, oidc_login, web_session

SEEN_EVERY = dt.timedelta(minutes=1)
"""``last_seen_at`` is written at most this often (not on every request)."""
OIDC_LOGIN_LIFE = dt.timedelta(minutes=10)
_CSRF_LABEL = b"schoolmode csrf v1"


@dataclass(frozen=True)
class Session:
    """A live session of an enabled account."""

    digest: str
    account: Account
    via: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def csrf_token(cookie: str) -> str:
    """The CSRF token of the session whose cookie value is ``cookie``."""
    return hmac.new(cookie.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).hexdigest()


def csrf_matches(cookie: str, given: str | None) -> bool:
    """Whether ``given`` is the session's CSRF token (compared in constant time)."""
    return given is not None and hmac.compare_digest(
        csrf_token(cookie).encode("utf-8"), given.encode("utf-8", "replace")
    )


def open_session(
    engine: Engine,
    name: str,
    via: str,
    life: dt.timedelta,
    replaces: str | None = None,
    by: str | None = None,
) -> tuple[str, Session]:
    """A new session of the enabled account ``name``: the cookie value (returned once) and the
    session. ``replaces``: the cookie this browser sent, revoked in the same transaction (a
    login always gets a new session id)."""
    now = _now()
    value = secrets.token_urlsafe(32)
    with begin_write(engine) as conn:
        row = conn.execute(
            select(account).where(account.c.name == name, account.c.disabled_at.is_(None))
        ).first()
        if row is None:
            raise AccountError(f"no enabled account {name!r}")
        if replaces is not None:
            _revoke(conn, token_digest(replaces), by or name, now)
        conn.execute(
            insert(web_session).values(
                session_sha256=token_digest(value),
                account_id=row.id,
                via=via,
                created_at=now,
                expires_at=now + life,
                last_seen_at=now,
            )
        )
    return value, Session(token_digest(value), account_from_row(row), via, now, now + life)


def resolve_session(engine: Engine, cookie: str, idle: dt.timedelta) -> Session | None:
    """The live session of ``cookie``: not revoked, not past its absolute expiry, used within
    ``idle``, of an enabled account; None otherwise. Marks it seen."""
    now = _now()
    digest = token_digest(cookie)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                account,
                web_session.c.via,
                web_session.c.created_at.label("session_created_at"),
                web_session.c.expires_at,
                web_session.c.last_seen_at,
            )
            .join(web_session, web_session.c.account_id == account.c.id)
            .where(
                web_session.c.session_sha256 == digest,
                web_session.c.revoked_at.is_(None),
                account.c.disabled_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    seen = as_utc(row.last_seen_at)
    expires = as_utc(row.expires_at)
    if expires <= now or seen + idle <= now:
        return None
    if now - seen >= SEEN_EVERY:
        with begin_write(engine) as conn:
            conn.execute(
                update(web_session)
                .where(web_session.c.session_sha256 == digest)
                .values(last_seen_at=now)
            )
    return Session(digest, account_from_row(row), row.via, as_utc(row.session_created_at), expires)


def _revoke(conn: object, digest: str, by: str, now: dt.datetime) -> bool:
    done = conn.execute(  # type: ignore[attr-defined]
        update(web_session)
        .where(web_session.c.session_sha256 == digest, web_session.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=by)
    ).rowcount
    return bool(done)


def revoke_session(engine: Engine, cookie: str, by: str) -> bool:
    """End the session of ``cookie``; False when it was not live."""
    with begin_write(engine) as conn:
        return _revoke(conn, token_digest(cookie), by, _now())


def begin_oidc_login(
    engine: Engine, state: str, nonce: str, code_verifier: str, redirect_uri: str
) -> None:
    """Keep an OpenID login under way (``OIDC_LOGIN_LIFE``), found again by its state."""
    now = _now()
    with begin_write(engine) as conn:
        conn.execute(
            insert(oidc_login).values(
                state_sha256=token_digest(state),
                nonce=nonce,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                created_at=now,
                expires_at=now + OIDC_LOGIN_LIFE,
            )
        )


@dataclass(frozen=True)
class PendingLogin:
    nonce: str
    code_verifier: str
    redirect_uri: str


def take_oidc_login(engine: Engine, state: str) -> PendingLogin | None:
    """The login under way with ``state``, marked used: None when unknown, expired or used
    already (a state, and so its code, serves once)."""
    now = _now()
    digest = token_digest(state)
    with begin_write(engine) as conn:
        row = conn.execute(select(oidc_login).where(oidc_login.c.state_sha256 == digest)).first()
        if row is None or row.used_at is not None or as_utc(row.expires_at) <= now:
            return None
        taken = conn.execute(
            update(oidc_login)
            .where(oidc_login.c.state_sha256 == digest, oidc_login.c.used_at.is_(None))
            .values(used_at=now)
        ).rowcount
    if not taken:
        return None
    return PendingLogin(row.nonce, row.code_verifier, row.redirect_uri)

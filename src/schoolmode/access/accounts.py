"""Accounts and their bearer tokens, in the store.

Passwords are kept as argon2id hashes (argon2-cffi); a token is shown once when it is made and
stored as its sha256 only, with an expiry; revoking or disabling records who and when, and
nothing is deleted. Every change is written to the access log by the caller (the use cases in
``app/access.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, insert, select, update

from schoolmode.access.networks import known_network, known_networks
from schoolmode.access.roles import Principal, Role, Scope, ScopeKind
from schoolmode.policy.errors import SchoolmodeError
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import account, api_token

TOKEN_PREFIX = "smt_"
"""Tokens start with this, so that a leaked one is recognisable (secret scanners)."""

SERVICE_TOKEN_DAYS = 90
LOGIN_TOKEN_HOURS = 12

_HASHER = PasswordHasher()
MIN_PASSWORD = 12


class AccountError(SchoolmodeError):
    """An account or token that cannot be made, found or used as asked."""


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    scope: Scope
    created_at: dt.datetime
    created_by: str
    disabled: bool

    @property
    def principal(self) -> Principal:
        return Principal(self.name, self.role, self.scope)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_account(
    engine: Engine,
    name: str,
    role: Role,
    scope: Scope,
    created_by: str,
    password: str | None = None,
    oidc_subject: str | None = None,
) -> Account:
    """A new account; its name must be new. ``password``: at least ``MIN_PASSWORD``
    characters; without one the account logs in with tokens only. ``oidc_subject``: the
    OpenID provider's ``sub`` of this person, who may then log in there (unique). A network
    scope must name a network of the stored school records."""
    name = name.strip()
    if not name or len(name) > 100 or any(not c.isprintable() for c in name):
        raise AccountError(f"account name {name!r}: 1 to 100 printable characters")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if oidc_subject is not None and (
        not 1 <= len(oidc_subject) <= 255 or any(not c.isprintable() for c in oidc_subject)
    ):
        raise AccountError(f"OpenID subject {oidc_subject!r}: 1 to 255 printable characters")
    now = _now()
    with begin_write(engine) as conn:
        if conn.execute(select(account.c.id).where(account.c.name == name)).first():
            raise AccountError(f"account {name!r} exists already")
        if scope.kind is ScopeKind.network and not known_network(conn, str(scope.unit)):
            known = ", ".join(known_networks(conn)) or "none: import the school records first"
            raise AccountError(
                f"scope {scope}: no stored school record names network {scope.unit!r} "
                f"(known networks: {known})"
            )
        if (
            oidc_subject is not None
            and conn.execute(
                select(account.c.name).where(account.c.oidc_subject == oidc_subject)
            ).first()
        ):
            raise AccountError(f"OpenID subject {oidc_subject!r} belongs to another account")
        conn.execute(
            insert(account).values(
                name=name,
                role=role.value,
                scope=str(scope),
                password_hash=None if password is None else _HASHER.hash(password),
                created_at=now,
                created_by=created_by,
                oidc_subject=oidc_subject,
            )
        )
    return Account(name, role, scope, now, created_by, False)


def account_from_row(row: object) -> Account:
    """An account from a row of the ``account`` table."""
    return Account(
        name=row.name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        scope=Scope.parse(row.scope),  # type: ignore[attr-defined]
        created_at=as_utc(row.created_at),  # type: ignore[attr-defined]
        created_by=row.created_by,  # type: ignore[attr-defined]
        disabled=row.disabled_at is not None,  # type: ignore[attr-defined]
    )


def accounts(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        return [account_from_row(r) for r in conn.execute(select(account).order_by(account.c.name))]


def disable_account(engine: Engine, name: str, disabled_by: str) -> None:
    """Disable ``name``: it can no longer log in and its tokens stop working."""
    with begin_write(engine) as conn:
        done = conn.execute(
            update(account)
            .where(account.c.name == name, account.c.disabled_at.is_(None))
            .values(disabled_at=_now(), disabled_by=disabled_by)
        ).rowcount
    if not done:
        raise AccountError(f"no enabled account {name!r}")


def _issue(
    conn: object, account_id: int, kind: str, label: str, by: str, life: dt.timedelta
) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    conn.execute(  # type: ignore[attr-defined]
        insert(api_token).values(
            account_id=account_id,
            token_sha256=token_digest(token),
            kind=kind,
            label=label,
            created_at=now,
            created_by=by,
            expires_at=now + life,
        )
    )
    return token


def create_token(
    engine: Engine, name: str, label: str, created_by: str, days: int = SERVICE_TOKEN_DAYS
) -> str:
    """A new service token of account ``name`` valid ``days`` days: returned once, stored as its
    sha256."""
    if not 1 <= days <= 366:
        raise AccountError("a token lives 1 to 366 days")
    with begin_write(engine) as conn:
        row = conn.execute(
            select(account.c.id).where(account.c.name == name, account.c.disabled_at.is_(None))
        ).first()
        if row is None:
            raise AccountError(f"no enabled account {name!r}")
        return _issue(conn, row.id, "service", label, created_by, dt.timedelta(days=days))


def _checked(conn: object, name: str, password: str) -> object:
    """The row of the enabled account ``name`` if ``password`` is its password.

    The same error for an unknown name, a wrong password and a disabled account, and the hash
    is checked in every case (no timing difference tells which)."""
    row = conn.execute(select(account).where(account.c.name == name)).first()  # type: ignore[attr-defined]
    stored = row.password_hash if row is not None else None
    try:
        ok = _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or row.disabled_at is not None:
        raise AccountError("wrong name or password")
    return row


def check_password(engine: Engine, name: str, password: str) -> Account:
    """The enabled account ``name`` if ``password`` is its password (else ``AccountError``)."""
    with engine.connect() as conn:
        return account_from_row(_checked(conn, name, password))


def login(engine: Engine, name: str, password: str) -> tuple[str, Account]:
    """A login token (``LOGIN_TOKEN_HOURS``) for the right password of an enabled account."""
    with begin_write(engine) as conn:
        row = _checked(conn, name, password)
        life = dt.timedelta(hours=LOGIN_TOKEN_HOURS)
        return _issue(conn, row.id, "login", "login", name, life), account_from_row(row)  # type: ignore[attr-defined]


def account_by_subject(engine: Engine, subject: str) -> Account | None:
    """The enabled account mapped to the OpenID subject ``subject``; None when none is."""
    with engine.connect() as conn:
        row = conn.execute(
            select(account).where(
                account.c.oidc_subject == subject, account.c.disabled_at.is_(None)
            )
        ).first()
    return None if row is None else account_from_row(row)


_DUMMY = _HASHER.hash("not a password: keeps an unknown name as slow as a known one")


def resolve_token(engine: Engine, token: str) -> Account | None:
    """The enabled account of a live (not expired, not revoked) token; None otherwise."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(account, api_token.c.expires_at)
            .join(api_token, api_token.c.account_id == account.c.id)
            .where(
                api_token.c.token_sha256 == token_digest(token),
                api_token.c.revoked_at.is_(None),
                account.c.disabled_at.is_(None),
            )
        ).first()
    if row is None or as_utc(row.expires_at) <= _now():
        return None
    return account_from_row(row)


def revoke_token(engine: Engine, token: str, revoked_by: str) -> None:
    with begin_write(engine) as conn:
        done = conn.execute(
            update(api_token)
            .where(
                api_token.c.token_sha256 == token_digest(token), api_token.c.revoked_at.is_(None)
            )
            .values(revoked_at=_now(), revoked_by=revoked_by)
        ).rowcount
    if not done:
        raise AccountError("no such live token")


def live_tokens(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(api_token.join(account, api_token.c.account_id == account.c.id))
                .where(
                    account.c.name == name,
                    api_token.c.revoked_at.is_(None),
                    api_token.c.expires_at > _now(),
                )
            ).scalar_one()
        )

"""Use cases of access: accounts, tokens, logging in, who a token is, the access log."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from schoolmode.access import accounts as acc
from schoolmode.access import oidc
from schoolmode.access import sessions as ses
from schoolmode.access.log import AccessEvent, Action, access_events, record_access
from schoolmode.access.networks import resolve_scope
from schoolmode.access.roles import ANONYMOUS, Principal, Role, Scope
from schoolmode.app.context import Context


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AccountView(_Frozen):
    name: str
    role: Role
    scope: str
    created_at: dt.datetime
    created_by: str
    disabled: bool


def _view(account: acc.Account) -> AccountView:
    return AccountView(
        name=account.name,
        role=account.role,
        scope=str(account.scope),
        created_at=account.created_at,
        created_by=account.created_by,
        disabled=account.disabled,
    )


class AddAccountRequest(_Frozen):
    """A new account: ``scope`` is ``district``, ``network:ID`` or ``school:ID``;
    ``oidc_subject``: the OpenID provider's ``sub`` of this person (OpenID login)."""

    name: str
    role: Role
    scope: str = "district"
    password: str | None = Field(default=None, repr=False)
    oidc_subject: str | None = None


def _scope(text: str) -> Scope:
    try:
        return Scope.parse(text)
    except ValueError as exc:
        raise acc.AccountError(str(exc)) from None


def add_account(ctx: Context, req: AddAccountRequest, by: Principal) -> AccountView:
    account = acc.add_account(
        ctx.engine,
        req.name,
        req.role,
        _scope(req.scope),
        by.name or "system",
        req.password,
        req.oidc_subject,
    )
    params: dict[str, object] = {"name": req.name, "role": req.role, "scope": req.scope}
    if req.oidc_subject is not None:
        params["oidc_subject"] = req.oidc_subject
    _log_write(ctx, by, "account add", params)
    return _view(account)


def list_accounts(ctx: Context) -> list[AccountView]:
    return [_view(a) for a in acc.accounts(ctx.engine)]


def disable_account(ctx: Context, name: str, by: Principal) -> None:
    acc.disable_account(ctx.engine, name, by.name or "system")
    _log_write(ctx, by, "account disable", {"name": name})


class TokenRequest(_Frozen):
    name: str
    label: str
    days: int = acc.SERVICE_TOKEN_DAYS


class IssuedToken(_Frozen):
    """A bearer token, shown this once."""

    token: str = Field(repr=False)
    account: str
    expires_in_days: float


def create_token(ctx: Context, req: TokenRequest, by: Principal) -> IssuedToken:
    token = acc.create_token(ctx.engine, req.name, req.label, by.name or "system", req.days)
    _log_write(ctx, by, "token create", {"name": req.name, "label": req.label, "days": req.days})
    return IssuedToken(token=token, account=req.name, expires_in_days=req.days)


def revoke_token(ctx: Context, token: str, by: Principal) -> None:
    acc.revoke_token(ctx.engine, token, by.name or "system")
    _log_write(ctx, by, "token revoke", {"sha256": acc.token_digest(token)[:12]})


def login(ctx: Context, name: str, password: str) -> IssuedToken:
    """A login token for a name and password (``LOGIN_TOKEN_HOURS``); a failure is logged
    (the name, never the password) and raised."""
    try:
        token, account = acc.login(ctx.engine, name, password)
    except acc.AccountError:
        login_failed(ctx, {"name": name, "via": "token"})
        raise
    _log_write(ctx, account.principal, "login", {"name": name, "via": "token"})
    return IssuedToken(
        token=token, account=account.name, expires_in_days=acc.LOGIN_TOKEN_HOURS / 24
    )


def authenticate(ctx: Context, token: str | None) -> Principal | None:
    """Who a bearer token is: anonymous without one, None for a token that is not live."""
    if token is None:
        return ANONYMOUS
    account = acc.resolve_token(ctx.engine, token)
    return None if account is None else _principal(ctx, account)


def _principal(ctx: Context, account: acc.Account) -> Principal:
    """The account as a principal, a network scope resolved to its schools (once per
    request: a token or cookie is checked once a request)."""
    return Principal(account.name, account.role, resolve_scope(ctx.engine, account.scope))


class OpenedSession(_Frozen):
    """A new browser session: its cookie value (set once, never shown in a page) and CSRF
    token."""

    cookie: str = Field(repr=False)
    csrf_token: str = Field(repr=False)
    account: str
    role: Role
    scope: str
    via: str
    expires_at: dt.datetime
    idle_timeout_s: int


def _opened(ctx: Context, cookie: str, session: ses.Session) -> OpenedSession:
    return OpenedSession(
        cookie=cookie,
        csrf_token=ses.csrf_token(cookie),
        account=session.account.name,
        role=session.account.role,
        scope=str(session.account.scope),
        via=session.via,
        expires_at=session.expires_at,
        idle_timeout_s=ctx.settings.session_idle_minutes * 60,
    )


def _open(ctx: Context, account: acc.Account, via: str, replaces: str | None) -> OpenedSession:
    life = dt.timedelta(hours=ctx.settings.session_absolute_hours)
    cookie, session = ses.open_session(ctx.engine, account.name, via, life, replaces)
    params: dict[str, object] = {"name": account.name, "via": via, "session": session.digest[:12]}
    if replaces is not None:
        params["replaced"] = acc.token_digest(replaces)[:12]
    _log_write(ctx, account.principal, "session open", params)
    return _opened(ctx, cookie, session)


def login_failed(ctx: Context, params: dict[str, object]) -> None:
    """A failed login in the access log: the name tried and how, never a password."""
    record_access(ctx.engine, ANONYMOUS, Action.write, "USE", "login failed", params, 401)


def open_session(
    ctx: Context, name: str, password: str, replaces: str | None = None
) -> OpenedSession:
    """A browser session for a name and password; ``replaces``: the session cookie the browser
    sent, revoked (a login always gets a new session id). A failure is logged and raised."""
    try:
        account = acc.check_password(ctx.engine, name, password)
    except acc.AccountError:
        login_failed(ctx, {"name": name, "via": "password"})
        raise
    return _open(ctx, account, "password", replaces)


@dataclass(frozen=True)
class SessionWho:
    """Who a session cookie is, and its CSRF token."""

    principal: Principal
    digest: str
    csrf_token: str = field(repr=False)


def session_who(ctx: Context, cookie: str) -> SessionWho | None:
    """Who a live session cookie is; None for a cookie that is not (unknown, expired, idle,
    revoked, or its account disabled)."""
    idle = dt.timedelta(minutes=ctx.settings.session_idle_minutes)
    session = ses.resolve_session(ctx.engine, cookie, idle)
    if session is None:
        return None
    return SessionWho(
        principal=_principal(ctx, session.account),
        digest=session.digest,
        csrf_token=ses.csrf_token(cookie),
    )


def csrf_matches(cookie: str, given: str | None) -> bool:
    """Whether ``given`` is the CSRF token of the session of ``cookie`` (constant time)."""
    return ses.csrf_matches(cookie, given)


def close_session(ctx: Context, cookie: str, by: Principal) -> bool:
    """Log out: revoke the session of ``cookie``; False when it was not live."""
    done = ses.revoke_session(ctx.engine, cookie, by.name or "anonymous")
    if done:
        _log_write(ctx, by, "session close", {"session": acc.token_digest(cookie)[:12]})
    return done


def _provider(ctx: Context) -> oidc.Provider:
    settings = ctx.settings
    if settings.oidc_issuer is None or settings.oidc_client_id is None:
        raise oidc.OidcNotConfigured("OpenID Connect login is not configured")
    secret = settings.oidc_client_secret
    return oidc.Provider(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=None if secret is None else secret.get_secret_value(),
        scopes=settings.oidc_scopes,
    )


def start_oidc_login(ctx: Context, redirect_uri: str) -> oidc.Authorization:
    """Where to send the browser to log in at the OpenID provider; the state, nonce and PKCE
    verifier are kept in the store until it comes back (once, within minutes)."""
    provider = _provider(ctx)
    made = oidc.start(provider, redirect_uri)
    ses.begin_oidc_login(ctx.engine, made.state, made.nonce, made.code_verifier, redirect_uri)
    return made


def finish_oidc_login(
    ctx: Context, code: str, state: str, replaces: str | None = None
) -> OpenedSession:
    """The browser is back from the provider: a session for the local account of the ID
    token's subject. Refused (``OidcError``, logged) for a state that is unknown, expired or
    used, a code the provider refuses, an ID token that does not validate, or a subject no
    enabled account is mapped to (``UnknownSubject``)."""
    provider = _provider(ctx)
    pending = ses.take_oidc_login(ctx.engine, state)
    try:
        if pending is None:
            raise oidc.OidcError("unknown, expired or already used login state")
        subject = oidc.finish(
            provider, code, pending.nonce, pending.code_verifier, pending.redirect_uri
        )
        account = acc.account_by_subject(ctx.engine, subject)
        if account is None:
            raise oidc.UnknownSubject(
                f"no account here is mapped to OpenID subject {subject!r}: an administrator "
                "adds one with `schoolmode users add NAME --role ... --oidc-subject SUBJECT`"
            )
    except oidc.OidcError as exc:
        login_failed(ctx, {"via": "oidc", "reason": str(exc)})
        raise
    return _open(ctx, account, "oidc", replaces)


def _log_write(ctx: Context, who: Principal, what: str, params: dict[str, object]) -> None:
    """Account changes are writes: logged with the use case's name as the route (method
    ``USE``), whichever face called it."""
    record_access(ctx.engine, who, Action.write, "USE", what, params, 0)


class AccessLogPage(_Frozen):
    total: int
    limit: int
    offset: int
    items: list[AccessEvent]


def access_log(ctx: Context, limit: int = 100, offset: int = 0) -> AccessLogPage:
    total, events = access_events(ctx.engine, limit, offset)
    return AccessLogPage(
        total=total,
        limit=limit,
        offset=offset,
        items=events,
    )


def log_access(
    ctx: Context,
    who: Principal,
    write: bool,
    method: str,
    route: str,
    params: dict[str, object],
    status: int,
    rows: int | None = None,
) -> None:
    """Record one request's access (the API's middleware calls it)."""
    action = Action.write if write else Action.read
    record_access(ctx.engine, who, action, method, route, params, status, rows)

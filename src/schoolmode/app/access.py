"""Use cases of access: accounts, tokens, logging in, who a token is, the access log."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from schoolmode.access import accounts as acc
from schoolmode.access.log import AccessEvent, Action, access_events, record_access
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
    """A new account: ``scope`` is ``district``, ``network:ID`` or ``school:ID``."""

    name: str
    role: Role
    scope: str = "district"
    password: str | None = Field(default=None, repr=False)


def _scope(text: str) -> Scope:
    try:
        return Scope.parse(text)
    except ValueError as exc:
        raise acc.AccountError(str(exc)) from None


def add_account(ctx: Context, req: AddAccountRequest, by: Principal) -> AccountView:
    account = acc.add_account(
        ctx.engine, req.name, req.role, _scope(req.scope), by.name or "system", req.password
    )
    _log_write(ctx, by, "account add", {"name": req.name, "role": req.role, "scope": req.scope})
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
    """A login token for a name and password (``LOGIN_TOKEN_HOURS``)."""
    token, account = acc.login(ctx.engine, name, password)
    _log_write(ctx, account.principal, "login", {"name": name})
    return IssuedToken(
        token=token, account=account.name, expires_in_days=acc.LOGIN_TOKEN_HOURS / 24
    )


def authenticate(ctx: Context, token: str | None) -> Principal | None:
    """Who a bearer token is: anonymous without one, None for a token that is not live."""
    if token is None:
        return ANONYMOUS
    account = acc.resolve_token(ctx.engine, token)
    return None if account is None else account.principal


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

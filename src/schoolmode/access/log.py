"""The access log: every read of personal data and every write, append-only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, insert, select

from schoolmode.access.roles import Principal
from schoolmode.store.chain import append_link
from schoolmode.store.db import as_utc, begin_write
from schoolmode.store.tables import access_log


class Action(StrEnum):
    read = "read"
    write = "write"


class AccessEvent(BaseModel):
    """One logged access, as the access log shows it."""

    model_config = ConfigDict(frozen=True)

    at: dt.datetime
    principal: str | None
    role: str
    scope: str
    action: str
    method: str
    route: str
    params: dict[str, object]
    status: int
    rows: int | None


def record_access(
    engine: Engine,
    who: Principal,
    action: Action,
    method: str,
    route: str,
    params: Mapping[str, object],
    status: int,
    rows: int | None = None,
) -> None:
    """Append one event (``params``: the request's path and query parameters, never a
    password or a token)."""
    with begin_write(engine) as conn:
        key = conn.execute(
            insert(access_log).values(
                at=dt.datetime.now(dt.UTC),
                principal=who.name,
                role=who.role.value,
                scope=str(who.scope),
                action=action.value,
                method=method,
                route=route,
                params_json=json.dumps(dict(params), sort_keys=True, default=str),
                status=status,
                rows=rows,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        append_link(conn, "access_log", int(key))


def access_events(
    engine: Engine, limit: int = 100, offset: int = 0
) -> tuple[int, list[AccessEvent]]:
    """The total and one page of events, the latest first."""
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(access_log)).scalar_one())
        rows = conn.execute(
            select(access_log).order_by(access_log.c.id.desc()).limit(limit).offset(offset)
        ).all()
    return total, [
        AccessEvent(
            at=as_utc(r.at),
            principal=r.principal,
            role=r.role,
            scope=r.scope,
            action=r.action,
            method=r.method,
            route=r.route,
            params=json.loads(r.params_json),
            status=r.status,
            rows=r.rows,
        )
        for r in rows
    ]

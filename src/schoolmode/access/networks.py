"""Network scopes: the schools of a network, as the store's school records name them.

A principal scoped to ``network:ID`` sees the schools whose record of their latest stored
school year names that network (a school that moved to another network leaves it). The
schools are looked up when the principal's token or session cookie is checked, so once per
request: a school record imported again (a new year, a school moved) counts from the next
request on.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, and_, func, select

from schoolmode.access.roles import Scope, ScopeKind
from schoolmode.store.tables import RECORD_TABLES

_SCHOOL = RECORD_TABLES["school"]


def network_schools(conn: Connection, network: str) -> frozenset[str]:
    """The schools whose latest stored school year names ``network``."""
    later = _SCHOOL.alias("later")
    latest = (
        select(func.max(later.c.school_year))
        .where(later.c.school_id == _SCHOOL.c.school_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(_SCHOOL.c.school_id).where(
            and_(_SCHOOL.c.network == network, _SCHOOL.c.school_year == latest)
        )
    )
    return frozenset(str(r.school_id) for r in rows)


def known_network(conn: Connection, network: str) -> bool:
    """Whether any stored school record (of any year) names ``network``."""
    found = conn.execute(select(_SCHOOL.c.school_id).where(_SCHOOL.c.network == network).limit(1))
    return found.first() is not None


def known_networks(conn: Connection) -> list[str]:
    """Every network the stored school records name, sorted."""
    rows = conn.execute(select(_SCHOOL.c.network).where(_SCHOOL.c.network.is_not(None)).distinct())
    return sorted(str(r.network) for r in rows)


def resolve_scope(engine: Engine, scope: Scope) -> Scope:
    """``scope`` with a network's schools filled in (``Scope.schools``); other scopes as they
    are."""
    if scope.kind is not ScopeKind.network or scope.unit is None:
        return scope
    with engine.connect() as conn:
        return Scope(scope.kind, scope.unit, network_schools(conn, scope.unit))

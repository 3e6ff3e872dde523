"""The application's own database role on PostgreSQL: least privilege beside the triggers.

The triggers of the migrations refuse UPDATE, DELETE and TRUNCATE on the audit tables, but a
role that owns a table can drop its trigger, alter the table or truncate it after disabling the
guard. So a shared deployment runs with two roles: the **owner**, who runs `schoolmode db
upgrade` and nothing else, and the **application role**, with which `schoolmode serve` and the
daily jobs connect. :func:`grant_app_role` (``schoolmode db grant ROLE``, run as the owner)
gives the application role exactly:

- ``USAGE`` on the schema (no ``CREATE``): it can make no table, function or trigger;
- ``SELECT, INSERT`` on every append-only table (those with an ``<table>_append_only``
  trigger): it can add audit records and read them, and nothing else, even were a trigger gone;
- ``SELECT, INSERT, UPDATE, DELETE`` on the other tables (the source data an import replaces,
  accounts, tokens, sessions), never ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER``;
- ``SELECT`` on ``alembic_version``; ``USAGE, SELECT`` on the sequences.

Owning nothing, the role cannot ``ALTER``, ``DROP`` or disable a trigger of any table. Run it
again after each ``db upgrade`` (a migration's new tables have no grants until then).
SQLite has no roles: there the file's owner-only mode is the guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from schoolmode.policy.errors import SchoolmodeError

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SCHEMA_VERSION_TABLE = "alembic_version"


class PrivilegeError(SchoolmodeError):
    """The role cannot be made the application's role (named in the message)."""


@dataclass(frozen=True)
class Grants:
    """What :func:`grant_app_role` gave: the role and the tables by kind."""

    role: str
    append_only: tuple[str, ...]
    writable: tuple[str, ...]
    statements: tuple[str, ...]


def _tables(conn: Connection, schema: str) -> tuple[list[str], list[str]]:
    """The schema's tables: those guarded by an append-only trigger, and the others."""
    every = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ),
        {"schema": schema},
    ).scalars()
    guarded = set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND NOT t.tgisinternal "
                "AND t.tgname = c.relname || '_append_only'"
            ),
            {"schema": schema},
        ).scalars()
    )
    tables = [str(t) for t in every if t != SCHEMA_VERSION_TABLE]
    return [t for t in tables if t in guarded], [t for t in tables if t not in guarded]


def _check_role(conn: Connection, role: str) -> None:
    if not ROLE_NAME.match(role):
        raise PrivilegeError(
            f"role {role!r}: expected a lower-case PostgreSQL role name (letters, digits, _)"
        )
    if conn.execute(text("SELECT current_user")).scalar_one() == role:
        raise PrivilegeError(
            f"role {role!r} is the role running this command (the owner): the application "
            "needs a role of its own"
        )
    found = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if found is None:
        raise PrivilegeError(f"role {role!r} does not exist: create it first (CREATE ROLE)")
    if found[0] or found[1]:
        raise PrivilegeError(
            f"role {role!r} is a superuser (or bypasses row security): no grant can limit it"
        )
    owned = conn.execute(
        text(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE r.rolname = :role AND n.nspname = current_schema()"
        ),
        {"role": role},
    ).scalar_one()
    if owned:
        raise PrivilegeError(
            f"role {role!r} owns {owned} table(s) or sequence(s) of the store: an owner can "
            "drop the append-only triggers; give them to the owner (REASSIGN OWNED)"
        )


def grant_app_role(engine: Engine, role: str) -> Grants:
    """Give ``role`` the application's privileges on the store and nothing more (revoking what
    it had); run by the store's owner on PostgreSQL."""
    if engine.dialect.name != "postgresql":
        raise PrivilegeError(
            "database roles exist on PostgreSQL only; an SQLite store is guarded by its "
            "file's owner-only mode"
        )
    with engine.begin() as conn:
        _check_role(conn, role)
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        if (
            conn.execute(text("SELECT to_regclass(:t)"), {"t": SCHEMA_VERSION_TABLE}).scalar()
            is None
        ):
            raise PrivilegeError("the store has no schema yet: run `schoolmode db upgrade` first")
        q = conn.dialect.identifier_preparer.quote
        who, where = q(role), q(schema)
        guarded, writable = _tables(conn, schema)
        statements = [
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
            f"REVOKE CREATE ON SCHEMA {where} FROM {who}",
            f"GRANT USAGE ON SCHEMA {where} TO {who}",
            f"GRANT SELECT ON {where}.{q(SCHEMA_VERSION_TABLE)} TO {who}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
        ]
        statements += [f"GRANT SELECT, INSERT ON {where}.{q(t)} TO {who}" for t in guarded]
        statements += [
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {where}.{q(t)} TO {who}" for t in writable
        ]
        for statement in statements:
            conn.execute(text(statement))
    return Grants(role, tuple(guarded), tuple(writable), tuple(statements))

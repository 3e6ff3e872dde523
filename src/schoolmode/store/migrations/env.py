"""Alembic environment: run by ``schoolmode db upgrade`` with a connection in attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from schoolmode.settings import AppSettings
from schoolmode.store.db import make_engine
from schoolmode.store.migrate import declared_only
from schoolmode.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=declared_only(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # run by the alembic command itself: the URL of its ini, else the settings' store
    url = config.get_main_option("sqlalchemy.url") or AppSettings.load().db_url
    with make_engine(url).begin() as conn:
        _run(conn)

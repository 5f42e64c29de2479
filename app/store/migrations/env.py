"""Alembic environment for Journey Studio.

The app calls it through ``app.store.migrate`` with an open connection in
``config.attributes["connection"]``. A developer can also run Alembic by hand
(``alembic -c app/store/alembic.ini revision -m "..."``); then the database
comes from ``sqlalchemy.url`` or the usual JOURNEYS_DB / default location.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from app.store.tables import metadata

config = context.config


def _run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    from app.store import sqlite_hooks  # only needed for hand-run alembic commands
    from app.store.db import open_database

    engine = open_database(config.get_main_option("sqlalchemy.url") or None, migrate=False)
    try:
        with engine.connect() as conn, sqlite_hooks.foreign_keys_paused(conn):
            conn.execution_options(**{sqlite_hooks.WRITE_INTENT: True})
            with conn.begin():
                _run_with(conn)
                sqlite_hooks.check_foreign_keys(conn)
    finally:
        engine.dispose()


def run_offline() -> None:
    from app.store.db import resolve_database_url

    url = config.get_main_option("sqlalchemy.url") or resolve_database_url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

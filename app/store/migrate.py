"""Run the Alembic migrations in ``migrations/`` without an alembic.ini.

The app upgrades its database to the newest schema when it opens one that is
behind, so a user who installs a new version never runs a migration command; a
database already at the newest schema is only read (app/store/db.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection, Engine

from app.store import sqlite_hooks
from app.store.errors import StoreError
from app.store.sqlite_hooks import WRITE_INTENT

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic keeps the running migration's context in module globals (`alembic.context`, `op`): two
# threads upgrading two databases at once (the window's store and a test run's throwaway one) would
# read each other's. One upgrade at a time per process.
_ALEMBIC = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to a connection."""
    config = Config()
    # ConfigParser interpolation: a literal '%' in the path must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this version of the app knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_state(engine: Engine) -> str:
    """"current" (at this app's head), "behind" (older, or empty) or "newer" (an unknown revision).

    Reads only: on SQLite a plain read transaction, which never waits for a writer (WAL)."""
    current = current_revision(engine)
    if current == head_revision():
        return "current"
    if current is None:
        return "behind"
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(current)
    except CommandError:
        return "newer"
    return "behind"


def _run(engine: Engine, fn: str, revision: str) -> None:
    """Run one Alembic command in a single write transaction (all or nothing)."""
    with _ALEMBIC, engine.connect() as conn:
        with sqlite_hooks.foreign_keys_paused(conn):
            conn.execution_options(**{WRITE_INTENT: True})
            with conn.begin():
                try:
                    getattr(command, fn)(alembic_config(conn), revision)
                except CommandError as exc:
                    raise StoreError(_explain(engine, exc)) from exc
                sqlite_hooks.check_foreign_keys(conn)


def _explain(engine: Engine, exc: CommandError) -> str:
    url = engine.url.render_as_string(hide_password=True)
    if "Can't locate revision" in str(exc):
        return (
            f"The database {url} was written by a newer version of Journey Studio "
            f"({exc}). Update the app, or open a different database."
        )
    return f"Could not upgrade the database {url}: {exc}"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: newest). Safe to repeat."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` ("base" drops every table)."""
    _run(engine, "downgrade", revision)

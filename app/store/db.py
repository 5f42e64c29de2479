"""Where the database lives and how it is opened.

One function, :func:`open_database`, gives every caller (GUI, CLI, tests) the
same engine: SQLite hooks installed, schema upgraded, and any failure turned
into a :class:`StoreError` that names the database and says what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from app.store import sqlite_hooks
from app.store.errors import StoreError
from app.store.migrate import upgrade

APP_NAME = "JourneyStudio"
DB_FILENAME = "journeys.sqlite3"
ENV_VAR = "JOURNEYS_DB"
_HINT = f"Pass another location with --db or set {ENV_VAR} (a file path or a database URL)."


def default_database_url() -> str:
    """The per-user SQLite file, e.g. ~/.local/share/JourneyStudio/journeys.sqlite3."""
    folder = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return _path_to_url(str(folder / DB_FILENAME))


def _path_to_url(path: str) -> str:
    if path == ":memory:":
        return "sqlite:///:memory:"
    return URL.create("sqlite", database=str(Path(path).expanduser().resolve())).render_as_string()


def resolve_database_url(explicit: str | None = None) -> str:
    """Pick the database: ``explicit``, else $JOURNEYS_DB, else the default file.

    A value without ``://`` is a file path and becomes a SQLite URL (relative
    paths are made absolute, so a later chdir does not move the database).
    """
    for candidate in (explicit, os.environ.get(ENV_VAR)):
        if candidate and candidate.strip():
            candidate = candidate.strip()
            return candidate if "://" in candidate else _path_to_url(candidate)
    return default_database_url()


def _redact(url: str) -> str:
    """Hide a password in a URL we could not even parse."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):  # URI form; sqlite3 parses it itself
        return None
    return Path(database)


def open_database(url: str | None = None, *, migrate: bool = True) -> Engine:
    """Open (creating if needed) and upgrade the database; return its engine.

    Raises StoreError if the URL is malformed, its driver is not installed,
    the folder cannot be created or written, the file is not a database, or
    the database belongs to a newer version of the app.
    """
    raw = resolve_database_url(url)
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a non-numeric port
        raise StoreError(f"{_redact(raw)!r} is not a valid database URL or path. {_HINT}") from exc
    shown = parsed.render_as_string(hide_password=True)

    file = _sqlite_file(parsed)
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder {file.parent} for the database {shown}: "
                f"{exc.strerror or exc}. {_HINT}"
            ) from exc

    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ImportError) as exc:
        extra = " (for PostgreSQL: pip install 'psycopg[binary]')" if "postgres" in parsed.drivername else ""
        raise StoreError(
            f"Cannot open the database {shown}: no driver for {parsed.drivername!r} is installed "
            f"({exc}). Install one{extra}, or {_HINT[0].lower()}{_HINT[1:]}"
        ) from exc
    except ArgumentError as exc:
        raise StoreError(f"Cannot open the database {shown}: {exc}. {_HINT}") from exc

    sqlite_hooks.install(engine)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if migrate:
            upgrade(engine)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = getattr(exc, "orig", None) or exc
        check = (
            "Check that the file is a Journey Studio database and that you may write to its folder."
            if parsed.get_backend_name() == "sqlite"
            else "Check that the server is running and that the URL, user and password are right."
        )
        raise StoreError(f"Cannot open the database {shown}: {str(reason).strip()}. {check} {_HINT}") from exc
    return engine

"""Where the database lives and how it is opened.

One function, :func:`open_database`, gives every caller (GUI, CLI, tests) the
same engine: SQLite hooks installed, schema upgraded when behind (a current one
is not touched, so readers never take the write lock), a new file private to
the user, and any failure turned into a :class:`StoreError` that names the
database and says what to do (app/store/faults.py for busy, read-only, full).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import platformdirs
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from app.store import faults, sqlite_hooks
from app.store.errors import StoreError
from app.store.migrate import schema_state, upgrade

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


FOLDER_MODE = 0o700
FILE_MODE = 0o600
"""The database holds customers' personal data: its file and the folders we create for it are the
user's alone. SQLite gives its -wal and -shm files the database file's mode."""


def _create_private(file: Path, shown: str) -> None:
    """Create the missing folders (0700, as the XDG base-directory spec asks of a missing data folder)
    and an empty database file (0600) before SQLite opens it."""
    missing = [p for p in (file.parent, *file.parent.parents) if not p.exists()]
    if missing and missing[-1].parent.is_dir() and not faults.writable(missing[-1].parent):
        raise faults.DatabaseReadOnly(
            f"Cannot create the folder {file.parent} for the database {shown}: the folder "
            f"{missing[-1].parent} may not be written. {_HINT}")
    try:
        for folder in reversed(missing):
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
            os.chmod(folder, FOLDER_MODE)          # mkdir's mode is filtered by the umask
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {file.parent} for the database {shown}: "
            f"{exc.strerror or exc}. {_HINT}"
        ) from exc
    if not file.parent.is_dir():
        ancestors = (file.parent, *file.parent.parents)
        blocker = next((p for p in ancestors if p.exists() and not p.is_dir()), file.parent)
        raise StoreError(
            f"Cannot create the folder {file.parent} for the database {shown}: {blocker} is a file, "
            f"not a folder. {_HINT}")
    if file.exists():
        return
    if not faults.writable(file.parent):
        raise faults.unwritable_folder(file.parent, shown)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(file, FILE_MODE)
    except FileExistsError:                        # another process created it meanwhile
        return
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise faults.DiskFull(f"the disk holding the database {shown} is full; nothing was created. "
                                  "Free some space and run the command again") from exc
        raise StoreError(f"Cannot create the database {shown}: {exc.strerror or exc}. {_HINT}") from exc


def _check_writable(file: Path, shown: str) -> None:
    """Refuse, before anything is written, a database file or folder that may not be written."""
    if file.is_file() and not faults.writable(file):
        raise faults.read_only_file(file, shown)
    if file.parent.is_dir() and not faults.writable(file.parent):
        raise faults.unwritable_folder(file.parent, shown)


def _read_only_url(parsed: URL, file: Path) -> URL:
    """A URL that reads `file` without creating anything beside it (for a folder we may not write).

    SQLite needs its -shm file to read a WAL database; where the folder refuses it and no -wal file
    holds unmerged writes, ``immutable=1`` reads the file as it is, without locks or side files.
    """
    if file.is_file() and not Path(f"{file}-wal").exists() and not faults.writable(file.parent):
        return parsed.set(database=f"file:{quote(str(file))}?immutable=1", query={"uri": "true"})
    return parsed


def open_database(url: str | None = None, *, migrate: bool = True, write: bool = True) -> Engine:
    """Open (creating if needed) and, when behind, upgrade the database; return its engine.

    ``write=False`` is for callers that only read (``journeys list``, ``stats``, ``export``…): a
    database whose schema is current is not written at all, so reading never waits for, nor
    blocks, another process that is writing, and works on a read-only file. A schema that is
    behind (an older app wrote it, or the file is new) is upgraded first, which takes the write
    lock like any writer; on a read-only file that is refused with a message saying so.

    ``write=True`` (the default) also refuses, before anything is written, a read-only database
    file or a folder that may not be written. A new SQLite file is created 0600 in folders
    created 0700.

    Raises StoreError if the URL is malformed, its driver is not installed, the folder cannot be
    created or written, the file is not a database, or the database belongs to a newer version of
    the app; its subclass faults.DatabaseUnavailable when the database is busy, read-only or full
    (also later, from any statement on the returned engine).
    """
    raw = resolve_database_url(url)
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a non-numeric port
        raise StoreError(f"{_redact(raw)!r} is not a valid database URL or path. {_HINT}") from exc
    shown = parsed.render_as_string(hide_password=True)

    file = _sqlite_file(parsed)
    if file is not None:
        if file.is_dir():
            raise StoreError(f"Cannot open the database {shown}: {file} is a folder, not a database file. {_HINT}")
        _create_private(file, shown)
        if write:
            _check_writable(file, shown)
        else:
            parsed = _read_only_url(parsed, file)

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
    _install_lock_timeout(engine)
    faults.install(engine, shown)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if migrate:
            _bring_up_to_date(engine, file, shown, write)
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


def _install_lock_timeout(engine: Engine) -> None:
    """PostgreSQL: a writer waits for another's locks as long as SQLite's busy timeout, then fails with
    SQLSTATE 55P03, which the store reports as busy (app/store/faults.py), instead of waiting forever."""
    if engine.dialect.name != "postgresql":
        return

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True      # a SET outside any transaction lasts for the session
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {sqlite_hooks.busy_timeout_ms()}")
        finally:
            dbapi_connection.autocommit = autocommit

    event.listen(engine, "connect", _on_connect)


def _bring_up_to_date(engine: Engine, file: Path | None, shown: str, write: bool) -> None:
    """Upgrade the schema only when it is behind: a current one is not touched (no write lock)."""
    state = schema_state(engine)
    if state == "current":
        return
    if state == "newer":
        upgrade(engine)                 # raises the "written by a newer version" StoreError
        return
    if not write and file is not None:
        if file.is_file() and not faults.writable(file) or not faults.writable(file.parent):
            raise faults.DatabaseReadOnly(
                f"the database {shown} was written by an older version of Journey Studio and must be "
                "upgraded before it can be read, which needs write access; nothing was changed. Make it "
                "writable, or open a copy of it with --db")
    upgrade(engine)

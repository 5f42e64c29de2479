"""What a database fault means for the user: busy, read-only, unwritable folder, disk full.

The drivers report these in words that are easy to misread ("attempt to write a
readonly database" for a folder SQLite cannot create its journal in, "unable to
open database file" for a permission problem), and the old CLI blamed permissions
or corruption for a database that was merely busy. :func:`install` hooks the
engine's ``handle_error`` event so that each such fault leaves the store as a
:class:`DatabaseUnavailable` (a :class:`StoreError`) with one line: what happened,
which database, what to do. A transaction that fails this way has been rolled
back, so the message can say that nothing of it was written.

Sources: SQLite result codes (https://www.sqlite.org/rescode.html; Python 3.11's
``sqlite3`` errors carry ``sqlite_errorcode``) and PostgreSQL's SQLSTATE codes
(https://www.postgresql.org/docs/current/errcodes-appendix.html).
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.engine.url import URL

from app.store.errors import StoreError
from app.store.sqlite_hooks import busy_timeout_ms

BUSY = "the database is busy (another Journey Studio process is writing); try again"
"""The start of the one line for a database whose write lock another process holds too long."""

# SQLite primary result codes (the low byte of the extended code).
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 13, 14

# PostgreSQL SQLSTATEs.
_PG_BUSY = {"55P03": "a lock is held", "40P01": "a deadlock with another writer"}
_PG_FULL = {"53100", "53000"}                         # disk_full, insufficient_resources
_PG_READ_ONLY = {"25006": "the server or session is read-only",
                 "42501": "the database user may not write to it"}


class DatabaseUnavailable(StoreError):
    """The database cannot be used right now, or not for writing; the command changed nothing more."""


class DatabaseBusy(DatabaseUnavailable):
    """Another process held the write lock for longer than we wait."""


class DatabaseReadOnly(DatabaseUnavailable):
    """The file, its folder, its file system or the server refuses writes."""


class DiskFull(DatabaseUnavailable):
    """The disk (or the database's size limit) is full."""


def writable(path: Path) -> bool:
    """True when this process may write `path` (a file or a folder).

    Write permission is judged by the mode bits as well as by ``os.access``: an
    administrator (root) may write anything, but a file or folder whose owner
    removed every write bit was made read-only on purpose, and we treat it so.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    return os.access(path, os.W_OK)


def read_only_file(path: Path, shown: str) -> DatabaseReadOnly:
    """The error for a database file this process may not write (`shown`: the database as named)."""
    return DatabaseReadOnly(
        f"the database {shown} is read-only (its file permissions do not allow writing); nothing was changed. "
        f"Make it writable (chmod u+w '{path}'), or open a copy of it with --db")


def unwritable_folder(folder: Path, shown: str) -> DatabaseReadOnly:
    """The error for a database whose folder may not be written: SQLite creates -wal and -shm there."""
    return DatabaseReadOnly(
        f"cannot write in the folder {folder}, which holds the database {shown} (SQLite keeps its journal "
        f"files beside the database); nothing was changed. Make the folder writable, or pass another "
        f"location with --db")


def _disk_full(shown: str) -> DiskFull:
    return DiskFull(
        f"the disk holding the database {shown} is full; the step being written was undone and everything "
        f"saved before it is intact. Free some space and run the command again")


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if database in ("", ":memory:"):
        return None
    if database.startswith("file:"):       # a URI: file:/path%20with%20spaces?mode=ro
        database = unquote(database[5:].split("?", 1)[0])
    return Path(database)


def _on_read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1024 * 1024
    except OSError:
        return False


def _explain_sqlite(error: Any, url: URL, shown: str) -> DatabaseUnavailable | None:
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    primary = code & 0xFF
    file = _sqlite_file(url)
    folder = file.parent if file is not None else None
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseBusy(f"{BUSY} (waited {busy_timeout_ms() / 1000:g} s for {shown})")
    if primary == _SQLITE_FULL:
        return _disk_full(shown)
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_CANTOPEN, _SQLITE_IOERR):
        if file is not None and folder is not None:
            if _on_read_only_file_system(folder):
                return DatabaseReadOnly(
                    f"the database {shown} is on a read-only file system; nothing was changed. "
                    "Copy it to a writable disk and pass that copy with --db")
            if file.exists() and not os.access(file, os.R_OK):
                return DatabaseUnavailable(
                    f"cannot read the database {shown}: its file permissions do not allow this user to "
                    f"read it. Run as its owner, or pass another database with --db")
            if file.exists() and not writable(file):
                return read_only_file(file, shown)
            if folder.is_dir() and not writable(folder):
                return unwritable_folder(folder, shown)
            if primary == _SQLITE_IOERR and _nearly_full(folder):
                return _disk_full(shown)
        if primary == _SQLITE_READONLY:
            return DatabaseReadOnly(f"the database {shown} was opened read-only; nothing was changed")
        if primary == _SQLITE_IOERR:
            return DatabaseUnavailable(
                f"cannot read or write the database {shown}: the disk reported an error ({error}); the step "
                "being written was undone. Check the disk, then run the command again")
    return None


def _explain_postgres(error: Any, shown: str) -> DatabaseUnavailable | None:
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate in _PG_BUSY:
        return DatabaseBusy(f"{BUSY} ({_PG_BUSY[sqlstate]} on {shown})")
    if sqlstate in _PG_FULL:
        return _disk_full(shown)
    if sqlstate in _PG_READ_ONLY:
        return DatabaseReadOnly(f"the database {shown} refuses writes ({_PG_READ_ONLY[sqlstate]}); "
                                "nothing was changed. Ask its administrator, or pass another database with --db")
    return None


def explain(error: BaseException, url: URL, shown: str | None = None) -> DatabaseUnavailable | None:
    """The user's one line for a driver error (the DBAPI exception), or None when it is none of ours.
    `shown`: the database as the user named it (default: `url` without its password)."""
    shown = shown or url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        return _explain_sqlite(error, url, shown)
    if url.get_backend_name() == "postgresql":
        return _explain_postgres(error, shown)
    return None


def install(engine: Engine, shown: str | None = None) -> None:
    """Turn the engine's busy / read-only / disk-full driver errors into DatabaseUnavailable; `shown`
    names the database in messages (default: the engine's URL without its password)."""
    url = engine.url

    def _handle(context: ExceptionContext) -> None:
        original = context.original_exception
        found = explain(original, url, shown)
        if found is not None:
            raise found from original

    event.listen(engine, "handle_error", _handle)

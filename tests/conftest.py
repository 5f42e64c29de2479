"""Shared fixtures. Qt runs offscreen; every database is a real file under tmp_path.

Set JOURNEYS_TEST_PG_URL (e.g. postgresql+psycopg://postgres:pw@127.0.0.1/journeys_test)
to run the database tests against PostgreSQL as well; `.ci/run` does when it can
start a server. The schema there is wiped before and after each test, so point it
at a throwaway database.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PG_URL = os.environ.get("JOURNEYS_TEST_PG_URL")

_STATUS: list[int] = []     # the session's exit status, once pytest has it


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _STATUS.append(int(exitstatus))


def _leave_before_qt_statics() -> None:
    """Ends the test process with pytest's status once Python's exit handlers have run. Without it,
    a Qt Gui static destroyed by the C library's exit handlers, after Python is finalised, can call
    into a PySide wrapper with no thread state (Shiboken::Errors::Stash, tstate NULL: a SIGSEGV after
    every test passed, seen with PySide6 6.11 after the whole of tests/ui). The app itself quits
    cleanly (`main.py --screenshot` returns 0)."""
    if _STATUS and "PySide6.QtCore" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_STATUS[-1])


atexit.register(_leave_before_qt_statics)   # registered first, so it runs after every later handler


def _wipe_postgres(url: str) -> None:
    from app.store.db import open_database

    engine = open_database(url, migrate=False)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where this test's log file goes (never the user's own); handlers added meanwhile are closed after."""
    path = tmp_path / "logs" / "journeys.log"
    monkeypatch.setenv("JOURNEYS_LOG_FILE", str(path))
    logger = logging.getLogger("app")
    before = list(logger.handlers)
    yield path
    for handler in [h for h in logger.handlers if h not in before]:
        handler.close()
        logger.removeHandler(handler)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A SQLite database file that does not exist yet (nor does its folder)."""
    return f"sqlite:///{tmp_path / 'data' / 'journeys.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set JOURNEYS_TEST_PG_URL to test PostgreSQL"))])
def any_url(request: pytest.FixtureRequest, db_url: str) -> Iterator[str]:
    """An empty database: a SQLite file always, PostgreSQL when configured."""
    if request.param == "sqlite":
        yield db_url
        return
    assert PG_URL
    _wipe_postgres(PG_URL)
    yield PG_URL
    _wipe_postgres(PG_URL)


@pytest.fixture(scope="session")
def app_fonts(qapp):  # type: ignore[no-untyped-def]
    """The app's shipped fonts, installed as `make run` does (Qt tests ask for it in their conftest)."""
    from app.ui.typography import install_app_fonts

    return install_app_fonts(qapp)

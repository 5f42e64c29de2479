"""Opening and writing a database that is busy, read-only, in an unwritable folder or on a full disk:
one clear StoreError each, nothing half-written; reading never takes the write lock; new files are
the user's alone. Real SQLite files (and PostgreSQL where it applies)."""
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.store import faults, migrate
from app.store.app_settings import business_timezone, set_business_timezone
from app.store.db import open_database
from app.store.errors import StoreError
from app.store.journeys import JourneyStore
from app.store.tables import app_settings

from ..conftest import PG_URL

BUSY_LINE = "the database is busy (another Journey Studio process is writing); try again"


@pytest.fixture(autouse=True)
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT", "0.2")


def _file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _writer_holding_the_lock(path: Path) -> Iterator[None]:
    """Another connection in the middle of a write transaction (as the engine or an import would be)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE held_by_another_writer (x)")      # uncommitted work, whatever the schema
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _existing(db_url: str, make_doc) -> Path:
    engine = open_database(db_url)
    JourneyStore(engine).create(make_doc())
    set_business_timezone(engine, "Europe/Berlin")
    engine.dispose()
    return _file(db_url)


# -- readers never take the write lock ------------------------------------------------------------


def test_reading_while_another_process_writes_succeeds(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    with _writer_holding_the_lock(path):
        reader = open_database(db_url, write=False)
        try:
            assert [r.name for r in JourneyStore(reader).list()] == ["Welcome"]
            assert business_timezone(reader) == "Europe/Berlin"
        finally:
            reader.dispose()


def test_opening_a_current_database_runs_no_write_transaction(db_url: str, make_doc) -> None:
    """Neither reading nor writing callers touch a schema that is already current."""
    _existing(db_url, make_doc)
    for write in (False, True):
        begun: list[str] = []
        real_upgrade = migrate.upgrade

        def counting_upgrade(engine, revision="head"):  # type: ignore[no-untyped-def]
            begun.append(revision)
            real_upgrade(engine, revision)

        import app.store.db as db_module

        original = db_module.upgrade
        db_module.upgrade = counting_upgrade
        try:
            open_database(db_url, write=write).dispose()
        finally:
            db_module.upgrade = original
        assert begun == []


def test_a_writer_waits_then_says_the_database_is_busy(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    engine = open_database(db_url)
    try:
        with _writer_holding_the_lock(path):
            with pytest.raises(faults.DatabaseBusy) as caught:
                set_business_timezone(engine, "Europe/Paris")
        assert str(caught.value).startswith(BUSY_LINE)
        assert "\n" not in str(caught.value)
        assert business_timezone(engine) == "Europe/Berlin"          # nothing changed
        set_business_timezone(engine, "Europe/Paris")                 # and it works once the lock is free
        assert business_timezone(engine) == "Europe/Paris"
    finally:
        engine.dispose()


def test_an_old_schema_is_upgraded_by_a_reader_when_it_can_take_the_lock(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    engine = open_database(db_url)
    migrate.downgrade(engine, "0007")
    engine.dispose()
    with _writer_holding_the_lock(path):
        with pytest.raises(faults.DatabaseBusy):
            open_database(db_url, write=False)
    reader = open_database(db_url, write=False)
    try:
        assert migrate.current_revision(reader) == migrate.head_revision()
    finally:
        reader.dispose()


def test_an_old_schema_in_a_read_only_file_says_it_needs_write_access(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    engine = open_database(db_url)
    migrate.downgrade(engine, "0007")
    engine.dispose()
    before = _digest(path)
    path.chmod(0o444)
    with pytest.raises(faults.DatabaseReadOnly, match="older version of Journey Studio.*write access"):
        open_database(db_url, write=False)
    assert _digest(path) == before


@pytest.mark.skipif(not PG_URL, reason="set JOURNEYS_TEST_PG_URL to test PostgreSQL")
def test_postgresql_reading_in_a_read_only_session_works_when_the_schema_is_current(make_doc) -> None:
    from ..conftest import _wipe_postgres

    assert PG_URL
    _wipe_postgres(PG_URL)
    try:
        engine = open_database(PG_URL)
        JourneyStore(engine).create(make_doc())
        engine.dispose()
        # A session that refuses every write: opening for reading must not need one.
        read_only = sa.engine.make_url(PG_URL).update_query_dict(
            {"options": "-c default_transaction_read_only=on"})
        reader = open_database(read_only.render_as_string(hide_password=False), write=False)
        try:
            assert [r.name for r in JourneyStore(reader).list()] == ["Welcome"]
            with pytest.raises(faults.DatabaseReadOnly, match="refuses writes"):
                set_business_timezone(reader, "Europe/Paris")
        finally:
            reader.dispose()
    finally:
        _wipe_postgres(PG_URL)


# -- read-only file, unwritable folder ------------------------------------------------------------


def test_a_read_only_file_is_refused_for_writing_and_left_intact(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    before = _digest(path)
    path.chmod(0o444)
    with pytest.raises(faults.DatabaseReadOnly) as caught:
        open_database(db_url)
    assert "is read-only" in str(caught.value) and str(path) in str(caught.value)
    reader = open_database(db_url, write=False)      # reading it still works
    try:
        assert [r.name for r in JourneyStore(reader).list()] == ["Welcome"]
    finally:
        reader.dispose()
    assert _digest(path) == before


def test_a_database_opened_read_only_by_url_says_so_when_written(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    engine = open_database(f"sqlite:///file:{path}?mode=ro&uri=true", write=False)
    try:
        with pytest.raises(faults.DatabaseReadOnly, match="read-only"):
            set_business_timezone(engine, "Europe/Paris")
    finally:
        engine.dispose()


def test_a_folder_that_may_not_be_written_is_named(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    before = _digest(path)
    path.parent.chmod(0o555)
    try:
        with pytest.raises(faults.DatabaseReadOnly, match="cannot write in the folder") as caught:
            open_database(db_url)
        assert str(path.parent) in str(caught.value)
        with pytest.raises(faults.DatabaseReadOnly, match="cannot write in the folder"):
            open_database(str(path.parent / "new.sqlite3"))
        assert not (path.parent / "new.sqlite3").exists()
    finally:
        path.parent.chmod(0o700)
    assert _digest(path) == before


# -- disk full ----------------------------------------------------------------------------------


def _limit_pages(engine: sa.engine.Engine, pages: int) -> None:
    """SQLite's max_page_count: the database cannot grow past it, as on a full disk."""
    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    engine.dispose()


def test_a_full_disk_stops_the_write_with_one_line_and_keeps_what_was_saved(db_url: str, make_doc) -> None:
    path = _existing(db_url, make_doc)
    engine = open_database(db_url)
    try:
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        _limit_pages(engine, pages + 2)
        store = JourneyStore(engine)
        with pytest.raises(faults.DiskFull) as caught:
            for i in range(200):
                store.create({**make_doc(f"{i:08d}-1111-4111-8111-111111111111", f"Journey {i}"),
                              "description": "x" * 2000})
        assert "is full" in str(caught.value) and "\n" not in str(caught.value)
        saved = [r.name for r in store.list()]
        assert "Welcome" in saved and len(saved) < 201
    finally:
        engine.dispose()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    check.close()


# -- files private to the user ---------------------------------------------------------------------


def test_a_new_database_and_its_folders_are_the_users_alone(tmp_path: Path) -> None:
    old = os.umask(0)              # even with a permissive umask
    try:
        path = tmp_path / "shop" / "data" / "journeys.sqlite3"
        engine = open_database(str(path))
        with engine.begin() as conn:      # a write: SQLite creates -wal and -shm beside the file
            conn.execute(app_settings.insert().values(key="k", value="v"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        engine.dispose()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert modes["journeys.sqlite3-wal"] == 0o600 and modes["journeys.sqlite3-shm"] == 0o600
    assert stat.S_IMODE((tmp_path / "shop").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    open_database(str(tmp_path / "journeys.sqlite3")).dispose()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "journeys.sqlite3").stat().st_mode) == 0o600


def test_every_fault_is_a_store_error() -> None:
    for kind in (faults.DatabaseBusy, faults.DatabaseReadOnly, faults.DiskFull):
        assert issubclass(kind, StoreError)


@pytest.mark.skipif(not PG_URL, reason="set JOURNEYS_TEST_PG_URL to test PostgreSQL")
def test_postgresql_a_writer_blocked_by_another_says_busy_and_readers_still_read(make_doc) -> None:
    from ..conftest import _wipe_postgres

    assert PG_URL
    _wipe_postgres(PG_URL)
    try:
        engine = open_database(PG_URL)
        set_business_timezone(engine, "Europe/Berlin")
        JourneyStore(engine).create(make_doc())
        other = open_database(PG_URL)
        try:
            with other.begin() as holding:      # another process in the middle of changing the same row
                holding.execute(app_settings.update().values(value="Asia/Tokyo"))
                with pytest.raises(faults.DatabaseBusy) as caught:
                    set_business_timezone(engine, "Europe/Paris")
                assert str(caught.value).startswith(BUSY_LINE)
                reader = open_database(PG_URL, write=False)
                try:
                    assert business_timezone(reader) == "Europe/Berlin"
                    assert [r.name for r in JourneyStore(reader).list()] == ["Welcome"]
                finally:
                    reader.dispose()
                holding.rollback()
        finally:
            other.dispose()
        assert business_timezone(engine) == "Europe/Berlin"
        engine.dispose()
    finally:
        _wipe_postgres(PG_URL)

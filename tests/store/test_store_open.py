"""Finding and opening the database: locations, SQLite settings, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.store.db import default_database_url, open_database, resolve_database_url
from app.store.errors import StoreError

# -- where the database is ----------------------------------------------------


def test_explicit_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_DB", "postgresql://shop@db/journeys")
    assert resolve_database_url("sqlite:////srv/explicit.sqlite3") == "sqlite:////srv/explicit.sqlite3"
    assert resolve_database_url() == "postgresql://shop@db/journeys"
    monkeypatch.delenv("JOURNEYS_DB")
    assert resolve_database_url() == default_database_url()


def test_blank_environment_variable_falls_back_to_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_DB", "  ")
    assert resolve_database_url() == default_database_url()


def test_plain_path_becomes_absolute_sqlite_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = resolve_database_url("shop/journeys.sqlite3")
    assert url == f"sqlite:///{tmp_path.resolve() / 'shop' / 'journeys.sqlite3'}"
    monkeypatch.setenv("JOURNEYS_DB", str(tmp_path / "env.sqlite3"))
    assert resolve_database_url() == f"sqlite:///{tmp_path.resolve() / 'env.sqlite3'}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_DATA_HOME is Linux-only")
def test_default_lives_in_the_user_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_url() == f"sqlite:///{tmp_path.resolve()}/JourneyStudio/journeys.sqlite3"


def test_open_without_arguments_uses_journeys_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "nested" / "folder" / "shop.sqlite3"
    monkeypatch.setenv("JOURNEYS_DB", str(target))
    engine = open_database()
    engine.dispose()
    assert target.is_file()


# -- SQLite settings ------------------------------------------------------------


def test_every_sqlite_connection_uses_wal_and_foreign_keys(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        with engine.connect() as one, engine.connect() as two:  # two pooled connections
            for conn in (one, two):
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_rolled_back_savepoint_undoes_only_its_own_work(db_url: str) -> None:
    """Savepoints nest inside the transaction (plain sqlite3 gets this wrong)."""
    engine = open_database(db_url)
    catalog = sa.table("attribute_catalog", sa.column("scope"), sa.column("name"))
    try:
        with engine.begin() as conn:
            conn.execute(catalog.insert().values(scope="contact", name="kept"))
            with conn.begin_nested() as inner:
                conn.execute(catalog.insert().values(scope="contact", name="dropped"))
                inner.rollback()
        with engine.begin() as conn:
            with conn.begin_nested():
                conn.execute(catalog.insert().values(scope="contact", name="outer-rolled-back"))
            conn.rollback()
        with engine.connect() as conn:
            assert conn.execute(sa.select(catalog.c.name)).scalars().all() == ["kept"]
    finally:
        engine.dispose()


# -- errors a user can act on ---------------------------------------------------


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    url = f"sqlite:///{blocker / 'journeys.sqlite3'}"
    with pytest.raises(StoreError) as caught:
        open_database(url)
    assert url in str(caught.value)
    assert "JOURNEYS_DB" in str(caught.value)


def test_folder_given_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="Cannot open the database") as caught:
        open_database(str(tmp_path))
    assert str(tmp_path.resolve()) in str(caught.value)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.sqlite3"
    notes.write_bytes(b"shopping list: eggs, milk, flour\n" * 200)
    with pytest.raises(StoreError, match="notes.sqlite3"):
        open_database(str(notes))
    assert notes.read_bytes().startswith(b"shopping list")


@pytest.mark.parametrize("url", ["bad url://x", "postgresql://shop@db:port/journeys"])
def test_malformed_url(url: str) -> None:
    with pytest.raises(StoreError, match="not a valid database URL"):
        open_database(url)


def test_unknown_database_kind() -> None:
    with pytest.raises(StoreError, match=r"nosuchdb://host/x: no driver"):
        open_database("nosuchdb://host/x")


def test_unreachable_server_names_url_but_hides_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_database("postgresql://shop:s3cret@127.0.0.1:1/journeys")
    message = str(caught.value)
    assert "postgresql://shop:***@127.0.0.1:1/journeys" in message
    assert "s3cret" not in message


def test_unparseable_url_hides_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_database("postgresql://shop:s3cret@db:port/journeys")
    assert "s3cret" not in str(caught.value)

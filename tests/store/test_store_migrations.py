"""Migrations build exactly the schema the code expects, and only once."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from app.store import tables
from app.store.db import open_database
from app.store.errors import StoreError
from app.store.journeys import JourneyStore
from app.store.migrate import current_revision, downgrade, head_revision, upgrade


def _diff(engine: Engine, metadata: sa.MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def test_empty_database_gets_every_table(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
        assert names == set(tables.metadata.tables) | {"alembic_version"}
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_matches_tables_exactly(engine: Engine) -> None:
    assert _diff(engine, tables.metadata) == []


def test_schema_comparison_notices_drift(engine: Engine) -> None:
    """Guard for the test above: a column missing from the migration must show up."""
    drifted = sa.MetaData()
    for table in tables.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["contacts"].append_column(sa.Column("locale", sa.String(16)))
    diffs = _diff(engine, drifted)
    assert any(d[0] == "add_column" and d[3].name == "locale" for d in diffs)


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    downgrade(engine, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None
    upgrade(engine)
    assert _diff(engine, tables.metadata) == []


def test_opening_twice_keeps_data_and_revision(db_url: str, make_doc) -> None:
    first = open_database(db_url)
    JourneyStore(first).create(make_doc())
    first.dispose()

    second = open_database(db_url)
    try:
        assert [j.name for j in JourneyStore(second).list()] == ["Welcome"]
        with second.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (head_revision(),)
            ]
    finally:
        second.dispose()


def test_failed_migration_leaves_the_database_untouched(tmp_path: Path) -> None:
    """A migration that fails halfway must not leave half a schema behind."""
    path = tmp_path / "clash.sqlite3"
    with sqlite3.connect(path) as raw:  # a stray table the last CREATE will collide with
        raw.execute("CREATE TABLE attribute_catalog (x INTEGER)")
    with pytest.raises(StoreError, match="clash.sqlite3"):
        open_database(str(path))
    with sqlite3.connect(path) as raw:
        left = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert left == {"attribute_catalog"}


def test_database_from_a_newer_app_is_refused(db_url: str) -> None:
    engine = open_database(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer version of Journey Studio"):
        open_database(db_url)


def test_migrate_false_leaves_a_new_database_empty(db_url: str) -> None:
    engine = open_database(db_url, migrate=False)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("paused", [True, False])
def test_table_rebuild_during_migration_keeps_child_rows(db_url: str, make_doc, paused: bool) -> None:
    """SQLite ALTERs rebuild the table (copy, DROP, rename); the DROP must not cascade.

    The upgrade path pauses foreign keys for this; the unpaused case shows
    what would otherwise happen to every published version.
    """
    from alembic.operations import Operations

    from app.store import sqlite_hooks

    engine = open_database(db_url)
    store = JourneyStore(engine)
    journey_id = store.create(make_doc()).id
    store.publish(journey_id)
    try:
        with engine.connect() as conn:
            pause = sqlite_hooks.foreign_keys_paused(conn) if paused else contextlib.nullcontext()
            with pause, conn.begin():
                ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
                with ops.batch_alter_table("journeys", recreate="always") as batch:
                    batch.add_column(sa.Column("colour", sa.String(16)))
                sqlite_hooks.check_foreign_keys(conn)
        assert store.versions(journey_id) == ([1] if paused else [])
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()

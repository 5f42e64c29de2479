"""Small dialect-neutral SQL helpers shared by the store and the engine."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, Table, case, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert

from app.store.errors import StoreError
from app.store.sqlite_hooks import WRITE_INTENT


def insert_or_ignore(
    table: Table, dialect_name: str, conflict_columns: Sequence[str] | None = None
) -> Insert:
    """An INSERT that silently skips rows that collide with an existing key.

    ``conflict_columns`` names the unique key whose collision is expected
    (e.g. ``["idempotency_key"]``); any other constraint violation still
    raises. Pass ``conn.dialect.name`` or ``engine.dialect.name``.

    To learn which rows went in, add ``.returning(table.c.key)``: it yields
    only the inserted rows, also for a list of rows. Do not use ``rowcount``
    (-1 on PostgreSQL) or ``inserted_primary_key`` (stale on SQLite when the
    row was skipped).
    """
    elements = list(conflict_columns) if conflict_columns else None
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=elements)
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=elements)
    raise StoreError(f"Database type {dialect_name!r} is not supported; use SQLite or PostgreSQL.")


def insert_adding(
    table: Table, dialect_name: str, key_columns: Sequence[str], add_columns: Sequence[str]
) -> Insert:
    """An INSERT that, where a row with the same key exists, adds to its ``add_columns`` instead.

    For counters: concurrent writers each add their own amounts, and the
    database does the sum under its row lock. Bind values with ``.values()``.
    """
    statement: sqlite.Insert | postgresql.Insert
    if dialect_name == "sqlite":
        statement = sqlite.insert(table)
    elif dialect_name == "postgresql":
        statement = postgresql.insert(table)
    else:
        raise StoreError(f"Database type {dialect_name!r} is not supported; use SQLite or PostgreSQL.")
    sums = {c: table.c[c] + statement.excluded[c] for c in add_columns}
    return statement.on_conflict_do_update(
        index_elements=list(key_columns),
        set_={c: _saturated(table.c[c], total) for c, total in sums.items()},
    )


def numeric_ceiling(column: ColumnElement[Any]) -> Decimal | None:
    """The largest value a Numeric(p, s) column holds (Numeric(14, 2): 999999999999.99), else None."""
    kind = column.type
    if isinstance(kind, Numeric) and kind.precision is not None and kind.scale is not None:
        return Decimal(10) ** (kind.precision - kind.scale) - Decimal(10) ** -kind.scale
    return None


def _saturated(column: ColumnElement[Any], total: ColumnElement[Any]) -> ColumnElement[Any]:
    """`total`, held at the column's ceiling: PostgreSQL refuses a sum past Numeric(p, s) ("numeric
    field overflow") where SQLite would keep it, so both keep the ceiling instead."""
    ceiling = numeric_ceiling(column)
    if ceiling is None:
        return total
    return case((total > ceiling, literal(ceiling, column.type)), else_=total)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that will write: commits on success.

    Same as ``engine.begin()`` except that on SQLite the write lock is taken at
    BEGIN, so a read-then-write transaction waits for other writers instead
    of failing halfway with "database is locked".
    """
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_INTENT: True})
        with conn.begin():
            yield conn

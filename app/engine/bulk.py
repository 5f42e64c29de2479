"""A lean executemany for the engine's hot bulk writes (log rows, run updates, outbox rows).

SQLAlchemy Core spends more time per row on bookkeeping than SQLite spends
storing it: at ~70,000 log rows per 10,000 contacts that was the largest single
cost of a simulation. `Many` compiles its statement once per dialect (so the SQL
stays dialect-neutral), converts each row with the columns' own bind processors
(the same UTC timestamps and JSON SQLAlchemy would write), and hands the driver
the whole list in one `exec_driver_sql`.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Executable


class Many:
    def __init__(self, build: Callable[[str], Executable]) -> None:
        """`build(dialect_name)` returns a statement whose every parameter is a named bindparam."""
        self._build = build
        self._prepared: dict[str, tuple[str, list[tuple[str, Any]] | None, dict[str, Any]]] = {}

    def _prepare(self, dialect: Dialect) -> tuple[str, list[tuple[str, Any]] | None, dict[str, Any]]:
        compiled = self._build(dialect.name).compile(dialect=dialect)
        processors = dict(compiled._bind_processors)   # the processors SQLAlchemy itself would apply
        order = [(name, processors.get(name)) for name in compiled.positiontup] if compiled.positional else None
        prepared = (compiled.string, order, processors)
        self._prepared[dialect.name] = prepared
        return prepared

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        sql, order, processors = self._prepared.get(conn.dialect.name) or self._prepare(conn.dialect)
        if order is not None:
            params: list[Any] = [tuple(p(row[k]) if p else row[k] for k, p in order) for row in rows]
        else:
            params = [{k: (processors[k](v) if k in processors else v) for k, v in row.items()} for row in rows]
        conn.exec_driver_sql(sql, params)

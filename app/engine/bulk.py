"""A lean executemany for the engine's hot bulk writes (log rows, run updates, outbox rows).

SQLAlchemy Core spends more time per row on bookkeeping than SQLite spends
storing it: at ~70,000 log rows per 10,000 contacts that was the largest single
cost of a simulation. `Many` compiles its statement once per dialect (so the SQL
stays dialect-neutral), converts each row with the columns' own bind processors
(the same UTC timestamps and JSON SQLAlchemy would write), and hands the driver
the whole list in one `exec_driver_sql`.

Only public SQLAlchemy API is used: the compiled statement's `binds` and
`positiontup`, and each bind type's `dialect_impl(dialect).bind_processor(dialect)`
(tests/engine/test_bulk.py proves the rows read back the same as through Core).
Per row, a converter generated once per statement builds the parameter tuple
(or dict) in one expression: NULLs skip their processor when it maps None to
None, and UTC timestamps (an instant has exactly one stored form) are converted
once per distinct value per call — a batch's rows share a handful of times.
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.store.types import UTCDateTime

Row = dict[str, Any]
Converter = Callable[[Row], Any]


class Many:
    def __init__(self, build: Callable[[str], ClauseElement]) -> None:
        """`build(dialect_name)` returns a statement whose every parameter is a named bindparam."""
        self._build = build
        self._prepared: dict[str, tuple[str, Converter, list[dict[Any, Any]]]] = {}

    def _prepare(self, dialect: Dialect) -> tuple[str, Converter, list[dict[Any, Any]]]:
        compiled = self._build(dialect.name).compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):       # DDL compiles otherwise: not a statement with rows
            raise TypeError(f"Many runs SQL statements with parameters, not {type(compiled).__name__}")
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        namespace: dict[str, Any] = {}
        instants: dict[Any, Any] = {}    # one memo for every UTC timestamp column: an instant has one stored form
        memos: list[dict[Any, Any]] = []
        parts = []
        for i, name in enumerate(names):
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if not bind.required:     # a literal inside the statement (`order_count + 1`): the same every row
                value = bind.effective_value
                namespace[f"c{i}"] = processor(value) if processor is not None else value
                parts.append(f"c{i}")
                continue
            get = f"r[{name!r}]"
            if processor is None:
                parts.append(get)
                continue
            namespace[f"p{i}"] = processor
            call = f"p{i}(v)"
            if isinstance(bind.type, UTCDateTime):
                if not memos:
                    memos.append(instants)
                namespace["m"] = instants
                call = f"(m.get(v) or m.setdefault(v, p{i}(v)))"   # a stored timestamp is never falsy
            parts.append(f"(None if (v := {get}) is None else {call})" if _none_to_none(processor)
                         else f"p{i}({get})")
        if compiled.positional:
            body = "(" + "".join(f"{p}, " for p in parts) + ")"
        else:
            body = "{" + ", ".join(f"{name!r}: {p}" for name, p in zip(names, parts)) + "}"
        convert = eval(f"lambda r: {body}", namespace)   # noqa: S307 - built from the statement's own bind names
        prepared = (compiled.string, convert, memos)
        self._prepared[dialect.name] = prepared
        return prepared

    def run(self, conn: Connection, rows: list[Row]) -> None:
        if not rows:
            return
        sql, convert, memos = self._prepared.get(conn.dialect.name) or self._prepare(conn.dialect)
        try:
            params = list(map(convert, rows))
        finally:
            for memo in memos:       # per call: bounded, and nothing outlives the batch
                memo.clear()
        conn.exec_driver_sql(sql, params)


def _none_to_none(processor: Callable[[Any], Any]) -> bool:
    try:
        return processor(None) is None
    except Exception:  # noqa: BLE001 - a processor that refuses None must still see it
        return False

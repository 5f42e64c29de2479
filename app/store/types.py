"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time-zone-aware timestamp and PostgreSQL returns values in the
session time zone; the engine compares due times across both, so every
timestamp is stored as UTC and comes back as an aware UTC ``datetime``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime``; naive values are refused, never guessed at.

    A naive value is ambiguous (local time? UTC?) and a wrong guess shifts
    every wait in a journey by hours, so it is an error at the boundary.
    SQLite stores the naive UTC wall time (text sorts correctly);
    PostgreSQL stores ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} has no time zone; "
                "pass an aware value such as datetime.now(timezone.utc)"
            )
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=timezone.utc)
        return stored.astimezone(timezone.utc)


def _json_doc() -> TypeEngine[Any]:
    # none_as_null: Python None is SQL NULL (so NOT NULL columns refuse it),
    # never the JSON literal 'null'.
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


JSONDoc: TypeEngine[Any] = _json_doc()
"""A JSON document column: JSON on SQLite, JSONB (indexable) on PostgreSQL."""

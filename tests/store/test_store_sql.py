"""Dialect-neutral helpers: insert-if-absent for the outbox."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.store.errors import StoreError
from app.store.sql import insert_or_ignore, write_transaction
from app.store.tables import messages

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def _message(key: str, body: str) -> dict:
    return {
        "idempotency_key": key, "contact_id": "c1", "channel": "email", "recipient": "a@example.com",
        "status": "queued", "body_text": body, "created_at": T0,
    }  # fmt: skip


def test_same_idempotency_key_is_stored_once(engine: Engine) -> None:
    """A step retried after a crash must not queue its message twice."""
    statement = insert_or_ignore(messages, engine.dialect.name, ["idempotency_key"])
    with write_transaction(engine) as conn:
        conn.execute(statement, [_message("run1:nodeA", "first"), _message("run1:nodeB", "other")])
    with write_transaction(engine) as conn:  # the retry repeats A and B and adds C
        batch = [_message("run1:nodeA", "retry"), _message("run1:nodeB", "retry"), _message("run1:nodeC", "new")]
        inserted = conn.execute(statement.returning(messages.c.idempotency_key), batch).scalars().all()
    assert inserted == ["run1:nodeC"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(messages.c.idempotency_key, messages.c.body_text).order_by(messages.c.id)).all()
    assert rows == [("run1:nodeA", "first"), ("run1:nodeB", "other"), ("run1:nodeC", "new")]


def test_other_constraint_violations_still_raise(engine: Engine) -> None:
    statement = insert_or_ignore(messages, engine.dialect.name, ["idempotency_key"])
    broken = {**_message("run2:nodeA", "x"), "recipient": None}
    with pytest.raises(IntegrityError):
        with write_transaction(engine) as conn:
            conn.execute(statement, broken)


def test_unsupported_database_is_named() -> None:
    with pytest.raises(StoreError, match="'mysql' is not supported"):
        insert_or_ignore(messages, "mysql")

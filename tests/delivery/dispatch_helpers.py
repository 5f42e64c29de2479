"""What the dispatcher's tests share: a database with queued messages, the clock, the servers."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.delivery.retry import RetryPolicy
from app.engine.clock import VirtualClock
from app.store.db import open_database
from app.store.tables import messages

from .dispatch_channels import open_test_channel
from .dispatch_servers import RecordingHttp, RecordingSmtp

START = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


@pytest.fixture
def db(any_url: str) -> Iterator[Engine]:
    engine = open_database(any_url)
    yield engine
    engine.dispose()


@pytest.fixture
def smtp() -> Iterator[RecordingSmtp]:
    server = RecordingSmtp()
    yield server
    server.close()


@pytest.fixture
def http() -> Iterator[RecordingHttp]:
    server = RecordingHttp()
    yield server
    server.close()


def queue(db: Engine, recipients: list[str], channel: str = "email", at: datetime = START, **values: Any) -> list[int]:
    """Queues one message per recipient, due at `at`; returns their ids."""
    rows = []
    for recipient in recipients:
        key = f"test:{channel}:{recipient}:{values.get('node_id', '')}:{len(rows)}:{at.timestamp()}"
        rows.append({"idempotency_key": key, "channel": channel, "recipient": recipient, "status": "queued",
                     "subject": f"Hello {recipient}", "body_text": f"Hi {recipient}", "scheduled_at": at,
                     "created_at": at, **values})
    with db.begin() as conn:
        conn.execute(messages.insert(), rows)
        found = conn.execute(select(messages.c.id).where(messages.c.idempotency_key.in_(
            [r["idempotency_key"] for r in rows])).order_by(messages.c.id)).scalars().all()
    return list(found)


def rows(db: Engine) -> dict[str, dict[str, Any]]:
    """Every message by recipient."""
    with db.connect() as conn:
        return {r.recipient: dict(r._mapping) for r in conn.execute(select(messages).order_by(messages.c.id))}


def dispatcher(db: Engine, clock: VirtualClock, smtp: RecordingSmtp | None = None, http: RecordingHttp | None = None,
               **config: Any) -> Dispatcher:
    retry = config.pop("retry", RetryPolicy())
    return Dispatcher(db, lambda name: open_test_channel(name, smtp.port if smtp else None, http.url if http else None),
                      config=DispatchConfig(retry=retry, **config), clock=clock)


def later(clock: VirtualClock, **delta: float) -> datetime:
    return clock.advance(**delta) if delta else clock.now()


__all__ = ["START", "db", "dispatcher", "http", "later", "queue", "rows", "smtp", "timedelta"]

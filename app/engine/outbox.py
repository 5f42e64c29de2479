"""The outbox hand-off: queued message rows go to a channel; the row records the result.

Delivery over the network comes in a later issue; until then `RecordingChannel`
keeps what would have been sent, and the row is marked sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from app.store.sql import write_transaction
from app.store.tables import messages

from .bulk import Many
from .clock import Clock
from .counts import Counts, message_metric


class Channel(Protocol):
    def send(self, message: dict[str, Any]) -> str | None:
        """Sends one message; returns an error text, or None when it went out."""


@dataclass
class RecordingChannel:
    """Stores messages instead of sending them (the simulator, tests, and until delivery exists)."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    keep: int = 10_000          # the newest this many, so a long run cannot grow without bound

    def send(self, message: dict[str, Any]) -> str | None:
        self.sent.append(message)
        if len(self.sent) > self.keep:
            del self.sent[: len(self.sent) - self.keep]
        return None


_MARK = Many(lambda _: messages.update().where(messages.c.id == bindparam("mid")).values(
    status=bindparam("status"), sent_at=bindparam("sent_at"), failed_at=bindparam("failed_at"),
    error=bindparam("error")))


# What a channel needs of a queued row: the message and its keys, not the delivery stamps (all empty yet).
_OUTGOING = select(*(c for c in messages.c if c.name not in (
    "sent_at", "delivered_at", "opened_at", "clicked_at", "replied_at", "failed_at", "unsubscribed_at", "error")))


def hand_off(engine: Engine, channel: Channel, clock: Clock, batch_size: int = 500) -> int:
    """Passes every queued message whose time has come to `channel`; returns how many."""
    now = clock.now()
    total = 0
    while True:
        with write_transaction(engine) as conn:
            result = conn.execute(_OUTGOING.where(messages.c.status == "queued", messages.c.scheduled_at <= now)
                                  .order_by(messages.c.scheduled_at, messages.c.id).limit(batch_size))
            keys = list(result.keys())
            rows = result.all()
            updates = []
            counts = Counts()
            for row in rows:
                message = dict(zip(keys, row))
                error = channel.send(message)
                # Virtual time: the message leaves at the moment its step ran.
                at: datetime = message["scheduled_at"] if clock.virtual else now
                updates.append({"mid": message["id"], "status": "failed" if error else "sent",
                                "sent_at": None if error else at, "failed_at": at if error else None,
                                "error": error})
                if error and message["journey_id"] is not None:
                    counts.add(message["journey_id"], message["node_id"], message_metric("failed"), at)
            _MARK.run(conn, sorted(updates, key=lambda u: u["mid"]))   # id order: the B-tree walked forwards
            counts.write(conn)
        total += len(rows)
        if len(rows) < batch_size:
            return total

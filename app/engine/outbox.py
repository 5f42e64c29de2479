"""The outbox hand-off: queued message rows go to a channel; the row records the result.

Delivery over the network comes in a later issue; until then `RecordingChannel`
keeps what would have been sent, and the row is marked sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from app.store.sql import write_transaction
from app.store.tables import contact_channels, messages

from .bulk import Many
from .clock import Clock
from .counts import Counts, message_metric
from .isolation import clean, report


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


_OPTED_OUT = select(contact_channels.c.contact_id, contact_channels.c.channel).where(
    contact_channels.c.contact_id.in_(bindparam("ids", expanding=True)), contact_channels.c.state == "unsubscribed")


def _opted_out(conn: Connection, rows: Sequence[Any], keys: list[str]) -> set[tuple[str, str]]:
    """The (contact, channel) pairs among `rows` whose channel the contact has opted out of now."""
    at = keys.index("contact_id")
    ids = list({row[at] for row in rows if row[at] is not None})
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        found.update((cid, ch) for cid, ch in conn.execute(_OPTED_OUT, {"ids": ids[start:start + 500]}))
    return found


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
            # Live: an opt-out that arrived after the step queued a message still stops it. (In virtual
            # time the hand-off is instantaneous: the message left at its step's moment, before any later opt-out.)
            refused = set() if clock.virtual else _opted_out(conn, rows, keys)
            for row in rows:
                message = dict(zip(keys, row))
                if (message["contact_id"], message["channel"]) in refused:
                    updates.append({"mid": message["id"], "status": "cancelled", "sent_at": None, "failed_at": None,
                                    "error": f"the contact opted out of {message['channel']} before it was sent"})
                    continue
                try:
                    error = channel.send(message)
                except Exception as exc:  # noqa: BLE001 - one message's failure must not hold back the rest
                    # Marked failed, never retried: what a raising channel did is unknown, and a message is
                    # never sent twice (a failed one is not picked up again).
                    error = "the channel failed: " + report(exc, f"handing message {message['id']} to the channel")
                if error is not None:
                    error = clean(str(error), 1000)     # the database stores any text the channel gave
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

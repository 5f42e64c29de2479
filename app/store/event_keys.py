"""The idempotency key of an event: what makes two deliveries of it "the same event".

Stored in `events.idempotency_key` (unique), so storing an event twice keeps
one row and the second delivery changes nothing (design note 13: every input
is keyed). In order of precedence:

1. an order event (type `order_…`) with an `order_id` property:
   `order:<order_id>:<type>` — the same order placed twice is one order, whatever
   its event `id` or time; a refund of it is a different event;
2. an event with an `id` (as Segment's `messageId` or Customer.io's event `id`): `id:<id>`;
3. otherwise a fingerprint of its content (contact, type, time, properties):
   `sha256:<hex>` — a file imported twice is stored once.

A key longer than `KEY_LENGTH` is replaced by its SHA-256 (`sha256:<hex>`), so
any id fits the column. Pure Python: the engine and the migration that
backfills old rows share it.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

KEY_LENGTH = 255
ORDER_PREFIX = "order_"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(value: Any) -> str | None:
    """An id as text: strings trimmed, whole numbers as digits; None when there is none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def order_id_of(event_type: str, properties: dict[str, Any]) -> str | None:
    """The order an order event (`order_placed`, `order_refunded`, …) is about, or None."""
    if not event_type.startswith(ORDER_PREFIX):
        return None
    return _text(properties.get("order_id"))


def event_key(contact_id: str, event_type: str, occurred_at: datetime, properties: dict[str, Any],
              event_id: Any = None) -> str:
    """The event's idempotency key (see the module's docstring); never empty, at most KEY_LENGTH long."""
    order = order_id_of(event_type, properties)
    given = _text(event_id)
    if order is not None:
        key = f"order:{order}:{event_type}"
    elif given is not None:
        key = f"id:{given}"
    else:
        content = json.dumps([contact_id, event_type, occurred_at.astimezone(timezone.utc).isoformat(), properties],
                             sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return _digest(content)
    return key if len(key) <= KEY_LENGTH else _digest(key)

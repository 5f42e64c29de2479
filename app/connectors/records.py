"""What a shop's orders, checkouts and customers become before they are applied: one shape for both
connectors (shopify.py, woocommerce.py), read by apply.py.

- an order → an `order_placed` event with `order_id`, `total` (a number), `currency`, `items`
  (`name`, `quantity`, `price`, `sku`), keyed by its order id (app/store/event_keys.py), so the same
  order seen again, or imported from a file too, is one order;
- a checkout → a `checkout_started` event with `checkout_id`, `items`, `total`, `currency` and
  `cart_url` (the platform's recovery URL), keyed `<platform>:checkout:<id>`;
- a customer → traits for the contact (email, phone, names, tags: as a Segment identify,
  app/engine/traits.py) and their marketing consent per channel.
Whose it is: `Person` (email, phone, names, country), matched to a contact by apply.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass
class Person:
    """Who an order, checkout or customer is about, as the shop says it."""
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None      # ISO 3166 alpha-2, to read a national phone number
    ref: str = ""                   # how notes name it: "Shopify customer 207119551"


@dataclass
class Record:
    """One item of a page. `event_type` None: a customer (traits and consent only)."""
    person: Person
    at: datetime
    event_type: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    traits: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)   # channel → (state, since)


@dataclass
class Page:
    """One page fetched: its records, the cursor that stands after it, and whether the poll of this
    resource is done (no further page now). `skipped`: items left out on purpose (cancelled…)."""
    records: list[Record]
    cursor: dict[str, Any]
    done: bool
    skipped: int = 0


def money(value: Any) -> float | None:
    """A money amount ("12.50", 12.5) as a number rounded to cents; None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return float(round(found, 2)) if found.is_finite() else None


def parse_time(value: Any, naive_is_utc: bool = True) -> datetime | None:
    """An ISO 8601 time ("2026-11-30T10:00:00Z", "2026-11-30T10:00:00-05:00"; WooCommerce's `_gmt`
    fields carry no zone and are UTC) as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None
    if found.tzinfo is None:
        if not naive_is_utc:
            return None
        found = found.replace(tzinfo=timezone.utc)
    return found.astimezone(timezone.utc)


def iso(at: datetime) -> str:
    """UTC, seconds, `Z`: how both platforms' date filters take a time."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (a null or odd field reads as absent)."""
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A non-blank string, trimmed; None otherwise."""
    return value.strip() if isinstance(value, str) and value.strip() else None

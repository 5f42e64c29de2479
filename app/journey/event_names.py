"""Event names: the one rule that journey validation and every import share.

A journey's trigger, goal and exit conditions name an event type; imports store
events under a type. Both go through `event_name_problem`, so no import stores a
type that validation would refuse in a journey, and no journey waits for a type
no import can produce.

Names written the way other tools write them — Segment's e-commerce spec
("Order Completed", "Checkout Started": Title Case with spaces) — are read as
ours by `canonical_event_type`: a standard Segment event becomes the app's own
event where there is one (`Order Completed` → `order_placed`), any other name
with spaces becomes its snake_case form (`Coupon Applied` → `coupon_applied`).
Source: Segment "Spec: V2 Ecommerce Events"
(https://segment.com/docs/connections/spec/ecommerce/v2/). Shopify's checkout and order webhook
topics (`checkouts/create`, `orders/create`) and Klaviyo's Shopify metrics (`Started Checkout`,
`Placed Order`, `Viewed Product`) are read as ours too.
"""
from __future__ import annotations

import re
import unicodedata

from .schema import MAX_EVENT

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")     # ASCII only, on purpose: every database and template agrees
NAME_HINT = "Use letters, digits, '_', '-' or '.', starting with a letter (e.g. order_placed)."

# Segment's standard e-commerce events whose meaning is one of the app's own events. The rest of the
# spec ("Product Added", "Coupon Applied", …) keeps its meaning under its snake_case name.
SEGMENT_EVENTS: dict[str, str] = {
    "Product Viewed": "product_viewed",
    "Checkout Started": "checkout_started",
    "Order Completed": "order_placed",
    "Order Refunded": "order_refunded",
    "Order Cancelled": "order_cancelled",
}
# The same moments as Shopify (webhook topics) and Klaviyo's Shopify integration (metric names) call them.
SHOP_EVENTS: dict[str, str] = {
    "checkouts/create": "checkout_started", "Started Checkout": "checkout_started",
    "orders/create": "order_placed", "Placed Order": "order_placed", "Viewed Product": "product_viewed",
}
_FOLDED = {name.casefold(): ours for name, ours in (SEGMENT_EVENTS | SHOP_EVENTS).items()}
CONSENT_TYPES = frozenset({"subscribed", "unsubscribed"})
"""Read however capitalised or padded (`Unsubscribed`), as app/engine/consent.py does."""


def event_name_problem(name: str) -> str | None:
    """Why `name` cannot be an event type (None when it can): empty, longer than MAX_EVENT (100)
    characters, or not made of ASCII letters, digits, '_', '-' and '.' starting with a letter or '_'."""
    if not name:
        return "is empty"
    if len(name) > MAX_EVENT:
        return f"is longer than {MAX_EVENT} characters"
    imported = canonical_event_type(name)
    if imported != name and NAME_RE.fullmatch(imported):
        # An import never stores this spelling, so a journey waiting for it would wait for ever.
        return f"is not a name events are stored under; events named so are imported as {imported!r}: use that"
    if not NAME_RE.fullmatch(name):
        return "is not a valid name"
    return None


def name_hint(name: str) -> str:
    """What to do about a name `event_name_problem` refuses: the stored spelling when there is one
    (`Order Completed` → write order_placed), else the naming rule."""
    imported = canonical_event_type(name) if name else name
    if imported != name and NAME_RE.fullmatch(imported):
        return f"Write {imported!r}: events named {name.strip()!r} elsewhere are stored and imported under that name."
    return NAME_HINT


def canonical_event_type(name: str) -> str:
    """The event type an import stores for `name`: Segment's standard names mapped to ours
    (`Order Completed` → `order_placed`, case and spacing ignored), `Unsubscribed` and `subscribed`
    however capitalised in lower case, other names with spaces or
    punctuation written in snake_case (`Coupon Applied` → `coupon_applied`, accents dropped:
    `Café visité` → `cafe_visite`); a valid name is kept exactly as written (`OrderShipped` stays)."""
    stripped = " ".join(name.split())
    mapped = _FOLDED.get(stripped.casefold())
    if mapped is not None:
        return mapped
    if stripped.lower() in CONSENT_TYPES:      # consent must never be lost to a capital letter
        return stripped.lower()
    if NAME_RE.fullmatch(name):
        return name
    ascii_only = unicodedata.normalize("NFKD", stripped).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[A-Za-z0-9]+", ascii_only)
    snake = "_".join(w.lower() for w in words)
    if snake and snake[0].isdigit():
        snake = "_" + snake
    return snake or name

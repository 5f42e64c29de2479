"""What each trigger's event carries: the `event.…` variables a message of the journey can read.

Declared once per event type, so a fresh install (nothing imported yet) already suggests
`event.items`, `event.cart_url`… while typing `{{`, and validation can tell a typo
(`event.cart_ulr`) from a property the shop sends. The names follow the e-commerce vocabulary of
Shopify's checkout and order objects (`line_items` → `items` with `name`, `price`, `quantity`),
flattened the way shops and connectors send them to messaging tools.

A declaration is what the app expects, not a promise: a shop may send more (those are learnt
from the events it imports: app/store/catalog.py) or fewer (a missing value applies the step's
policy). Time-based triggers (no order for N days, an anniversary, a manual send) start without an
event: their messages have no `event.…` values. A spend trigger starts from the order that
crossed the threshold, so its messages read that order's properties.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# --- the declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventProperty:
    """One property of an event: its name, what it holds (for suggestions) and, for a list of
    records (`items`) or a record (`product`), the fields of each record."""

    name: str
    description: str
    fields: tuple["EventProperty", ...] = ()
    is_list: bool = False


def _p(name: str, description: str, *fields: EventProperty, is_list: bool = False) -> EventProperty:
    return EventProperty(name, description, tuple(fields), is_list)


ITEM_FIELDS = (
    _p("name", "the product's name"), _p("title", "the product's name, as Shopify calls it"),
    _p("price", "the price of one, a number (print it with | money)"),
    _p("quantity", "how many"), _p("url", "the product's page"), _p("image", "the product's picture (a URL)"),
)
_ITEMS = _p("items", "the products, a list: loop over it with {% for item in event.items %}", *ITEM_FIELDS,
            is_list=True)
_TOTAL = _p("total", "the total amount, a number (print it with | money)")
_CURRENCY = _p("currency", "ISO 4217 code of the amounts, e.g. USD or EUR (| money reads it)")
_CHANNEL = _p("channel", "email, sms or whatsapp")

EVENT_PROPERTIES: dict[str, tuple[EventProperty, ...]] = {
    "cart_abandoned": (_ITEMS, _TOTAL, _CURRENCY, _p("cart_url", "the link that restores the cart")),
    "checkout_started": (_ITEMS, _TOTAL, _CURRENCY, _p("cart_url", "the link back to the checkout")),
    "order_placed": (_p("order_id", "the shop's order number"), _ITEMS, _TOTAL, _CURRENCY,
                     _p("order_url", "the order's status page")),
    # `product`: a record (name, url, price, image) or just the product's name; either prints its name.
    "product_viewed": (_p("product", "the product viewed (prints its name)", _p("name", "the product's name"),
                          _p("url", "the product's page"), _p("price", "its price, a number (| money)"),
                          _p("image", "its picture (a URL)")),
                       _p("price", "the product's price, a number (| money)"), _CURRENCY),
    "subscribed": (_CHANNEL, _p("source", "where they subscribed, e.g. footer form or checkout")),
    "unsubscribed": (_CHANNEL, _p("source", "where they unsubscribed")),
    "conversation_closed": (_CHANNEL, _p("conversation_id", "the conversation's id"),
                            _p("agent", "who answered"), _p("rating", "the customer's rating, if given")),
}
"""The declared properties per event type (every event of `KNOWN_EVENTS`; a test holds them equal)."""

# Trigger modes whose journeys start without an event, and a spend trigger's event (the order that
# crossed the threshold: app/engine/ingest.py enters with that order's properties).
NO_EVENT_MODES = {"no_order": "after days without an order", "anniversary": "on an anniversary",
                  "manual": "with a manual send"}
SPEND_EVENT = "order_placed"


# --- what a journey's trigger gives its messages ------------------------------------------------


def trigger_event_type(trigger: Mapping[str, Any] | None) -> str | None:
    """The type of the event a journey's messages read as `event`: the trigger's event (mode
    "event"), "order_placed" for a spend trigger; None for a time-based or manual trigger (no event)
    and for no trigger at all."""
    if trigger is None:
        return None
    mode = trigger.get("mode")
    if mode == "event":
        return str(trigger.get("event") or "") or None
    return SPEND_EVENT if mode == "spend" else None


def has_no_event(trigger: Mapping[str, Any] | None) -> str | None:
    """For a trigger whose journeys start without an event (no order for N days, an anniversary, a
    manual send): how it starts, in words ("with a manual send"); else None."""
    return NO_EVENT_MODES.get(str(trigger.get("mode"))) if trigger is not None else None


def declared(event_type: str | None) -> tuple[EventProperty, ...] | None:
    """The properties declared for `event_type`; None for a custom event (nothing declared)."""
    return EVENT_PROPERTIES.get(event_type) if event_type else None


def property_descriptions(event_type: str | None) -> dict[str, str]:
    """`event.name` (and `event.product.name` for a record's fields) → what it holds, for the
    suggestions' tooltips; {} for a custom event."""
    found: dict[str, str] = {}
    for prop in declared(event_type) or ():
        found[f"event.{prop.name}"] = prop.description
        if not prop.is_list:
            found.update((f"event.{prop.name}.{f.name}", f.description) for f in prop.fields)
    return found


def record_fields(event_type: str | None) -> dict[str, tuple[EventProperty, ...]]:
    """`event.items` → the fields of each item, for every list-of-records property of `event_type`
    (what a `{% for item in event.items %}` loop variable offers)."""
    return {f"event.{p.name}": p.fields for p in declared(event_type) or () if p.is_list and p.fields}

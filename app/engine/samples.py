"""The built-in sample contact and a plausible sample event per trigger kind.

A preview or a test send with no contact chosen (or an empty store) renders for SAMPLE_CONTACT; when the
contact has no event of the journey's trigger type, `sample_event(type)` stands in. The properties follow
what each trigger kind carries (cart_abandoned: items with name, price, quantity, url and image, total,
currency, cart_url; order_placed: order_id, total, currency, items; product_viewed: product; …), so a
template written against the real events renders with plausible values. Each sample carries every
property app/journey/event_properties.py declares for its kind (what the editor suggests on `{{`), so
a suggested variable is never "missing" in the preview of a fresh install (a test holds them equal).
"""
from __future__ import annotations

import copy
from typing import Any

from .context import ContactView

SAMPLE_ID = "sample"

SAMPLE_CONTACT = ContactView(
    SAMPLE_ID,
    {"id": SAMPLE_ID, "email": "alex.sample@example.com", "phone": "+15005550006", "first_name": "Alex",
     "last_name": "Sample", "timezone": None, "lifetime_spend": 184.5, "order_count": 3,
     "last_order_at": "2026-02-14T10:30:00+00:00"},
    {"city": "Springfield", "currency": "USD"}, {"newsletter"},
    {"email": "subscribed", "sms": "subscribed", "whatsapp": "subscribed"})
"""A plausible customer for a test or a preview when no contact is chosen (or the store has none): one
who agreed to every channel, so a preview of an SMS journey that needs consent shows the message."""

_ITEMS = [
    {"name": "Linen shirt", "title": "Linen shirt", "quantity": 1, "price": 49.0,
     "url": "https://shop.example/products/linen-shirt", "image": "https://shop.example/img/linen-shirt.jpg"},
    {"name": "Canvas tote", "title": "Canvas tote", "quantity": 2, "price": 18.5,
     "url": "https://shop.example/products/canvas-tote", "image": "https://shop.example/img/canvas-tote.jpg"},
]
_PRODUCT = {"name": "Linen shirt", "url": "https://shop.example/products/linen-shirt", "price": 49.0,
            "image": "https://shop.example/img/linen-shirt.jpg"}

SAMPLE_EVENT: dict[str, Any] = {
    "cart_url": "https://shop.example/cart/recover/sample", "items": _ITEMS, "total": 86.0, "currency": "USD",
    "order_id": "SAMPLE-1001", "product": _PRODUCT,
}
"""A plausible abandoned cart (which also reads as an order): the sample of any event with none of its own."""

SAMPLE_EVENTS: dict[str, dict[str, Any]] = {
    "cart_abandoned": SAMPLE_EVENT,
    "checkout_started": {**SAMPLE_EVENT, "cart_url": "https://shop.example/checkout/sample"},
    "order_placed": {"order_id": "SAMPLE-1001", "total": 86.0, "currency": "USD", "items": _ITEMS,
                     "order_url": "https://shop.example/orders/SAMPLE-1001"},
    "product_viewed": {"product": _PRODUCT, "url": _PRODUCT["url"], "price": _PRODUCT["price"], "currency": "USD"},
    "subscribed": {"channel": "email", "source": "footer form"},
    "unsubscribed": {"channel": "email", "source": "unsubscribe link"},
    "conversation_closed": {"channel": "whatsapp", "conversation_id": "SAMPLE-C-42", "agent": "Sam",
                            "rating": 5, "topic": "Delivery question"},
}

SAMPLE_WORDS: dict[str, str] = {
    "cart_abandoned": "a sample cart", "checkout_started": "a sample checkout", "order_placed": "a sample order",
    "product_viewed": "a sample product view", "subscribed": "a sample sign-up",
    "unsubscribed": "a sample opt-out", "conversation_closed": "a sample closed conversation",
}


def sample_event(event_type: str | None) -> tuple[dict[str, Any], str]:
    """(properties, words) of a plausible event of `event_type`: the kind's own sample, else the sample
    cart for a custom event name. The properties are a deep copy (a caller may change them)."""
    properties = SAMPLE_EVENTS.get(event_type or "", SAMPLE_EVENT)
    return copy.deepcopy(properties), SAMPLE_WORDS.get(event_type or "", "a sample cart")

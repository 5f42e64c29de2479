"""Shopify webhooks: topics, their checks, and the events each becomes.

Source: Shopify's webhook reference (shopify.dev/docs/api/webhooks, "Topics"; the payloads are the
REST Admin API's Checkout, Order and Customer resources). Every delivery carries
`X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body under the app's client secret:
app/intake/signatures.py) and `X-Shopify-Webhook-Id` (the same on every retry of one delivery: the
inbox key).

What each topic becomes (money given as text, `"199.00"`, becomes a number; `line_items` become
`items` with `name`, `quantity`, `price`; times are the payload's own):

- `checkouts/create`, `checkouts/update` → `checkout_started` with `checkout_id` (the checkout's
  numeric `id`), `total`, `currency`, `items`, `cart_url` (from `abandoned_checkout_url`), keyed
  `shopify:checkout:<id>`: the many updates of one checkout are one event, the first that says whose
  it is (a checkout often gets its email only in a later update). The id, not the `token`, because
  the pull connector (app/connectors/shopify.py) reads the same checkout from the GraphQL Admin API's
  `abandonedCheckouts`, whose AbandonedCheckout has an `id` (gid://shopify/AbandonedCheckout/<id>)
  and no token: keyed alike, a webhook and a poll of one checkout are one event. (A payload without
  an id falls back to its token.) A completed checkout (`completed_at`) starts nothing:
  its order comes as `orders/create`.
- `orders/create`, `orders/paid` → `order_placed` with `order_id` (the order's `name`, `#1001`, as in
  Shopify's order export, so an export imported later is the same order), `total`, `currency`,
  `items`: one event per order whichever topics arrive. Cancelled orders, and those whose payment
  was voided, expired or refunded in full, are left out (as the poller does).
- `customers/create`, `customers/update` → the contact's email, phone, names and tags (an identify),
  and its marketing consent as below.
- `customers_email_marketing_consent/update`, `customers_marketing_consent/update` (SMS) and the
  consent inside customer payloads: `unsubscribed` (any case) or `redacted` (the customer's data
  erased on request) → an opt-out of that channel, always applied;
  `subscribed` → an opt-in only while the contact has not opted out of that channel here. A shop's
  consent never loosens an opt-out (the contact withdraws it only through their own opt-in here).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from app.engine.consent import KEEPS_OPT_OUT
from app.engine.ingest import EventIn
from app.journey.schema import MAX_AMOUNT, parse_datetime

from .people import Unusable, object_at, consent_state, contact_of, identify, person, text
from .shapes import ID, LIST, MONEY, OBJECT, TEXT, Fault, amount, check

CHECKOUTS = ("checkouts/create", "checkouts/update")
LEFT_OUT = ("voided", "expired", "refunded")
"""Orders' `financial_status` values that are no order placed (never paid, or all of it given back)."""
OPTED_OUT = ("unsubscribed", "redacted")
"""Consent states that are an opt-out: the customer unsubscribed, or had their data erased (redacted)."""
ORDERS = ("orders/create", "orders/paid")
CUSTOMERS = ("customers/create", "customers/update")
EMAIL_CONSENT = "customers_email_marketing_consent/update"
SMS_CONSENT = "customers_marketing_consent/update"
TOPICS = (*CHECKOUTS, *ORDERS, *CUSTOMERS, EMAIL_CONSENT, SMS_CONSENT)

_LINE = {"title": TEXT, "name": TEXT, "price": MONEY, "quantity": ID, "sku": TEXT}
_CUSTOMER = {"id": ID, "email": TEXT, "phone": TEXT, "first_name": TEXT, "last_name": TEXT,
             "email_marketing_consent": OBJECT, "sms_marketing_consent": OBJECT, "tags": TEXT}
_SHAPES: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {
    **{t: ({"token": TEXT, "id": ID, "email": TEXT, "phone": TEXT, "total_price": MONEY, "currency": TEXT,
            "abandoned_checkout_url": TEXT, "line_items": LIST, "customer": OBJECT, "created_at": TEXT,
            "updated_at": TEXT, "completed_at": TEXT}, {"line_items": _LINE}) for t in CHECKOUTS},
    **{t: ({"id": ID, "name": TEXT, "email": TEXT, "phone": TEXT, "total_price": MONEY, "currency": TEXT,
            "line_items": LIST, "customer": OBJECT, "created_at": TEXT, "cancelled_at": TEXT}, {"line_items": _LINE})
       for t in ORDERS},
    **{t: (_CUSTOMER, {}) for t in CUSTOMERS},
    EMAIL_CONSENT: ({"customer_id": ID, "email_address": TEXT, "email_marketing_consent": OBJECT}, {}),
    SMS_CONSENT: ({"customer_id": ID, "id": ID, "phone": TEXT, "phone_number": TEXT, "sms_marketing_consent": OBJECT},
                  {}),
}


def fault(topic: str, data: Any) -> Fault | None:
    """Why the JSON of a `topic` webhook cannot be taken (pointer, reason), or None."""
    fields, items = _SHAPES[topic]
    found = check(data, fields, items)
    if found is None and isinstance(data.get("customer"), dict):
        found = check(data["customer"], _CUSTOMER, None, "/customer")
    return found


def _time(value: Any, fallback: datetime) -> datetime:
    try:
        return parse_datetime(value) if isinstance(value, str) else fallback
    except ValueError:
        return fallback


def _amount(value: Any, what: str, currency: Any = None) -> float | None:
    """`value` read as the door read it (app/intake/shapes.py `amount`), in `currency` (its decimals)."""
    try:
        found = amount(value, currency if isinstance(currency, str) else None)
    except ValueError:
        raise Unusable(f"{what} {value!r:.40} is not an amount the store keeps (0 to {MAX_AMOUNT:,.2f})") from None
    return None if found is None else round(found, 3)      # three: some currencies have three decimals (KWD)


def items_of(lines: Any, currency: Any = None) -> list[dict[str, Any]]:
    """Shopify's `line_items` as our `items`: name (its `title`), quantity, price as a number, sku, ids."""
    found = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        item: dict[str, Any] = {"name": text(line.get("title")) or text(line.get("name")) or ""}
        quantity = line.get("quantity")
        item["quantity"] = int(quantity) if isinstance(quantity, int) or (isinstance(quantity, str)
                                                                         and quantity.isdigit()) else 1
        price = line.get("price")
        if price is not None:
            item["price"] = _amount(price, "a line item's price", currency)
        for name in ("sku", "product_id", "variant_id"):
            if line.get(name) not in (None, ""):
                item[name] = line[name]
        found.append(item)
    return found


def _who(data: dict[str, Any]) -> Any:
    customer = object_at(data, "customer")
    address = object_at(data, "billing_address")
    return person(data.get("email") or customer.get("email"),
                  data.get("phone") or customer.get("phone") or address.get("phone"),
                  customer.get("first_name") or address.get("first_name"),
                  customer.get("last_name") or address.get("last_name"), address.get("country_code"))


def events(conn: Connection, topic: str, data: dict[str, Any], now: datetime) -> list[EventIn]:
    """The events one stored delivery of `topic` becomes (see the module's docstring). Raises
    Unusable (a dead letter with the reason) when it cannot be applied."""
    if topic in CHECKOUTS:
        return _checkout(conn, data, now)
    if topic in ORDERS:
        return _order(conn, data, now)
    if topic in CUSTOMERS:
        return _customer(conn, data, now)
    return _consent_topic(conn, topic, data, now)


def _checkout(conn: Connection, data: dict[str, Any], now: datetime) -> list[EventIn]:
    if data.get("completed_at"):
        return []
    # The numeric id: the key the GraphQL poller sees too (see the module's docstring).
    token = text(data.get("id")) or text(data.get("token"))
    if token is None:
        raise Unusable("the checkout has neither an id nor a token")
    who = _who(data)
    contact = contact_of(conn, who, f"checkout {token}")
    at = _time(data.get("created_at"), now)
    properties: dict[str, Any] = {"checkout_id": token,
                                  "items": items_of(data.get("line_items"), data.get("currency")),
                                  "source": "shopify"}
    total = _amount(data.get("total_price"), "the checkout's total_price", data.get("currency"))
    if total is not None:
        properties["total"] = total
    for ours, theirs in (("currency", "currency"), ("cart_url", "abandoned_checkout_url")):
        if text(data.get(theirs)):
            properties[ours] = text(data.get(theirs))
    return [identify(contact, who, at, f"shopify:identify:checkout:{token}"),
            EventIn(contact, "checkout_started", at, properties, f"shopify:checkout:{token}")]


def _order(conn: Connection, data: dict[str, Any], now: datetime) -> list[EventIn]:
    order_id = text(data.get("name")) or text(data.get("id"))
    if order_id is None:
        raise Unusable("the order has neither a name nor an id")
    # Left out as the poller leaves them out (app/connectors/shopify.py order_record), so a pushed and
    # a polled order agree: cancelled, or its payment voided, expired or refunded in full.
    if data.get("cancelled_at") or str(data.get("financial_status") or "").lower() in LEFT_OUT:
        return []
    who = _who(data)
    contact = contact_of(conn, who, f"order {order_id}")
    at = _time(data.get("created_at"), now)
    total = _amount(data.get("current_total_price") or data.get("total_price"), "the order's total_price",
                    data.get("currency"))
    properties: dict[str, Any] = {"order_id": order_id, "total": total or 0.0,
                                  "items": items_of(data.get("line_items"), data.get("currency")),
                                  "source": "shopify"}
    if text(data.get("currency")):
        properties["currency"] = text(data.get("currency"))
    return [identify(contact, who, at, f"shopify:identify:order:{order_id}"),
            EventIn(contact, "order_placed", at, properties)]


def _customer(conn: Connection, data: dict[str, Any], now: datetime) -> list[EventIn]:
    address = object_at(data, "default_address")
    who = person(data.get("email"), data.get("phone") or address.get("phone"), data.get("first_name"),
                 data.get("last_name"), address.get("country_code"), data.get("tags"))
    contact = contact_of(conn, who, f"customer {text(data.get('id'))}")
    at = _time(data.get("updated_at"), now)
    found = [identify(contact, who, at, f"shopify:identify:customer:{text(data.get('id'))}")]
    for channel, name in (("email", "email_marketing_consent"), ("sms", "sms_marketing_consent")):
        if isinstance(data.get(name), dict):
            found += _consent(conn, contact, channel, data[name], at, text(data.get("id")))
    return found


def _consent_topic(conn: Connection, topic: str, data: dict[str, Any], now: datetime) -> list[EventIn]:
    customer = text(data.get("customer_id")) or text(data.get("id"))
    if topic == EMAIL_CONSENT:
        who, channel, consent = person(data.get("email_address"), None), "email", data.get("email_marketing_consent")
    else:
        who, channel, consent = (person(None, data.get("phone") or data.get("phone_number")), "sms",
                                 data.get("sms_marketing_consent"))
    if not isinstance(consent, dict):
        raise Unusable(f"the {channel} consent update of customer {customer} has no consent object")
    contact = contact_of(conn, who, f"the {channel} consent update of customer {customer}")
    return _consent(conn, contact, channel, consent, now, customer)


def _consent(conn: Connection, contact: str, channel: str, consent: dict[str, Any], fallback: datetime,
             customer: str | None) -> list[EventIn]:
    """The consent event a Shopify consent object means: an opt-out always, an opt-in only while the
    contact has not opted out of `channel` here (never loosens an opt-out)."""
    state = (text(consent.get("state")) or "").lower()      # any spelling: an opt-out is never lost to it
    at = _time(consent.get("consent_updated_at"), fallback)
    source = f"Shopify {channel} marketing consent ({state})"
    key = f"shopify:consent:{customer}:{channel}:{state}:{at.isoformat()}"
    if state in OPTED_OUT:
        return [EventIn(contact, "unsubscribed", at, {"channel": channel, "source": source}, key)]
    if state == "subscribed" and consent_state(conn, contact, channel) != "unsubscribed":
        # KEEPS_OPT_OUT: the engine checks again when it applies the event (an opt-out may be applied first)
        return [EventIn(contact, "subscribed", at, {"channel": channel, "source": source, KEEPS_OPT_OUT: True}, key)]
    return []


def payload(topic: str, shop: str | None, data: dict[str, Any]) -> str:
    """The inbox row's JSON: the topic, the shop's domain and the webhook's body."""
    return json.dumps({"topic": topic, "shop": shop, "body": data}, ensure_ascii=False, separators=(",", ":"))

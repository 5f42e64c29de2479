"""WooCommerce webhooks: topics, their checks, and the events each becomes.

Source: WooCommerce REST API docs, "Webhooks" (woocommerce.github.io/woocommerce-rest-api-docs):
each delivery carries `X-WC-Webhook-Topic` (`order.created`…), `X-WC-Webhook-Delivery-ID` (the
inbox key), `X-WC-Webhook-Source` (the shop) and `X-WC-Webhook-Signature`, the base64 HMAC-SHA256 of
the raw body under the webhook's secret. When a webhook is saved, WooCommerce first posts a ping,
`webhook_id=N` as a form, and activates the webhook only if it is answered 2xx: the receiver answers
it and stores nothing. Payloads are the REST API's Order and Customer resources (v3).

- `order.created`, `order.updated` → `order_placed` once per order (`order_id`: its `number`, as the
  order exports' `order_number` and the poller, app/engine/order_files.py; `woocommerce_order_id`:
  its id) when its status is a paid one (`processing`, `completed`, `on-hold`); pending, failed,
  cancelled, refunded and draft orders start nothing (an update that pays the order does).
- `customer.created`, `customer.updated` → the contact's email, phone and names (an identify).

Whose it is: by the billing email, else the phone (app/intake/people.py). Guest orders have
`customer_id` 0: they are matched by their email only, never merged into one contact.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Connection

from app.engine.ingest import EventIn

from .people import Unusable, object_at, contact_of, identify, person, text
from .shapes import ID, LIST, MONEY, OBJECT, TEXT, Fault, check
from .shopify import _amount

ORDERS = ("order.created", "order.updated")
CUSTOMERS = ("customer.created", "customer.updated")
TOPICS = (*ORDERS, *CUSTOMERS)
PAID = ("processing", "completed", "on-hold")

_LINE = {"name": TEXT, "quantity": ID, "total": MONEY, "sku": TEXT}
_SHAPES: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {
    **{t: ({"id": ID, "number": ID, "status": TEXT, "currency": TEXT, "total": MONEY, "customer_id": ID,
            "billing": OBJECT, "line_items": LIST, "date_created_gmt": TEXT}, {"line_items": _LINE}) for t in ORDERS},
    **{t: ({"id": ID, "email": TEXT, "first_name": TEXT, "last_name": TEXT, "billing": OBJECT}, {})
       for t in CUSTOMERS},
}


def fault(topic: str, data: Any) -> Fault | None:
    fields, items = _SHAPES[topic]
    found = check(data, fields, items)
    if found is None and isinstance(data.get("billing"), dict):
        found = check(data["billing"], {"email": TEXT, "phone": TEXT, "first_name": TEXT, "last_name": TEXT},
                      None, "/billing")
    return found


def _time(value: Any, fallback: datetime) -> datetime:
    """WooCommerce's `date_created_gmt` (`2017-03-22T19:28:02`, UTC without an offset)."""
    if not isinstance(value, str):
        return fallback
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return fallback
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def items_of(lines: Any, currency: Any = None) -> list[dict[str, Any]]:
    found = []
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict):
            quantity = line.get("quantity")
            item: dict[str, Any] = {"name": text(line.get("name")) or "",
                                    "quantity": quantity if isinstance(quantity, int) and not isinstance(quantity, bool)
                                    else 1}
            if line.get("total") is not None:
                item["price"] = _amount(line.get("total"), "a line item's total", currency)
            for name in ("sku", "product_id", "variation_id"):
                if line.get(name) not in (None, "", 0):
                    item[name] = line[name]
            found.append(item)
    return found


def events(conn: Connection, topic: str, data: dict[str, Any], now: datetime) -> list[EventIn]:
    """The events one stored delivery becomes (see the module's docstring); raises Unusable."""
    billing = object_at(data, "billing")
    if topic in CUSTOMERS:
        who = person(data.get("email") or billing.get("email"), billing.get("phone"), data.get("first_name"),
                     data.get("last_name"), billing.get("country"))
        contact = contact_of(conn, who, f"customer {text(data.get('id'))}")
        return [identify(contact, who, _time(data.get("date_modified_gmt"), now), "")]
    order_id = text(data.get("number")) or text(data.get("id"))
    if order_id is None:
        raise Unusable("the order has neither a number nor an id")
    if text(data.get("status")) not in PAID:
        return []
    who = person(billing.get("email"), billing.get("phone"), billing.get("first_name"), billing.get("last_name"),
                 billing.get("country"))
    guest = text(data.get("customer_id")) in (None, "0")
    contact = contact_of(conn, who, f"{'guest ' if guest else ''}order {order_id}")
    at = _time(data.get("date_created_gmt"), now)
    properties: dict[str, Any] = {"order_id": order_id, "total": _amount(data.get("total"), "the order's total",
                                                                       data.get("currency")) or 0.0,
                                  "items": items_of(data.get("line_items"), data.get("currency")), "source": "woocommerce"}
    if text(data.get("id")):
        properties["woocommerce_order_id"] = text(data.get("id"))
    if text(data.get("currency")):
        properties["currency"] = text(data.get("currency"))
    return [identify(contact, who, at, ""), EventIn(contact, "order_placed", at, properties)]

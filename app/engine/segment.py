"""Segment's track and identify calls, read as this app's events (JSON-lines imports).

Many shop tools emit Segment's shape rather than ours:

    {"type": "track", "event": "Order Completed", "userId": "u1", "anonymousId": "a1",
     "properties": {"order_id": "50314b8e", "total": 27.5, "currency": "USD", "products": [...]},
     "timestamp": "2026-03-01T10:00:00.000Z", "messageId": "ajs-123"}
    {"type": "identify", "userId": "u1", "traits": {"email": "ann@example.com", "firstName": "Ann"}}

A track call becomes an event of the contact `userId` (else `anonymousId`) at its `timestamp`
(else `originalTimestamp`, `sentAt`, `receivedAt`), keyed by `messageId`; its name is mapped by
`app.journey.event_names.canonical_event_type`. For the standard e-commerce events the properties
are renamed to ours: `products` → `items`; `Order Completed`'s `total` (else `revenue`, else
`value`) → `total`; `Checkout Started`'s `value` (else `revenue`) → `total`, its `checkout_url`
or `url` → `cart_url`. An identify call becomes an `identify` record that updates the contact
(see `traits_to_contact`), not an event. Page, screen, group and alias calls are refused by line.

Sources: Segment "Spec: Track", "Spec: Identify" (traits: email, phone, firstName, lastName,
name, address…) and "Spec: V2 Ecommerce Events" (segment.com/docs/connections/spec/).
"""
from __future__ import annotations

from typing import Any

from app.journey.event_names import canonical_event_type
from app.journey.schema import timezone_names

from .identities import email_or_problem, phone_or_problem

IDENTIFY = "identify"
"""The type of an identify record: applied to the contact, never stored as an event."""

SEGMENT_TIMES = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
"""Where a Segment call says when it happened, in order of preference."""
_SEGMENT_KEYS = frozenset({"userId", "anonymousId", "messageId", "traits", "event"})


def is_segment(data: dict[str, Any]) -> bool:
    """Whether a JSON line is a Segment call rather than our own shape (which names a `contact`)."""
    return "contact" not in data and bool(_SEGMENT_KEYS & data.keys()) and data.get("type") in (
        "track", "identify", "page", "screen", "group", "alias")


def to_ours(data: dict[str, Any]) -> dict[str, Any]:
    """Our shape (`contact`, `type`, `at`, `id`, `properties`) for a Segment call; raises ValueError
    saying what is missing or not supported."""
    call = data["type"]
    if call not in ("track", "identify"):
        raise ValueError(f"a Segment {call!r} call is not imported; only track and identify calls are")
    contact = data.get("userId")
    if contact is None or (isinstance(contact, str) and not contact.strip()):
        contact = data.get("anonymousId")
    if contact is None or (isinstance(contact, str) and not contact.strip()):
        raise ValueError("a Segment call needs a 'userId' or an 'anonymousId' (whose contact it is)")
    at = next((data[k] for k in SEGMENT_TIMES if isinstance(data.get(k), str)), None)
    if at is None:
        given = next((k for k in SEGMENT_TIMES if data.get(k) is not None), None)
        if given is not None:
            raise ValueError(f"{given!r} must be an ISO-8601 time with a time zone such as "
                             f"2026-03-01T10:00:00Z, not {data[given]!r}")
        raise ValueError("a Segment call needs a 'timestamp' (ISO-8601 with a time zone)")
    ours: dict[str, Any] = {"contact": contact, "at": at}
    if data.get("messageId") is not None:
        ours["id"] = data["messageId"]
    if call == IDENTIFY:
        traits = data.get("traits", {})
        if traits is None:
            traits = {}
        if not isinstance(traits, dict):
            raise ValueError("'traits' must be a JSON object")
        context = data.get("context")
        zone = context.get("timezone") if isinstance(context, dict) else None
        if isinstance(zone, str) and "timezone" not in traits:
            traits = {**traits, "timezone": zone}      # Segment puts the device's zone in the context
        ours.update(type=IDENTIFY, properties=traits)
        return ours
    name = data.get("event")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a Segment track call needs an 'event' name such as \"Order Completed\"")
    properties = data.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise ValueError("'properties' must be a JSON object")
    kind = canonical_event_type(name)
    ours.update(type=kind, properties=properties)
    return ours


def standard_properties(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The properties our order, checkout and product events are read by (`items`, `total`, `cart_url`,
    `product`), taken from Segment's names (`products`, `revenue`, `value`, `checkout_url`, a Product
    Viewed's flat `name`, `price`, `url`, `image_url`) or Shopify's (`line_items` with `title`,
    `total_price` as text, `abandoned_checkout_url`) when the event has not got ours; everything
    else kept as sent."""
    found = dict(properties)
    for theirs in ("products", "line_items"):
        if theirs in found and "items" not in found:
            found["items"] = found.pop(theirs)
            if isinstance(found["items"], list):     # Shopify's items have a title, ours a name
                found["items"] = [{**i, "name": i["title"]} if isinstance(i, dict) and "name" not in i
                                  and "title" in i else i for i in found["items"]]
    if kind in ("order_placed", "checkout_started") and "total" not in found:
        for name in (("revenue", "value") if kind == "order_placed" else ("value", "revenue")):
            if name in found:
                found["total"] = found[name]
                break
        else:
            price = found.get("total_price")
            if isinstance(price, str):
                try:
                    found["total"] = float(price)
                except ValueError:
                    pass
            elif isinstance(price, (int, float)) and not isinstance(price, bool):
                found["total"] = price
    if kind == "product_viewed" and "product" not in found and isinstance(found.get("name"), str):
        # Segment's Product Viewed is flat (`name`, `price`, `url`, `image_url`, `product_id`…); ours
        # carries the product as `product` (docs/journey-format.md), which templates read.
        product: dict[str, Any] = {k: found[k] for k in ("product_id", "sku", "name", "brand", "category",
                                                         "variant", "price", "url") if k in found}
        if "image_url" in found:
            product["image"] = found["image_url"]
        found["product"] = product
    if kind == "checkout_started" and "cart_url" not in found:
        for name in ("checkout_url", "abandoned_checkout_url", "url"):
            if isinstance(found.get(name), str):
                found["cart_url"] = found[name]
                break
    return found


# Segment's reserved identify traits (camelCase, as its libraries send them) and ours.
_TRAIT_FIELDS = {"email": "email", "phone": "phone", "firstName": "first_name", "first_name": "first_name",
                 "lastName": "last_name", "last_name": "last_name", "timezone": "timezone"}


def traits_tags(traits: dict[str, Any]) -> list[str]:
    """The tags an identify call adds: `tags` as a list of names or as text `a, b` (Shopify's way)."""
    found = traits.get("tags")
    names = found if isinstance(found, list) else found.split(",") if isinstance(found, str) else []
    return list(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def traits_to_contact(traits: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(fields, attributes) an identify call sets: `email`, `phone`, `firstName`/`lastName` (or `name`
    split at its first space when neither is given) and `timezone` as the contact's fields (text
    values only); every other trait but `tags` (`traits_tags`) as a custom attribute (`address`
    stays one JSON object)."""
    fields: dict[str, str] = {}
    attributes: dict[str, Any] = {}
    for name, value in traits.items():
        field = _TRAIT_FIELDS.get(name)
        if field is not None and isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            fields.setdefault(field, str(value).strip())
        elif field is None and name not in ("name", "tags"):
            attributes[name] = value
    full = traits.get("name")
    if isinstance(full, str) and full.strip() and "first_name" not in fields and "last_name" not in fields:
        first, _, last = full.strip().partition(" ")
        fields["first_name"] = first
        if last.strip():
            fields["last_name"] = last.strip()
    elif isinstance(full, str) and full.strip():
        attributes["name"] = full
    return fields, attributes


def checked_traits(traits: dict[str, Any], limits: dict[str, int]) -> tuple[dict[str, Any], list[str]]:
    """An identify call's traits with its email and phone checked (E.164; a national number read with
    the `address.country` trait) and its time zone an IANA name: a value that is not is left out and
    said, the other traits are kept. `limits`: the store's widths of email, phone and timezone."""
    kept = dict(traits)
    notes: list[str] = []
    fields, _ = traits_to_contact(traits)
    address = traits.get("address")
    country = address.get("country") if isinstance(address, dict) else None
    for name in [n for n in traits if n in ("email", "phone", "timezone")]:
        value = fields.get(name)
        if value is None:
            continue
        if name == "email":
            found, problem = email_or_problem(value)
        elif name == "phone":
            found, problem = phone_or_problem(value, country if isinstance(country, str) else None)
        else:
            found, problem = (value, None) if value in timezone_names() else (
                None, f"{value!r} is not an IANA time zone such as Europe/Paris")
        limit = limits[name]
        if found is not None and len(found) > limit:
            found, problem = None, f"is longer than {limit} characters"
        if found is None:
            del kept[name]
            notes.append(f"identify: the {name} {problem}; the other traits were kept")
        else:
            kept[name] = found
    return kept, notes

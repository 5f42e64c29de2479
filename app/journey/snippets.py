"""Ready template blocks the send step's editor inserts (Insert ▸ Cart items block).

A block is plain template text, written once per kind of field: an HTML list for an email's HTML
body, lines for its plain-text body and for WhatsApp, short ASCII lines for SMS (× and — are not in
the GSM-7 alphabet, 3GPP TS 23.038: one would make the whole SMS UCS-2, 70 characters a segment).

The cart block loops over `event.items` — so an event without items applies the step's
missing-value policy, like any value the message needs — and prints each price through `money`
(the event's currency, else the contact's, in the contact's locale). An item without a link or a
picture prints without them; one without a quantity counts as one; one without a price prints no
price. Nothing here is HTML-escaped by hand: the HTML body escapes every value it prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .event_properties import declared, trigger_event_type

CART_ITEMS = "cart_items"

_HTML = """\
<ul style="list-style:none;padding:0;margin:0 0 16px 0">
{% for item in event.items %}
  <li style="margin:0 0 8px 0">
{% if item.image %}
    <img src="{{ item.image }}" alt="" width="48" height="48" style="vertical-align:middle;margin-right:8px">
{% endif %}
{% if item.url %}
    <a href="{{ item.url }}">{{ item.name }}</a>
{% else %}
    {{ item.name }}
{% endif %}
    × {{ item.quantity | default(1) }}{% if item.price is not none %} — {{ item.price | money }}{% endif %}

  </li>
{% endfor %}
</ul>
"""

_TEXT = """\
{% for item in event.items %}
- {{ item.name }} × {{ item.quantity | default(1) }}{% if item.price is not none %} — {{ item.price | money }}{% endif %}

{% if item.url %}
  {{ item.url }}
{% endif %}
{% endfor %}
"""

# SMS: GSM-7 characters only, no links per item (each costs a segment); one line per item.
_SMS = """\
{% for item in event.items %}
{{ item.quantity | default(1) }} x {{ item.name }}{% if item.price is not none %}: {{ item.price | money }}{% endif %}

{% endfor %}
"""


@dataclass(frozen=True)
class Snippet:
    """A block the editor offers: `label` for the menu, `text` to insert, and when it does not fit the
    journey (`unavailable`: why, for the menu's tooltip; "" when it fits)."""

    id: str
    label: str
    text: str
    unavailable: str = ""


def cart_items_block(field: str, channel: str | None) -> str:
    """The cart-items block for a send step's `field` ("html", "text" or "message") on `channel`."""
    if field == "html":
        return _HTML
    if field == "message" and channel == "sms":
        return _SMS
    return _TEXT


def snippets_for(field: str, channel: str | None, trigger: Mapping[str, Any] | None) -> list[Snippet]:
    """The blocks offered in a send step's `field` (none for a subject or a WhatsApp template variable,
    which are one line); the cart block is unavailable when the trigger's event is known to carry no
    items, or when the journey starts without an event."""
    if field not in ("html", "text", "message"):
        return []
    event_type = trigger_event_type(trigger)
    properties = declared(event_type)
    # A custom event declares nothing: it may well carry items.
    has_items = (properties is None and event_type is not None) or any(p.name == "items" for p in properties or ())
    why = "" if has_items else (
        f"The trigger's event ({event_type}) carries no items" if event_type
        else "This journey starts without an event, so there is no cart")
    return [Snippet(CART_ITEMS, "Cart items block", cart_items_block(field, channel), why)]

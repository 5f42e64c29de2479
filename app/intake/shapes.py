"""Light schema checks of a webhook's JSON at the door: a wrong type is a 400 naming the field by
its JSON pointer (RFC 6901) and what it should be, before anything is stored.

Only the fields the receiver reads are checked; everything else a platform adds is kept as sent.
"""
from __future__ import annotations

from typing import Any

Fault = tuple[str, str]
"""(JSON pointer, what is wrong and what it should be)."""

ID = "id"           # a number or text
TEXT = "text"
MONEY = "money"     # text such as "199.00" (Shopify, WooCommerce) or a number
OBJECT = "object"
LIST = "list"


def _is(kind: str, value: Any) -> bool:
    if value is None:
        return True             # absent or null: the converter decides whether it was needed
    if kind == ID:
        return isinstance(value, (str, int)) and not isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if kind == MONEY:
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return value >= 0
        if isinstance(value, str):
            try:
                return float(value.replace(",", "")) >= 0
            except ValueError:
                return False
        return False
    if kind == OBJECT:
        return isinstance(value, dict)
    return isinstance(value, list)


_WORDS = {ID: "a number or text id", TEXT: "text", MONEY: "an amount such as \"19.99\" (not negative)",
          OBJECT: "a JSON object", LIST: "a JSON array"}


def check(data: Any, fields: dict[str, str], items: dict[str, dict[str, str]] | None = None,
          pointer: str = "") -> Fault | None:
    """The first field of `data` whose value is not of its kind, with the lists in `items` checked
    item by item (each item an object with those fields); None when all fit."""
    if not isinstance(data, dict):
        return pointer or "/", "must be a JSON object"
    for name, kind in fields.items():
        if not _is(kind, data.get(name)):
            return f"{pointer}/{name}", f"must be {_WORDS[kind]}, not {type(data[name]).__name__} {data[name]!r:.60}"
    for name, shape in (items or {}).items():
        found = data.get(name)
        if found is None:
            continue
        if not isinstance(found, list):
            return f"{pointer}/{name}", "must be a JSON array"
        for index, item in enumerate(found):
            fault = check(item, shape, None, f"{pointer}/{name}/{index}")
            if fault is not None:
                return fault
    return None

"""Light schema checks of a webhook's JSON at the door: a wrong type is a 400 naming the field by
its JSON pointer (RFC 6901) and what it should be, before anything is stored.

Only the fields the receiver reads are checked; everything else a platform adds is kept as sent.
"""
from __future__ import annotations

import math
import re
from typing import Any

from app.engine.order_files import money
from app.journey.schema import MAX_AMOUNT

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
        try:
            amount(value)
        except ValueError:
            return False
        return True
    if kind == OBJECT:
        return isinstance(value, dict)
    return isinstance(value, list)


_AMOUNT_TEXT = re.compile(r"[0-9][0-9.,]*")
"""What a platform writes an amount as: ASCII digits and separators ("199.00", "1,234.00"); no sign,
exponent, hex prefix or other script's digits, which the lenient reader of exported files would turn
into another number ("1e3" into 13)."""


def amount(value: Any, currency: str | None = None) -> float | None:
    """A webhook's money value (`"199.00"`, `"1,234.00"`, a JSON number) as a number; None when absent.
    Text is read as app/engine/order_files.money reads it (the last separator before 1-2 digits, or 3
    for a currency with three decimals such as KWD, is the decimal mark). Raises ValueError for anything
    else, a negative amount or one above MAX_AMOUNT: the door and the conversion share this reading, so
    what is taken becomes the number that was written."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an amount")
    if isinstance(value, (int, float)):
        found: float | None = float(value)
    elif isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value.strip()):
        found = money(value.strip(), currency)
    else:
        raise ValueError(f"{value!r:.40} is not an amount")
    if found is None or not math.isfinite(found) or not 0 <= found <= MAX_AMOUNT:
        raise ValueError(f"{value!r:.40} is not an amount from 0 to {MAX_AMOUNT:,.2f}")
    return found


_WORDS = {ID: "a number or text id", TEXT: "text", MONEY: f"an amount such as \"19.99\" (from 0 to {MAX_AMOUNT:,.0f})",
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

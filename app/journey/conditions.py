"""Condition rows (on event properties, contact attributes and tags) and their evaluation.

Shared by trigger conditions, audiences, exit conditions and goals, so the
inspector, the validator and the engine agree on what a row means.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from .schema import CHOICE, EVENT, GROUP, LIST, MAX_ATTRIBUTE, TAGS, TEXT, Config, Field, choices

SOURCES = choices(("event", "Event property"), ("contact", "Contact attribute"), ("tag", "Contact tag"))
OPERATORS = choices(
    ("equals", "is"), ("not_equals", "is not"), ("contains", "contains"),
    ("greater_than", "is more than"), ("less_than", "is less than"),
    ("at_least", "is at least"), ("at_most", "is at most"),
    ("exists", "is set / has tag"), ("not_exists", "is not set / lacks tag"),
)
CHANNELS = choices(("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"))
_UNARY = {"exists", "not_exists"}


def condition_list(name: str, label: str, *, sources: tuple[str, ...] = ("event", "contact", "tag"),
                   **extra: Any) -> Field:
    """A list of condition rows that must all hold."""
    row = (
        Field("source", CHOICE, "On", default=sources[0],
              choices=tuple(c for c in SOURCES if c.value in sources)),
        Field("field", TEXT, "Property, attribute or tag", required=True, max_length=MAX_ATTRIBUTE),
        Field("op", CHOICE, "Test", default="equals", choices=OPERATORS),
        Field("value", TEXT, "Value", visible_when={"op": tuple(o.value for o in OPERATORS if o.value not in _UNARY)}),
    )
    return Field(name, LIST, label, fields=row, **extra)


def audience_field(name: str = "audience", label: str = "Audience") -> Field:
    return Field(name, GROUP, label, help="Who may enter. Leave empty for all contacts.", fields=(
        Field("include_tags", TAGS, "Only contacts tagged"),
        Field("exclude_tags", TAGS, "Except contacts tagged"),
        condition_list("conditions", "Attribute conditions", sources=("contact",)),
        Field("reachable_on", CHOICE, "Reachable on", default="",
              choices=choices(("", "Any channel"), *((c.value, c.label) for c in CHANNELS))),
    ))


def event_rule_fields(event_default: str = "") -> tuple[Field, ...]:
    return (
        Field("event", EVENT, "Event", default=event_default, required=True),
        condition_list("conditions", "Only when", sources=("event", "contact", "tag")),
    )


# A number written in text: ASCII digits only. float() would also take "١٠" (Arabic-Indic digits),
# "1_000", "nan" and "inf", none of which a person means as a number here.
_NUMBER_RE = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")


def _as_number(value: Any) -> float | None:
    """A finite number for comparing, or None: text compares as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:        # an integer beyond any float
            return None
    elif isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        number = float(value)
    else:
        return None
    return number if math.isfinite(number) else None


def _lookup(source: str, name: str, event: Mapping[str, Any], contact: Mapping[str, Any]) -> Any:
    """Dotted names reach into nested data: `cart.total`."""
    data: Any = event if source == "event" else contact
    for part in name.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def holds(row: Config, event: Mapping[str, Any], contact: Mapping[str, Any], tags: set[str] | frozenset[str]) -> bool:
    """Evaluates one row. Numbers compare numerically, everything else as text."""
    op, name = row["op"], row["field"]
    if row["source"] == "tag":
        present = name in tags
        return not present if op in ("not_exists", "not_equals") else present
    actual = _lookup(row["source"], name, event, contact)
    if op == "exists":
        return actual is not None and actual != ""
    if op == "not_exists":
        return actual is None or actual == ""
    if actual is None:
        return op == "not_equals"
    expected = row.get("value", "")
    if op == "contains":
        if isinstance(actual, (list, tuple)):
            return any(str(x).lower() == str(expected).lower() for x in actual)
        return str(expected).lower() in str(actual).lower()
    a, b = _as_number(actual), _as_number(expected)
    if op in ("equals", "not_equals"):
        same = a == b if a is not None and b is not None else str(actual).lower() == str(expected).lower()
        return same if op == "equals" else not same
    if a is None or b is None:
        return False
    return {"greater_than": a > b, "less_than": a < b, "at_least": a >= b, "at_most": a <= b}[op]


def all_hold(rows: list[Config], event: Mapping[str, Any], contact: Mapping[str, Any],
             tags: set[str] | frozenset[str]) -> bool:
    return all(holds(r, event, contact, tags) for r in rows)


def describe(row: Config) -> str:
    """"cart.total is more than 50" — for summaries and problem messages."""
    label = dict((o.value, o.label) for o in OPERATORS)[row["op"]]
    if row["source"] == "tag":
        return f"tagged {row['field']}" if row["op"] not in ("not_exists", "not_equals") else f"not tagged {row['field']}"
    value = "" if row["op"] in _UNARY else f" {row.get('value', '')}"
    return f"{row['field']} {label}{value}"

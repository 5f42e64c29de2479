"""Config schemas: one declaration per field drives defaults, loading, checks and the inspector.

A schema is a tuple of `Field`s. Values are plain JSON data (str, int, float, bool,
list, dict), so a config can be written to a file and read back unchanged.

Two levels of checking, on purpose:
- `coerce` runs when a file is loaded: it fills defaults and rejects values of the
  wrong *type* (a string where a number belongs). Such a file cannot become a model.
- `checks.check` runs during validation: it reports values that are well-typed but not
  usable yet (an empty subject, a zero wait). The journey still loads and can be
  fixed in the editor.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterator, TypeGuard
from zoneinfo import available_timezones

# Field types. Composite values use "group" (a dict of sub-fields) and "list"
# (a list of groups), so nested settings need no special-case code anywhere.
TEXT = "text"            # one line of text
MULTILINE = "multiline"  # free text (notes, descriptions)
TEMPLATE = "template"    # Jinja2 template text, checked against known variables
INT = "int"
NUMBER = "number"
BOOL = "bool"
CHOICE = "choice"        # one of `choices`
EVENT = "event"          # an event type name: suggestions in `choices`, custom names allowed
TIME = "time"            # "HH:MM", 24-hour clock
WEEKDAYS = "weekdays"    # list of "mon".."sun"
TIMEZONE = "timezone"    # IANA name; "" means the field's `choices[0]` label ("The business's time zone")
DATETIME = "datetime"    # ISO-8601 with offset, "" when unset
TAGS = "tags"            # list of tag names
NODE_REF = "node_ref"    # id of another node in the same journey, "" when unset
GROUP = "group"
LIST = "list"
DURATION = "duration"    # a group {"amount": int, "unit": minutes|hours|days|weeks}, shown as number + unit

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")    # ASCII digits only: "٠٩:٠٠" is not a time

# --- bounds: what the engine can compute with and the store can keep ---------------------------
# Durations: waits, windows, caps, "again after N days", "no order for N days". Five years is longer
# than any journey means to wait, and keeps every computed instant far inside datetime's range.
MAX_DURATION_DAYS = 5 * 365
MAX_DURATION_HOURS = MAX_DURATION_DAYS * 24
MAX_DURATION_MINUTES = MAX_DURATION_HOURS * 60
# Dates (send at, wait until): within a century of today, on either side.
MAX_DATE_YEARS = 100
_DATE_SPAN = timedelta(days=MAX_DATE_YEARS * 365 + MAX_DATE_YEARS // 4)
# Money: the store keeps amounts as Numeric(14, 2) (contacts.lifetime_spend, run_log.revenue).
MAX_AMOUNT = 999_999_999_999.99
# Canvas coordinates and sizes: finite and within a million points of the origin.
MAX_POSITION = 1_000_000.0
# Text that reaches a column of the store (app/store/tables.py; a test compares them).
MAX_ID = 36              # journeys.id, runs.node_id, messages.node_id: uuid strings
MAX_NAME = 200           # journeys.name; a step's name likewise
MAX_TAG = 100            # contact_tags.tag
MAX_EVENT = 100          # events.type
MAX_ATTRIBUTE = 200      # attribute_catalog.name: a contact attribute or event property name
MAX_EMAIL = 320          # messages.sender, messages.recipient (RFC 5321 path limits)
# Text without a column of its own, bounded so that a file cannot carry megabytes in one field.
TEXT_LIMITS = {"text": 1_000, "multiline": 10_000, "template": 100_000, "event": MAX_EVENT,
               "node_ref": MAX_ID, "timezone": 64, "tags": MAX_TAG}

Config = dict[str, Any]


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Field:
    """One setting of a node kind or of a journey.

    `visible_when` maps sibling field names to the values under which this field
    applies (e.g. the event name only matters when the trigger mode is "event").
    `hidden_when` hides it again when all of its siblings hold those values (an SMS or
    WhatsApp message text, except for a WhatsApp step that sends a template).
    Hidden fields keep their values but are neither checked nor shown.
    """

    name: str
    type: str
    label: str
    default: Any = None
    help: str = ""
    choices: tuple[Choice, ...] = ()
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None              # for a duration: its longest length in minutes
    max_length: int | None = None             # characters of text (of each tag); None: TEXT_LIMITS
    fields: tuple["Field", ...] = ()          # sub-fields of a group, or of each list item
    visible_when: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    hidden_when: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    suffix: str = ""                          # unit shown after a number ("days")
    presets: tuple[Any, ...] = ()             # quick picks offered by the inspector (30/60/90)

    def default_value(self) -> Any:
        if self.type in (GROUP, DURATION):
            return defaults(self.fields)
        if self.type == LIST:
            return copy.deepcopy(self.default) if self.default is not None else []
        if self.default is None:
            return _EMPTY.get(self.type)
        return copy.deepcopy(self.default)

    def text_limit(self) -> int | None:
        """The most characters the field's text (each of its tags) may have, or None."""
        return self.max_length if self.max_length is not None else TEXT_LIMITS.get(self.type)

    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def label_for(self, value: Any) -> str:
        for c in self.choices:
            if c.value == value:
                return c.label
        return str(value)


_EMPTY: dict[str, Any] = {
    TEXT: "", MULTILINE: "", TEMPLATE: "", INT: 0, NUMBER: 0, BOOL: False,
    CHOICE: "", EVENT: "", TIME: "00:00", WEEKDAYS: [], TIMEZONE: "",
    DATETIME: "", TAGS: [], NODE_REF: "",
}


def choices(*pairs: tuple[str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(v, l) for v, l in pairs)


UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080}
_UNITS = choices(("minutes", "minutes"), ("hours", "hours"), ("days", "days"), ("weeks", "weeks"))


def duration(name: str, label: str, amount: int, unit: str, *, minimum: int = 0,
             longest_days: int = MAX_DURATION_DAYS, **extra: Any) -> Field:
    """A number + unit field; `minimum` applies to the amount, `longest_days` to the whole length
    (whatever the unit: 5 years is 1825 days, 260 weeks, 43800 hours)."""
    parts = (Field("amount", INT, "Amount", default=amount, minimum=minimum),
             Field("unit", CHOICE, "Unit", default=unit, choices=_UNITS))
    return Field(name, DURATION, label, fields=parts, maximum=longest_days * UNIT_MINUTES["days"], **extra)


def longest_amount(f: Field, unit: str) -> int:
    """The largest whole amount of `unit` that a duration field `f` allows (1825 days, 260 weeks)."""
    assert f.maximum is not None, f"duration {f.name} declares no maximum"
    return int(f.maximum) // UNIT_MINUTES[unit]


def duration_minutes(value: Config) -> int:
    """A nominal length in minutes (a day counted as 1440), for comparing and checking durations.

    Not for computing when a duration ends: days and weeks are calendar days in the
    contact's time zone (23 or 25 hours across a DST change); the engine uses
    `app.engine.timeutil.add_duration` for that.
    """
    return int(value["amount"]) * UNIT_MINUTES[value["unit"]]


def format_duration(value: Config, *, short: bool = False) -> str:
    """"1 hour", "3 days"; short: "24 h", "5 d", "30 min"."""
    amount, unit = value["amount"], value["unit"]
    if short:
        return f"{amount} {dict(minutes='min', hours='h', days='d', weeks='w')[unit]}"
    return f"{amount} {unit[:-1] if amount == 1 else unit}"


def defaults(schema: tuple[Field, ...]) -> Config:
    return {f.name: f.default_value() for f in schema}


def is_visible(f: Field, config: Config) -> bool:
    if not all(config.get(k) in allowed for k, allowed in f.visible_when.items()):
        return False
    return not (f.hidden_when and all(config.get(k) in values for k, values in f.hidden_when.items()))


def walk(schema: tuple[Field, ...], config: Config, pointer: str = "") -> Iterator[tuple[Field, Any, str]]:
    """Yields (field, value, JSON pointer) for every visible field, depth first."""
    for f in schema:
        if not is_visible(f, config):
            continue
        value = config.get(f.name)
        path = f"{pointer}/{f.name}"
        yield f, value, path
        if f.type in (GROUP, DURATION) and isinstance(value, dict):
            yield from walk(f.fields, value, path)
        elif f.type == LIST and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    yield from walk(f.fields, item, f"{path}/{i}")


class SchemaError(ValueError):
    """A value of the wrong type; `pointer` is a JSON pointer relative to the config."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message


def _describe(value: Any) -> str:
    if value is None or isinstance(value, bool):      # as the file wrote it
        return {None: "null", True: "true", False: "false"}[value]
    try:
        text = repr(value)
    except ValueError:          # an int too long to print (over 4,300 digits)
        return "a number too large to show"
    return text if len(text) <= 40 else text[:37] + "..."


@lru_cache(maxsize=1)
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_datetime(text: str) -> datetime:
    """ISO-8601 with an explicit offset; a trailing Z means UTC. Raises ValueError otherwise, and for
    digits other than ASCII 0-9. The instant may still lie beyond what UTC can show (year 9999 at
    -14:00): `date_problem` says whether a date is one to use."""
    if not text.isascii():
        raise ValueError("ISO-8601 dates use the digits 0-9")
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError("needs a time zone offset")
    return value


def date_window(now: datetime) -> tuple[datetime, datetime]:
    """The first and last instants a date field may hold: MAX_DATE_YEARS around `now` (aware)."""
    return now - _DATE_SPAN, now + _DATE_SPAN


def date_problem(value: datetime, now: datetime) -> str | None:
    """Why the aware `value` is not a date to use (more than MAX_DATE_YEARS from `now`), or None."""
    first, last = date_window(now)
    try:
        inside = first <= value.astimezone(timezone.utc) <= last
    except OverflowError:       # 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        inside = False
    if inside:
        return None
    return (f"must be within {MAX_DATE_YEARS} years of today (between {first:%Y-%m-%d} and "
            f"{last:%Y-%m-%d})")


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A number (not a bool) with a finite float value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:       # an int beyond any float
        return False


def coerce(schema: tuple[Field, ...], raw: Any, pointer: str = "") -> Config:
    """Builds a complete config from loaded data: fills defaults, rejects wrong types.

    Unknown keys are kept (a newer app may have written them) so that loading and
    saving never loses anything.
    """
    if not isinstance(raw, dict):
        raise SchemaError(pointer or "/", f"expected an object, got {_describe(raw)}")
    out: Config = dict(raw)
    for f in schema:
        path = f"{pointer}/{f.name}"
        if f.name not in raw or raw[f.name] is None:
            out[f.name] = f.default_value()
            continue
        out[f.name] = _coerce_value(f, raw[f.name], path)
    return out


def _coerce_value(f: Field, value: Any, path: str) -> Any:
    t = f.type
    if t in (TEXT, MULTILINE, TEMPLATE, EVENT, NODE_REF):
        if not isinstance(value, str):
            raise SchemaError(path, f"expected text, got {_describe(value)}")
        return value
    if t == INT:
        if not is_finite_number(value) or isinstance(value, float) and not value.is_integer():
            raise SchemaError(path, f"expected a whole number, got {_describe(value)}")
        return int(value)
    if t == NUMBER:
        if not is_finite_number(value):
            raise SchemaError(path, f"expected a finite number, got {_describe(value)}")
        return value
    if t == BOOL:
        if not isinstance(value, bool):
            raise SchemaError(path, f"expected true or false, got {_describe(value)}")
        return value
    if t == CHOICE:
        if value not in f.choice_values():
            allowed = ", ".join(f.choice_values())
            raise SchemaError(path, f"expected one of {allowed}, got {_describe(value)}")
        return value
    if t == TIME:
        if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
            raise SchemaError(path, f"expected a time of day as HH:MM, got {_describe(value)}")
        return value
    if t == WEEKDAYS:
        if not isinstance(value, list) or any(d not in WEEKDAY_NAMES for d in value):
            raise SchemaError(path, f"expected a list of weekdays ({', '.join(WEEKDAY_NAMES)}), got {_describe(value)}")
        return [d for d in WEEKDAY_NAMES if d in value]
    if t == TIMEZONE:
        if not isinstance(value, str) or (value and value not in timezone_names()):
            raise SchemaError(path, f"expected an IANA time zone such as Europe/Berlin, got {_describe(value)}")
        return value
    if t == DATETIME:
        if not isinstance(value, str):
            raise SchemaError(path, f"expected an ISO-8601 date and time, got {_describe(value)}")
        if value:
            try:
                parse_datetime(value)
            except ValueError:
                raise SchemaError(path, f"expected an ISO-8601 date and time with offset such as 2026-12-24T09:00:00+01:00, got {_describe(value)}") from None
        return value
    if t == TAGS:
        if not isinstance(value, list) or any(not isinstance(x, str) for x in value):
            raise SchemaError(path, f"expected a list of tag names, got {_describe(value)}")
        return value
    if t in (GROUP, DURATION):
        return coerce(f.fields, value, path)
    if t == LIST:
        if not isinstance(value, list):
            raise SchemaError(path, f"expected a list, got {_describe(value)}")
        return [coerce(f.fields, item, f"{path}/{i}") for i, item in enumerate(value)]
    raise AssertionError(f"unknown field type {t!r}")  # a registry bug, not user input

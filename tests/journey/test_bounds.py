"""Every duration, number, date, text, id and position a journey holds has a range declared once in the
schema, and validation reports a value outside it at the field's JSON pointer with the allowed range
(issue 9, "Values are bounded where they enter"). The tables below name every such field; a test checks
that they do, so a field added later cannot go unbounded."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.journey.checks import check
from app.journey.conditions import holds
from app.journey.model import Journey, Node
from app.journey.registry import all_kinds
from app.journey.schema import (DATETIME, DURATION, GROUP, INT, LIST, MAX_AMOUNT, MAX_DURATION_DAYS, NUMBER, TAGS,
                                UNIT_MINUTES, Field, longest_amount)
from app.journey.settings import MAX_CAP_MESSAGES, SETTINGS_SCHEMA
from app.journey.validate import ERROR, Problem, validate

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SENDER = {"channel": "email", "sender": "Shop <shop@example.com>", "subject": "Hi", "text": "Hello"}

# (where, what makes the field apply, its path): "settings" or a node kind.
DURATIONS = [
    ("wait", {"mode": "duration"}, "delay"),
    ("message_status", {}, "window"),
    ("settings", {"goal": {"enabled": True, "event": "order_placed"}}, "goal/window"),
    ("settings", {}, "conversion_window"),
]
NUMBERS = [   # (where, context, path, least, most)
    ("trigger", {"mode": "no_order"}, "days", 1, MAX_DURATION_DAYS),
    ("trigger", {"mode": "spend"}, "threshold", 0.01, MAX_AMOUNT),
    ("settings", {"entry": {"mode": "after_days"}}, "entry/days", 1, MAX_DURATION_DAYS),
    ("settings", {"frequency_cap": {"enabled": True}}, "frequency_cap/hours", 1, MAX_DURATION_DAYS * 24),
    ("settings", {"frequency_cap": {"enabled": True}}, "frequency_cap/messages", 1, MAX_CAP_MESSAGES),
]
DATES = [
    ("trigger", {"mode": "manual", "send": "scheduled"}, "send_at"),
    ("send_template", {**SENDER, "timing": "scheduled"}, "send_at"),
    ("wait", {"mode": "until_date"}, "until"),
]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _set(config: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split("/")
    for name in parents:
        config = config[name]
    config[last] = value


def place(where: str, context: dict[str, Any], path: str, value: Any) -> tuple[Journey, Node | None, str]:
    """A journey whose field at `path` (in the settings or in a node of kind `where`) holds `value`,
    set after loading, as an edit would; returns it, the node, and the pointer validation uses."""
    journey = Journey(name="Bounds")
    trigger = journey.add_node("trigger", context if where == "trigger" else {"event": "cart_abandoned"})
    if where == "settings":
        _merge(journey.settings, context)
        _set(journey.settings, path, value)
        return journey, None, f"/settings/{path}"
    node = trigger if where == "trigger" else journey.add_node(where, context)
    if node is not trigger:
        journey.connect(trigger.id, node.id)
    _set(node.config, path, value)
    return journey, node, f"/config/{path}"


def problems_at(journey: Journey, node: Node | None, pointer: str) -> list[Problem]:
    return [p for p in validate(journey, now=NOW)
            if p.severity == ERROR and p.field == pointer and p.node_id == (node.id if node else None)]


# --- durations --------------------------------------------------------------------------------

@pytest.mark.parametrize("where, context, path", DURATIONS, ids=[f"{w}:{p}" for w, _, p in DURATIONS])
@pytest.mark.parametrize("unit", list(UNIT_MINUTES))
def test_every_duration_is_at_most_five_years_in_every_unit(where, context, path, unit):
    longest = MAX_DURATION_DAYS * 1440 // UNIT_MINUTES[unit]
    journey, node, pointer = place(where, context, path, {"amount": longest, "unit": unit})
    assert problems_at(journey, node, pointer + "/amount") == []
    for amount in (longest + 1, 10**9, 10**11, 10**300):
        journey, node, pointer = place(where, context, path, {"amount": amount, "unit": unit})
        [problem] = problems_at(journey, node, pointer + "/amount")
        assert problem.message.endswith(f"must be at most 5 years: {longest:,} {unit}")


@pytest.mark.parametrize("where, context, path, amount, unit", [
    ("wait", {"mode": "duration"}, "delay", 10**9, "days"),
    ("message_status", {}, "window", 10**11, "minutes"),
    ("settings", {}, "conversion_window", 10**9, "days"),
])
def test_the_issues_durations_are_validation_errors(where, context, path, amount, unit):
    journey, node, pointer = place(where, context, path, {"amount": amount, "unit": unit})
    assert problems_at(journey, node, pointer + "/amount")


def test_a_frequency_cap_of_a_billion_hours_is_a_validation_error():
    journey, node, pointer = place("settings", {"frequency_cap": {"enabled": True}}, "frequency_cap/hours", 10**9)
    [problem] = problems_at(journey, node, pointer)
    assert problem.message == "Per must be between 1 and 43,800 hours"


# --- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("where, context, path, least, most", NUMBERS, ids=[f"{w}:{p}" for w, _, p, *_ in NUMBERS])
def test_every_number_has_a_finite_range(where, context, path, least, most):
    for fine in (least, most):
        journey, node, pointer = place(where, context, path, fine)
        assert problems_at(journey, node, pointer) == []
    bump = 0.01 if isinstance(least, float) else 1
    for bad in (least - bump, most + bump, 10**20, -(10**20), 1e300, float("nan"), float("inf"), -float("inf")):
        journey, node, pointer = place(where, context, path, bad)
        [problem] = problems_at(journey, node, pointer)
        assert "between" in problem.message


def test_the_range_is_said_as_people_write_it():
    journey, node, pointer = place("trigger", {"mode": "spend"}, "threshold", 1e20)
    [problem] = problems_at(journey, node, pointer)
    assert problem.message == "Lifetime spend must be between 0.01 and 999,999,999,999.99"
    journey, node, pointer = place("trigger", {"mode": "no_order"}, "days", 10**9)
    [problem] = problems_at(journey, node, pointer)
    assert problem.message == "Days without an order must be between 1 and 1,825 days"


@pytest.mark.parametrize("where, context, path, value, message", [
    ("trigger", {"mode": "event", "event": "x"}, "days", 10**9, "Days without an order must be between 1 and 1,825 days"),
    ("trigger", {"mode": "event", "event": "x"}, "threshold", 1e20,
     "Lifetime spend must be between 0.01 and 999,999,999,999.99"),
    ("settings", {"frequency_cap": {"enabled": False}}, "frequency_cap/hours", 10**9,
     "Per must be between 1 and 43,800 hours"),
    ("settings", {"frequency_cap": {"enabled": False}}, "frequency_cap/messages", 10**9,
     "At most must be between 1 and 1,000 messages"),
    ("settings", {"entry": {"mode": "every_time"}}, "entry/days", 10**9, None),
    ("settings", {"goal": {"enabled": False}}, "goal/window/amount", 10**9, None),
])
def test_a_value_out_of_range_is_refused_even_where_its_option_is_off(where, context, path, value, message):
    """Turning the option on later must not bring a billion hours into the engine."""
    journey, node, pointer = place(where, context, path, value)
    problems = [p for p in validate(journey, now=NOW)
                if p.severity == ERROR and p.field.startswith(pointer.rsplit("/amount", 1)[0])]
    assert problems, f"{pointer} = {value} was accepted"
    if message:
        assert problems[0].message == message


def test_a_hidden_field_is_not_judged_on_meaning():
    """Only bounds hold while hidden: an empty or past value of an unused field is no error."""
    journey, node, pointer = place("trigger", {"mode": "event", "event": "x"}, "send_at", "1900-01-01T00:00:00Z")
    assert problems_at(journey, node, pointer) == []
    journey, node, pointer = place("trigger", {"mode": "event", "event": "x"}, "date_attribute", "")
    assert problems_at(journey, node, pointer) == []


# --- dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("where, context, path", DATES, ids=[f"{w}:{p}" for w, _, p in DATES])
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                  "9999-12-31T23:59:59+00:00", "2127-03-02T09:00:00+00:00",
                                  "1925-01-01T00:00:00Z"])
def test_every_date_lies_within_a_hundred_years(where, context, path, when):
    journey, node, pointer = place(where, context, path, when)
    [problem] = problems_at(journey, node, pointer)
    assert "must be within 100 years of today (between 1926-" in problem.message
    validate(journey, now=NOW, active=True)      # judged as about to run: no OverflowError either


@pytest.mark.parametrize("where, context, path", DATES, ids=[f"{w}:{p}" for w, _, p in DATES])
def test_a_date_99_years_ahead_is_fine(where, context, path):
    when = (NOW + timedelta(days=99 * 365)).isoformat()
    journey, node, pointer = place(where, context, path, when)
    assert problems_at(journey, node, pointer) == []


# --- text, ids, names, positions --------------------------------------------------------------

@pytest.mark.parametrize("where, context, path, limit", [
    ("send_template", SENDER, "sender", 320),
    ("trigger", {"mode": "event"}, "event", 100),
    ("trigger", {"mode": "anniversary"}, "date_attribute", 200),
    ("trigger", {"mode": "event"}, "conditions", 200),
    ("send_template", {**SENDER, "missing": "fallback"}, "fallback", 1000),
    ("send_template", {**SENDER, "recipients": "matching"}, "terms", 100),
    ("send_template", SENDER, "subject", 100_000),
])
def test_text_fields_are_within_their_length(where, context, path, limit):
    def value(n: int) -> Any:
        if path == "conditions":
            return [{"source": "event", "field": "a" * n, "op": "exists", "value": ""}]
        if path == "terms":
            return [{"term": "has_tag", "value": "a" * n}]
        if path == "sender":
            return "a" * (n - len("@example.com")) + "@example.com"
        return "a" * n
    pointer_tail = {"conditions": "/0/field", "terms": "/0/value"}.get(path, "")
    journey, node, pointer = place(where, context, path, value(limit))
    assert problems_at(journey, node, pointer + pointer_tail) == []
    journey, node, pointer = place(where, context, path, value(limit + 1))
    # The length is one problem at the field (a template that long may also be a template problem).
    found = problems_at(journey, node, pointer + pointer_tail)
    assert [p for p in found if f"is longer than {limit:,} characters" in p.message]


@pytest.mark.parametrize("where, context, path", [
    ("tag", {}, "add"), ("tag", {}, "remove"), ("trigger", {"mode": "event"}, "audience/include_tags"),
    ("trigger", {"mode": "event"}, "audience/exclude_tags"),
])
def test_tags_are_at_most_100_characters(where, context, path):
    journey, node, pointer = place(where, context, path, ["vip", "t" * 100])
    assert problems_at(journey, node, pointer + "/1") == []
    journey, node, pointer = place(where, context, path, ["vip", "t" * 101])
    [problem] = problems_at(journey, node, pointer + "/1")
    assert "is longer than 100 characters" in problem.message


def test_ids_names_and_positions_are_bounded():
    journey = Journey(id="j" * 37, name="n" * 201)
    trigger = journey.add_node("trigger", node_id="t" * 37, name="s" * 201, position=(2e6, 0))
    journey.add_node("tag", {"add": ["x"]}, node_id="tag", position=(float("nan"), 0))
    journey.connect(trigger.id, "tag", edge_id="e" * 37)
    journey.add_note("hi", (0, 0), (1e300, 10), note_id="n" * 37)
    found = {(p.node_id, p.field): p.message for p in validate(journey, now=NOW) if p.severity == ERROR}
    assert "longer than 36 characters" in found[(None, "/id")]
    assert "longer than 200 characters" in found[(None, "/name")]
    assert "longer than 36 characters" in found[(trigger.id, "/id")]
    assert "longer than 200 characters" in found[(trigger.id, "/name")]
    assert "between -1,000,000 and 1,000,000" in found[(trigger.id, "/position")]
    assert "must be finite" in found[("tag", "/position")]
    assert "longer than 36 characters" in found[(None, "/edges/0/id")]
    assert "longer than 36 characters" in found[(None, "/notes/0/id")]
    assert "outside the canvas" in found[(None, "/notes/0/size")]


def test_a_journey_at_the_bounds_has_no_such_errors():
    journey = Journey(id="j" * 36, name="n" * 200)
    trigger = journey.add_node("trigger", {"event": "cart_abandoned"}, node_id="t" * 36, name="s" * 200,
                               position=(1e6, -1e6))
    found = [p for p in validate(journey, now=NOW) if p.field in ("/id", "/name", "/position")]
    assert found == [] and trigger.ends == ()


# --- numbers written as text in conditions ------------------------------------------------------

@pytest.mark.parametrize("written", ["\u0665", "\uff15", "nan", "inf", "5_0", "\u00b2"])
def test_digits_of_other_scripts_are_not_numbers_in_conditions(written):
    row = {"source": "event", "field": "total", "op": "greater_than", "value": written}
    assert holds(row, {"total": 10**400}, {}, set()) is False
    assert holds(row, {"total": 1}, {}, set()) is False
    assert holds({**row, "value": "5"}, {"total": 10}, {}, set()) is True
    assert holds({**row, "value": " 5.5e0 "}, {"total": 10}, {}, set()) is True


# --- every bounded field is in the tables above ---------------------------------------------------

def _fields(schema: tuple[Field, ...], prefix: str = "") -> list[tuple[str, Field]]:
    found = []
    for f in schema:
        path = f"{prefix}{f.name}"
        found.append((path, f))
        if f.type in (GROUP, LIST):
            found += _fields(f.fields, path + "/")
    return found


def _every(types: tuple[str, ...]) -> set[tuple[str, str]]:
    scopes = [("settings", SETTINGS_SCHEMA)] + [(k.id, k.schema) for k in all_kinds()]
    return {(where, path) for where, schema in scopes for path, f in _fields(schema) if f.type in types}


def test_the_tables_name_every_duration_number_and_date_field():
    assert _every((DURATION,)) == {(w, p) for w, _, p in DURATIONS}
    assert _every((INT, NUMBER)) == {(w, p) for w, _, p, *_ in NUMBERS}
    assert _every((DATETIME,)) == {(w, p) for w, _, p in DATES}


def test_every_field_declares_its_bound_once():
    scopes = [SETTINGS_SCHEMA] + [k.schema for k in all_kinds()]
    for schema in scopes:
        for path, f in _fields(schema):
            if f.type in (INT, NUMBER, DURATION) and path.split("/")[-1] != "amount":
                assert f.maximum is not None, path
            if f.type == DURATION:
                assert {longest_amount(f, u) for u in UNIT_MINUTES} == {2_628_000, 43_800, 1_825, 260}, path
            if f.type in ("text", "multiline", "template", "event", "node_ref", TAGS):
                assert f.text_limit() is not None, path


def test_check_takes_the_time_dates_are_judged_at():
    wait = next(k for k in all_kinds() if k.id == "wait")
    config = {**wait.default_config(), "mode": "until_date", "until": "2030-01-01T00:00:00Z"}
    assert check(wait.schema, config, NOW) == []
    assert check(wait.schema, config, datetime(2200, 1, 1, tzinfo=timezone.utc))

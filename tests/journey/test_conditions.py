import pytest

from app.journey.conditions import all_hold, describe, holds


def row(source, field, op, value=""):
    return {"source": source, "field": field, "op": op, "value": value}


@pytest.mark.parametrize("condition, expected", [
    (row("event", "total", "greater_than", "50"), True),
    (row("event", "total", "at_most", "50"), False),
    (row("event", "cart.currency", "equals", "eur"), True),     # nested, case-insensitive text
    (row("event", "items", "contains", "Mug"), True),           # list membership
    (row("event", "coupon", "exists"), False),
    (row("contact", "city", "not_equals", "Paris"), True),
    (row("tag", "vip", "exists"), True),
    (row("tag", "vip", "not_exists"), False),
    (row("contact", "age", "less_than", "abc"), False),         # not a number: never true
])
def test_condition_rows(condition, expected):
    event = {"total": 75.5, "cart": {"currency": "EUR"}, "items": ["mug", "tea"]}
    contact = {"city": "Lyon", "age": 30}
    assert holds(condition, event, contact, {"vip"}) is expected


def test_all_rows_must_hold_and_describe_reads_naturally():
    rows = [row("event", "total", "at_least", "20"), row("tag", "vip", "exists")]
    assert all_hold(rows, {"total": 25}, {}, {"vip"})
    assert not all_hold(rows, {"total": 25}, {}, set())
    assert describe(rows[0]) == "total is at least 20"


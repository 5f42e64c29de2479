"""Each trigger kind declares what its event carries: suggestions and validation use it on a fresh install."""
from __future__ import annotations

import pytest

from app.journey.event_properties import EVENT_PROPERTIES, NO_EVENT_MODES, trigger_event_type
from app.journey.node_kinds import KNOWN_EVENTS, TRIGGER
from app.journey.snippets import snippets_for
from app.journey.templates import VariableCatalog, variable_names
from app.journey.validate import ERROR, WARNING, validate
from app.journey.variables import open_loops, suggestions

from .helpers import email, linear
from .test_validate import NOW


def _trigger(mode: str = "event", event: str = "cart_abandoned") -> dict:
    return {**TRIGGER.default_config(), "mode": mode, "event": event}


def test_every_known_event_and_every_trigger_mode_is_declared():
    assert {c.value for c in KNOWN_EVENTS} == set(EVENT_PROPERTIES)
    modes = {c.value for c in next(f for f in TRIGGER.schema if f.name == "mode").choices}
    assert modes == set(NO_EVENT_MODES) | {"event", "spend"}
    for properties in EVENT_PROPERTIES.values():
        assert all(p.description for p in properties)


@pytest.mark.parametrize(("trigger", "expected", "absent"), [
    (_trigger(), {"event.items", "event.cart_url", "event.total", "event.currency"}, {"event.order_id"}),
    (_trigger(event="order_placed"), {"event.order_id", "event.items", "event.total"}, {"event.cart_url"}),
    (_trigger(event="checkout_started"), {"event.cart_url", "event.items", "event.total"}, {"event.order_id"}),
    (_trigger(event="product_viewed"), {"event.product", "event.product.name", "event.product.url"}, {"event.items"}),
    (_trigger(event="subscribed"), {"event.channel", "event.source"}, {"event.items"}),
    (_trigger("spend"), {"event.order_id", "event.total"}, set()),          # the order that crossed the threshold
])
def test_a_fresh_install_suggests_the_triggers_event_properties(trigger, expected, absent):
    names = set(variable_names(trigger, VariableCatalog()))
    assert expected <= names and not absent & names
    assert "contact.first_name" in names


@pytest.mark.parametrize("mode", sorted(NO_EVENT_MODES))
def test_time_based_and_manual_journeys_offer_no_event(mode):
    assert trigger_event_type(_trigger(mode)) is None
    assert not [n for n in variable_names(_trigger(mode), None) if n.startswith("event.")]


def test_a_custom_event_suggests_what_the_store_saw_and_its_conditions():
    trigger = _trigger(event="quiz_done")
    trigger["conditions"] = [{"source": "event", "field": "score.total", "op": "exists", "value": ""}]
    catalog = VariableCatalog(frozenset(), {"quiz_done": frozenset({"answers"})})
    assert [n for n in variable_names(trigger, catalog) if n.startswith("event.")] == ["event.answers", "event.score"]


def test_seen_properties_add_to_the_declared_ones():
    catalog = VariableCatalog(frozenset(), {"cart_abandoned": frozenset({"coupon"})})
    names = variable_names(_trigger(), catalog)
    assert "event.coupon" in names and "event.cart_url" in names


def test_loop_variables_get_the_items_fields():
    found = suggestions(variable_names(_trigger(), None), _trigger())
    names = [n for n, _ in found.at("{% for item in event.items %}{{ ")]
    assert names[:6] == ["item.name", "item.title", "item.price", "item.quantity", "item.url", "item.image"]
    assert "loop.index" in names and "event.cart_url" in names
    assert dict(found.at("{% for line in event.items %}"))["line.price"].startswith("the price of one")
    assert not [n for n, _ in found.at("{% for item in event.items %}x{% endfor %}{{ ") if n.startswith("item.")]
    # `| default([])`, whitespace control and nested loops are understood.
    assert open_loops("{%- for i in event.items | default([]) -%}{% for t in contact.tags %}") == [
        ("i", "event.items"), ("t", "contact.tags")]
    assert open_loops("{% for i in event.items %}{% for t in contact.tags %}{% endfor %}") == [("i", "event.items")]


def _problems(trigger: dict, text: str, catalog: VariableCatalog | None = None):
    journey = linear(email(text=text + "\n{{ unsubscribe_url }}"))
    journey.trigger().config.update(trigger)
    return [(p.severity, p.message, p.hint) for p in validate(journey, now=NOW, catalog=catalog)]


def test_a_typo_in_an_event_property_is_caught_on_a_fresh_install():
    [(severity, message, hint)] = _problems(_trigger(), "{{ event.cart_ulr }}", VariableCatalog(frozenset(), {}))
    assert severity == WARNING       # nothing seen yet: the shop may send it
    assert message == "Plain-text body: 'event.cart_ulr' is not among the properties a cart_abandoned event carries"
    assert hint == "Did you mean event.cart_url?"
    assert _problems(_trigger(), "{{ event.cart_url }} {{ event.items[0].name }}", VariableCatalog(frozenset(), {})) == []
    assert _problems(_trigger(), "{{ event.cart_ulr }}")[0][0] == WARNING      # no store at all (validate FILE)
    # Once such events were seen, a name neither declared nor seen is an error, as before.
    catalog = VariableCatalog(frozenset(), {"cart_abandoned": frozenset({"items"})})
    assert _problems(_trigger(), "{{ event.cart_ulr }}", catalog)[0][0] == ERROR
    assert _problems(_trigger(), "{{ event.currency }}", catalog) == []      # declared: fine even if unseen


def test_event_values_in_a_journey_without_an_event_are_always_missing():
    [(severity, message, _hint)] = _problems(_trigger("no_order"), "{{ event.total | money }}")
    assert severity == WARNING
    assert message == ("Plain-text body: 'event.total' is always missing: this journey starts after days without "
                       "an order, without an event")
    assert _problems(_trigger("spend"), "{{ event.order_id }}") == []


def test_a_custom_event_never_seen_is_not_judged():
    assert _problems(_trigger(event="quiz_done"), "{{ event.anything }}", VariableCatalog(frozenset(), {})) == []


@pytest.mark.parametrize(("field", "channel", "trigger", "offered", "enabled"), [
    ("html", "email", _trigger(), True, True),
    ("text", "email", _trigger(event="order_placed"), True, True),
    ("message", "sms", _trigger("spend"), True, True),
    ("message", "whatsapp", _trigger(event="quiz_done"), True, True),     # a custom event may carry items
    ("html", "email", _trigger(event="subscribed"), True, False),
    ("html", "email", _trigger("anniversary"), True, False),
    ("subject", "email", _trigger(), False, False),
    ("value", "whatsapp", _trigger(), False, False),      # a WhatsApp template variable is one line
])
def test_the_cart_block_is_offered_where_it_fits(field, channel, trigger, offered, enabled):
    found = snippets_for(field, channel, trigger)
    assert bool(found) == offered
    if found:
        assert (not found[0].unavailable) == enabled


def test_a_typo_in_an_items_field_is_a_warning_with_the_right_name():
    text = ("{% for line in event.items | default([]) %}{{ line.nmae }} {{ line['prce'] }} {{ line.title }} "
            "{{ loop.index }}{% endfor %}")
    found = _problems(_trigger(), text)
    assert [(s, m) for s, m, _h in found] == [
        (WARNING, "Plain-text body: 'line.nmae' is not among the fields of event.items (line 1)"),
        (WARNING, "Plain-text body: 'line.prce' is not among the fields of event.items (line 1)")]
    assert [h for _s, _m, h in found] == ["Did you mean line.name?", "Did you mean line.price?"]
    assert _problems(_trigger(), "{% for item in event.items %}{{ item.name }}{{ item.url }}{% endfor %}") == []
    assert _problems(_trigger(event="quiz_done"), "{% for a in event.answers %}{{ a.text }}{% endfor %}") == []
    assert _problems(_trigger(), "{% for t in contact.tags %}{{ t.x }}{% endfor %}") == []


def test_an_unknown_root_is_reported_once_not_as_an_event_property():
    for catalog in (None, VariableCatalog(frozenset(), {}), VariableCatalog(frozenset(), {"cart_abandoned": frozenset()})):
        found = _problems(_trigger(), "{{ shop.name }}", catalog)
        assert [m for _s, m, _h in found] == ["Plain-text body: unknown variable 'shop'"]

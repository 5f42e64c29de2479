"""WhatsApp rules in the engine: a template step renders its variables for each contact into the outbox
row; free text goes only inside the 24-hour customer-service window, else the step is skipped
(`outside_whatsapp_window`), never queued to fail."""
from __future__ import annotations

from typing import Any

import pytest

from app.journey.fileformat import from_document, to_document

from .helpers import CONTACTS, chain, simple_journey


def whatsapp_step(journey, **config: Any):
    base: dict[str, Any] = {"channel": "whatsapp"}
    base.update(config)
    return journey.add_node("send_template", base)


def one_step(world, **config: Any):
    journey = simple_journey()
    step = whatsapp_step(journey, **config)
    chain(journey, journey.trigger(), step)
    world.contacts(CONTACTS)
    world.install(journey)
    return journey, step


ORDER = dict(wa_template="order_update", wa_language="en_GB",
             wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "{{ event.cart_id }} ({{ contact.city }})"}])


def test_template_variables_are_rendered_for_each_contact(world):
    one_step(world, **ORDER)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_id="C-17")
    world.event("cho", "cart_abandoned", "2026-03-02T10:05:00Z", cart_id="C-18")
    ann, cho = world.messages("ann")[0], world.messages("cho")[0]
    assert ann["whatsapp_template"] == {"name": "order_update", "language": "en_GB", "variables": ["Ann", "C-17 (London)"]}
    assert cho["whatsapp_template"]["variables"] == ["Cho", "C-18 (Tokyo)"]
    assert ann["channel"] == "whatsapp" and ann["recipient"] == "+15550001" and ann["body_text"] is None


def test_a_template_without_variables_is_queued_with_none(world):
    one_step(world, wa_template="hello_world")
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("ann")[0]["whatsapp_template"] == {"name": "hello_world", "language": "en_US",
                                                              "variables": []}


def test_a_missing_variable_takes_the_fallback(world):
    one_step(world, **ORDER, missing="fallback", fallback="your cart")
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")          # no cart_id
    assert world.messages("ann")[0]["whatsapp_template"]["variables"] == ["Ann", "your cart (London)"]


def test_a_variable_that_prints_nothing_is_missing_under_each_policy(world):
    journey = simple_journey()
    empty = [{"value": "{{ contact.first_name }}"}, {"value": "{{ event.cart_id }}"}]
    skip = whatsapp_step(journey, wa_template="order_update", wa_variables=empty, missing="skip")
    fallback = whatsapp_step(journey, wa_template="order_update", wa_variables=empty, missing="fallback",
                             fallback="")
    fail = whatsapp_step(journey, wa_template="order_update", wa_variables=empty, missing="fail")
    chain(journey, journey.trigger(), skip, fallback, fail)
    world.contacts(CONTACTS)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert world.messages("ann") == []           # never an empty template parameter (Twilio 21656, Meta 100)
    skipped = [(e["node_id"], e["reason"]) for e in world.log("ann", "skipped")]
    assert skipped == [(skip.id, "missing_variable"), (fallback.id, "missing_variable")]
    [failed] = world.log("ann", "failed")
    assert (failed["node_id"], failed["reason"]) == (fail.id, "missing_variable")


def test_free_text_goes_when_the_contact_wrote_within_24_hours(world):
    one_step(world, wa_mode="text", message="Thanks {{ contact.first_name }}, here is your cart")
    world.event("ann", "message_received", "2026-03-02T09:00:00Z", channel="whatsapp", text="Is it in stock?")
    world.event("ann", "cart_abandoned", "2026-03-03T08:59:00Z")         # 23 h 59 min later
    [message] = world.messages("ann")
    assert message["body_text"] == "Thanks Ann, here is your cart" and message["whatsapp_template"] is None


def test_free_text_outside_the_window_is_skipped_never_sent(world):
    one_step(world, wa_mode="text", message="Thanks!")
    world.event("ann", "message_received", "2026-03-02T09:00:00Z")
    world.event("ann", "cart_abandoned", "2026-03-03T09:00:00Z")         # exactly 24 h later: closed
    world.event("bob", "message_received", "2026-03-03T09:30:00Z")       # someone else wrote: not ann's window
    world.event("cho", "cart_abandoned", "2026-03-03T09:40:00Z")         # never wrote at all
    world.event("bob", "cart_abandoned", "2026-03-03T09:45:00Z")         # bob wrote 15 minutes ago: inside
    assert world.messages("ann") == [] and world.messages("cho") == []
    assert [m["channel"] for m in world.messages("bob")] == ["whatsapp"]
    for contact in ("ann", "cho"):
        assert [e["reason"] for e in world.log(contact, "skipped")] == ["outside_whatsapp_window"]


def test_a_message_written_after_the_step_does_not_open_the_window_backwards(world):
    one_step(world, wa_mode="text", message="Thanks!")
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_received", "2026-03-02T10:05:00Z")
    assert world.messages("ann") == []


def test_a_template_step_needs_no_window(world):
    one_step(world, **ORDER)
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z", cart_id="C-1")
    assert len(world.messages("cho")) == 1


def test_a_version_1_whatsapp_step_keeps_sending_its_text_as_free_text():
    journey = simple_journey()
    chain(journey, journey.trigger(), whatsapp_step(journey, wa_mode="text", message="Hi {{ contact.first_name }}"))
    data = to_document(journey)
    for node in data["nodes"]:
        if node["kind"] == "send_template":
            node["kind_version"] = 1
            for key in ("wa_mode", "wa_template", "wa_language", "wa_variables"):
                node["config"].pop(key)
    loaded = from_document(data)
    [step] = [n for n in loaded.nodes.values() if n.kind == "send_template"]
    assert step.config["wa_mode"] == "text" and step.config["message"] == "Hi {{ contact.first_name }}"


def test_the_window_is_judged_when_the_message_would_go_after_quiet_hours(world):
    journey = simple_journey(quiet_hours={"enabled": True, "start": "21:00", "end": "08:00"})
    step = whatsapp_step(journey, wa_mode="text", message="Thanks!")
    chain(journey, journey.trigger(), step)
    world.contacts(CONTACTS)
    world.install(journey)
    # ann (Europe/London) wrote at 20:30 and the cart came at 22:00, in quiet hours: held until 08:00,
    # when her message is 11.5 hours old — still inside.
    world.event("ann", "message_received", "2026-03-02T20:30:00Z")
    world.event("ann", "cart_abandoned", "2026-03-02T22:00:00Z")
    # bob (America/New_York) wrote on Monday 01:00 local; cart at 22:30 local, held until 08:00 Tuesday:
    # by then his message is 31 hours old.
    world.event("bob", "message_received", "2026-03-02T06:00:00Z")
    world.event("bob", "cart_abandoned", "2026-03-03T03:30:00Z")
    world.advance_to("2026-03-04T00:00:00Z")
    assert [m["channel"] for m in world.messages("ann")] == ["whatsapp"]
    assert world.messages("bob") == []
    assert [e["reason"] for e in world.log("bob", "skipped")] == ["outside_whatsapp_window"]
    assert [e["reason"] for e in world.log("bob", "deferred")] == ["quiet_hours"]


def test_the_simulators_activity_log_shows_the_template(world):
    from app.engine.simulator import activity_log

    journey, _ = one_step(world, **ORDER)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_id="C-9")
    [line] = [x for x in activity_log(world.db, journey, journey.id) if x["action"] == "sent"]
    assert line["template"] == {"name": "order_update", "language": "en_GB", "variables": ["Ann", "C-9 (London)"]}


def test_line_breaks_tabs_and_runs_of_spaces_in_a_variable_become_single_spaces(world):
    """WhatsApp refuses a template parameter with a line break, a tab or more than 4 spaces in a row
    (Meta code 100), so data such as a two-line address must not fail the message."""
    one_step(world, **ORDER)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", cart_id="12 High St\r\nFlat 3\tBack door     please ")
    variables = world.messages("ann")[0]["whatsapp_template"]["variables"]
    assert variables == ["Ann", "12 High St Flat 3 Back door please (London)"]


def test_a_variable_of_white_space_only_is_missing_and_a_fallback_of_white_space_does_not_fill_it(world):
    journey = simple_journey()
    blank = [{"value": "{{ contact.first_name }}"}, {"value": "{{ event.note }}"}]
    padded = whatsapp_step(journey, wa_template="order_update", wa_variables=blank, missing="fallback",
                           fallback="  your\norder  ")
    spaces = whatsapp_step(journey, wa_template="order_update", wa_variables=blank, missing="fallback",
                           fallback=" \n\t ")
    chain(journey, journey.trigger(), padded, spaces)
    world.contacts(CONTACTS)
    world.install(journey)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", note="\n \t\u2028")
    [message] = world.messages("ann")
    assert message["whatsapp_template"]["variables"] == ["Ann", "your order"]
    assert [(e["node_id"], e["reason"]) for e in world.log("ann", "skipped")] == [(spaces.id, "missing_variable")]


@pytest.mark.parametrize("channel, opens", [("sms", False), ("email", False), ("push", False), ("SMS ", False),
                                             (" WhatsApp ", True), ("whatsapp", True), ("", True), (None, True)])
def test_only_a_message_on_whatsapp_opens_the_window(world, channel, opens):
    """A `message_received` naming another channel (an SMS reply, an email) does not open WhatsApp's
    24-hour window: free text to such a contact would fail (Meta 131047, Twilio 63016). One that names
    no channel is taken to be WhatsApp's (the field is optional)."""
    one_step(world, wa_mode="text", message="Thanks!")
    props = {} if channel is None else {"channel": channel}
    world.event("ann", "message_received", "2026-03-02T09:00:00Z", **props)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert [m["channel"] for m in world.messages("ann")] == (["whatsapp"] if opens else [])
    if not opens:
        assert [e["reason"] for e in world.log("ann", "skipped")] == ["outside_whatsapp_window"]


def test_an_older_whatsapp_message_still_opens_the_window_behind_newer_sms_ones(world):
    one_step(world, wa_mode="text", message="Thanks!")
    world.event("ann", "message_received", "2026-03-02T01:00:00Z", channel="whatsapp")
    for minute in range(10, 40, 5):
        world.event("ann", "message_received", f"2026-03-02T09:{minute}:00Z", channel="sms")
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    assert [m["channel"] for m in world.messages("ann")] == ["whatsapp"]

"""Validation of WhatsApp send steps: a template step names an approved template and its language; a
free-text step earns a warning explaining the 24-hour customer-service window."""
from __future__ import annotations

from typing import Any

import pytest

from app.journey.registry import get_kind
from app.journey.validate import ERROR, WARNING, validate

from .helpers import linear


def whatsapp(**config: Any) -> tuple[str, dict]:
    return "send_template", {"channel": "whatsapp", **config}


def problems(*steps: tuple[str, dict]) -> list[tuple[str, str, str]]:
    return [(p.severity, p.field, p.message) for p in validate(linear(*steps)) if p.node_id is not None
            and p.field.startswith("/config/")]


def test_a_template_step_needs_a_name_and_a_language():
    found = problems(whatsapp(wa_template="", wa_language=""))
    assert (ERROR, "/config/wa_template", "Template name is empty") in found
    assert (ERROR, "/config/wa_language", "Template language is empty") in found
    assert problems(whatsapp(wa_template="order_update", wa_language="pt_BR")) == []


def test_a_new_whatsapp_step_is_a_template_in_english_by_default():
    config = get_kind("send_template").default_config()
    assert (config["wa_mode"], config["wa_language"], config["wa_variables"]) == ("template", "en_US", [])


@pytest.mark.parametrize("name", ["order_update", "hello_world", "cart_reminder_2", "HX" + "a1" * 16])
def test_meta_names_and_twilio_content_sids_are_template_names(name):
    assert problems(whatsapp(wa_template=name)) == []


@pytest.mark.parametrize("name", ["Order Update", "order-update", "HX123", "sale!"])
def test_other_names_are_not(name):
    [(severity, field, message)] = problems(whatsapp(wa_template=name))
    assert (severity, field) == (ERROR, "/config/wa_template") and "not a WhatsApp template name" in message


@pytest.mark.parametrize("code, ok", [("en", True), ("en_US", True), ("fil", True), ("en-US", False),
                                      ("English", False), ("EN_us", False)])
def test_language_codes(code, ok):
    found = problems(whatsapp(wa_template="order_update", wa_language=code))
    assert (found == []) is ok


def test_each_template_variable_is_a_checked_template():
    found = problems(whatsapp(wa_template="order_update", wa_variables=[{"value": "{{ contact.first_name }}"},
                                                                        {"value": "{{ nope.x }}"}, {"value": ""}]))
    assert any(f == "/config/wa_variables/1/value" and "unknown variable 'nope'" in m for _, f, m in found)
    assert (ERROR, "/config/wa_variables/2/value", "Value is empty") in found


def test_free_text_warns_about_the_24_hour_window_and_needs_its_message():
    found = problems(whatsapp(wa_mode="text", message="Thanks for writing!"))
    [(severity, field, message)] = found
    assert (severity, field) == (WARNING, "/config/wa_mode")
    assert "24 hours" in message and "outside_whatsapp_window" in message
    assert (ERROR, "/config/message", "Message is empty") in problems(whatsapp(wa_mode="text", message=""))


def test_template_fields_are_not_judged_on_a_free_text_step_nor_the_message_on_a_template_step():
    assert all(f != "/config/wa_template" for _, f, _ in problems(whatsapp(wa_mode="text", message="Hi",
                                                                          wa_template="Bad Name")))
    assert all(f != "/config/message" for _, f, _ in problems(whatsapp(wa_template="order_update", message="")))


def test_sms_steps_are_untouched_by_the_whatsapp_fields():
    assert problems(("send_template", {"channel": "sms", "message": "Hi", "wa_template": ""})) == []


def test_the_card_says_which_template():
    summarize = get_kind("send_template").summarize
    config = get_kind("send_template").default_config() | {"channel": "whatsapp", "wa_template": "order_update"}
    assert summarize(config) == "WhatsApp · template order_update"
    assert summarize(config | {"wa_mode": "text", "message": "Hi {{ contact.first_name }}"}) == "WhatsApp · Hi ‹first_name›"


def _branch_on(channel: str, status: str) -> list[str]:
    journey = linear(("send_template", {"channel": channel, "message": "Hi", "wa_template": "order_update"}))
    send = next(n for n in journey.nodes.values() if n.kind == "send_template")
    branch = journey.add_node("message_status", {"step": send.id, "status": status})
    journey.connect(send.id, branch.id)
    branch.ends = ("yes", "no")
    send.ends = ()
    return [p.message for p in validate(journey) if p.node_id == branch.id]


def test_a_whatsapp_read_receipt_can_be_waited_for_but_an_sms_open_cannot():
    assert _branch_on("whatsapp", "opened") == []          # WhatsApp's "read" is an open
    assert _branch_on("whatsapp", "delivered") == []
    assert any("report no 'clicked'" in m for m in _branch_on("whatsapp", "clicked"))
    assert any("report no 'opened'" in m for m in _branch_on("sms", "opened"))

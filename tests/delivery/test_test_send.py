"""Test sends: the step's message rendered by the engine's own renderer for a contact (or the sample), sent
at once marked [TEST], with no outbox row and nothing counted; `journeys send-test` checks its arguments."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.delivery import test_send as ts
from app.delivery.base import NotConfigured
from app.delivery.settings import DeliverySettings
from app.journey.fileformat import from_document
from app.store.journeys import JourneyStore
from app.store.tables import messages
from tests.engine.helpers import run_cli

from .shop import RecordingChannel, make_shop


@pytest.fixture
def shop(tmp_path):
    return make_shop(str(tmp_path / "shop.sqlite3"))


def _journey(shop):
    store = JourneyStore(shop.db)
    return from_document(store.load_draft(shop.journey_id), "test")


def _count(db) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def test_rendered_for_a_contact_with_their_own_cart_and_marked_test(shop):
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.email_step, "me@shop.example", "ann")
    out = prepared.outgoing
    assert out.test and out.recipient == "me@shop.example" and out.channel == "email"
    assert out.subject == "[TEST] Ann, your cart (1 items)"
    assert "Blue mug" in out.body_html and "https://shop.example/c/ann" in out.body_text
    assert prepared.contact == "contact ann" and "cart abandoned event" in prepared.event


def test_without_a_contact_the_sample_contact_and_cart_are_used(shop):
    prepared = ts.prepare_test(shop.db, _journey(shop), "cart email", "me@shop.example")   # the title, any case
    out = prepared.outgoing
    assert out.subject == "[TEST] Alex, your cart (2 items)"
    assert "Linen shirt" in out.body_html and prepared.contact == "the sample contact"


def test_a_contact_without_a_trigger_event_gets_the_sample_cart(shop):
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.email_step, "me@shop.example", "bob")
    assert prepared.outgoing.subject == "[TEST] Bob, your cart (2 items)" and prepared.event == "a sample cart"


def test_sms_text_is_marked_and_goes_to_a_phone_number(shop):
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.sms_step, "+49 151 23456789", "ann")
    out = prepared.outgoing
    assert out.recipient == "+4915123456789" and out.subject is None
    assert out.body_text == "[TEST] Ann: MUG5 off your cart"


@pytest.mark.parametrize("step,to", [("email", "+4915123456789"), ("email", "me@"), ("sms", "me@shop.example"),
                                     ("sms", "0151 23456789"), ("sms", "+1 234")])
def test_the_address_must_suit_the_channel(shop, step, to):
    node = shop.email_step if step == "email" else shop.sms_step
    with pytest.raises(ts.SendTestRefused) as caught:
        ts.prepare_test(shop.db, _journey(shop), node, to)
    assert ("email address" if step == "email" else "phone number") in str(caught.value)


def test_the_missing_variable_policy_is_the_steps(tmp_path):
    for policy in ("skip", "fail"):
        shop = make_shop(str(tmp_path / f"{policy}.sqlite3"), missing=policy)
        with pytest.raises(ts.SendTestRefused) as caught:      # the sample cart has no coupon
            ts.prepare_test(shop.db, _journey(shop), shop.sms_step, "+4915123456789")
        assert "event.coupon" in str(caught.value) and "nothing was sent" in str(caught.value)
    shop = make_shop(str(tmp_path / "fallback.sqlite3"), missing="fallback")
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.sms_step, "+4915123456789")
    assert prepared.outgoing.body_text == "[TEST] Alex: 10% off your cart" and prepared.missing == ("event.coupon",)


def test_sent_through_the_channel_at_once_with_no_outbox_row(shop):
    channel = RecordingChannel()
    before = _count(shop.db)
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.email_step, "me@shop.example", "ann")
    sent = ts.send_prepared(DeliverySettings(), prepared, opener=lambda settings, name: channel)
    assert sent.provider_id == "<test-1@shop.example>" and channel.sent == [prepared.outgoing] and channel.closed == 1
    assert _count(shop.db) == before


def test_an_unconfigured_channel_says_what_to_set(shop):
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.email_step, "me@shop.example")
    with pytest.raises(NotConfigured) as caught:
        ts.send_prepared(DeliverySettings(), prepared)
    assert "No SMTP server is set" in str(caught.value)


def test_unknown_step_and_contact_are_named(shop):
    with pytest.raises(ts.SendTestRefused) as caught:
        ts.prepare_test(shop.db, _journey(shop), "nope", "me@shop.example")
    assert "Cart email" in str(caught.value) and "Cart SMS" in str(caught.value)
    with pytest.raises(ts.SendTestRefused, match="no contact with id 'zed'"):
        ts.prepare_test(shop.db, _journey(shop), shop.email_step, "me@shop.example", "zed")
    trigger = _journey(shop).trigger()
    with pytest.raises(ts.SendTestRefused, match="not a send step"):
        ts.prepare_test(shop.db, _journey(shop), trigger.id, "me@shop.example")


def test_the_test_address_is_remembered_per_kind(shop):
    ts.remember_recipient(shop.db, "email", "me@shop.example")
    ts.remember_recipient(shop.db, "sms", "+4915123456789")
    assert ts.remembered_recipient(shop.db, "email") == "me@shop.example"
    assert ts.remembered_recipient(shop.db, "whatsapp") == "+4915123456789"


# --- journeys send-test ---------------------------------------------------------------------------------------

def test_cli_send_test_checks_the_address_before_anything(shop, capsys):
    code, out, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "me@shop.example", "--db", shop.url)
    assert code == 2 and "phone number" in err and "Traceback" not in err and out == ""
    code, _, err = run_cli(capsys, "send-test", "Cart rescue", "Cart email", "--to", "+4915123456789", "--db", shop.url)
    assert code == 2 and "email address" in err


def test_cli_send_test_names_unknown_journey_step_and_contact(shop, capsys):
    code, _, err = run_cli(capsys, "send-test", "Nope", "Cart SMS", "--to", "+4915123456789", "--db", shop.url)
    assert code == 2 and "no journey named 'Nope'" in err and "Cart rescue" in err
    code, _, err = run_cli(capsys, "send-test", "Cart rescue", "Cart fax", "--to", "+4915123456789", "--db", shop.url)
    assert code == 2 and "Cart SMS" in err
    code, _, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789", "--contact", "zed",
                           "--db", shop.url)
    assert code == 2 and "zed" in err


def test_cli_send_test_needs_to(shop, capsys):
    code, _, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--db", shop.url)
    assert code == 2 and "--to" in err


def test_cli_send_test_prints_what_was_sent_and_the_providers_id(shop, capsys, monkeypatch):
    channel = RecordingChannel()
    monkeypatch.setattr("app.delivery.channels.open_channel", lambda settings, name: channel)
    before = _count(shop.db)
    code, out, err = run_cli(capsys, "send-test", "Cart rescue", "Cart email", "--to", "me@shop.example",
                             "--contact", "ann", "--db", shop.url)
    assert code == 0, err
    assert "Subject: [TEST] Ann, your cart (1 items)" in out and "<test-1@shop.example>" in out
    assert channel.sent[0].test and _count(shop.db) == before


def test_cli_send_test_without_settings_fails_with_the_stage(shop, capsys):
    code, out, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789", "--db", shop.url)
    assert code == 1 and "not sent (settings)" in err and "Twilio account SID" in err
    assert "[TEST]" in out          # what would have gone is shown


def test_cli_send_test_refused_by_the_missing_policy_exits_1(tmp_path, capsys):
    shop = make_shop(str(tmp_path / "skip.sqlite3"), missing="skip")
    code, _, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789", "--db", shop.url)
    assert code == 1 and "event.coupon" in err


def test_a_whatsapp_template_has_its_variables_rendered(shop):
    journey = _journey(shop)
    sms = journey.nodes[shop.sms_step]
    sms.config["channel"] = "whatsapp"
    sms.config.update(wa_mode="template", wa_template="cart_reminder", wa_language="de",
                      wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "{{ event.items | length }}"}])
    prepared = ts.prepare_test(shop.db, journey, shop.sms_step, "+4915123456789", "ann")
    assert prepared.outgoing.whatsapp_template == {"name": "cart_reminder", "language": "de", "variables": ["Ann", "1"]}
    assert prepared.outgoing.body_text is None          # a template carries no free text
    sms.config["wa_variables"] = [{"value": "{{ contact.first_name | }}"}]
    with pytest.raises(ts.SendTestRefused, match="variable"):
        ts.prepare_test(shop.db, journey, shop.sms_step, "+4915123456789", "ann")


def test_a_text_test_names_no_email_sender(shop, capsys, monkeypatch):
    """A step switched from email to SMS keeps its old From in its config; a text goes from the number,
    so the test neither shows nor passes an email sender."""
    prepared = ts.prepare_test(shop.db, _journey(shop), shop.sms_step, "+4915123456789", "ann")
    assert prepared.outgoing.sender is None
    channel = RecordingChannel()
    monkeypatch.setattr("app.delivery.channels.open_channel", lambda settings, name: channel)
    code, out, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789", "--db", shop.url)
    assert code == 0, err
    assert "From:" not in out and "[TEST] Alex: 10% off your cart" in out


def test_cli_send_test_of_a_whatsapp_template_shows_the_template_and_its_variables(shop, capsys, monkeypatch):
    store = JourneyStore(shop.db)
    journey = _journey(shop)
    step = journey.nodes[shop.sms_step]
    step.config.update(channel="whatsapp", wa_mode="template", wa_template="cart_reminder", wa_language="de",
                       wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "{{ event.coupon }}"}])
    from app.journey.fileformat import to_document
    store.save_draft(shop.journey_id, to_document(journey))
    channel = RecordingChannel()
    monkeypatch.setattr("app.delivery.channels.open_channel", lambda settings, name: channel)
    code, out, err = run_cli(capsys, "send-test", "Cart rescue", "Cart SMS", "--to", "+4915123456789",
                             "--contact", "ann", "--db", shop.url)
    assert code == 0, err
    assert "WhatsApp template: cart_reminder (de)" in out and "{{1}} = Ann" in out and "{{2}} = MUG5" in out
    assert "HTML" not in out and "cannot carry [TEST]" in out
    assert ts.summary(channel.sent[0]) == "the WhatsApp template cart_reminder (de) with {{1}} = Ann, {{2}} = MUG5"


def test_a_test_send_ignores_quiet_hours_and_the_frequency_cap(shop):
    journey = _journey(shop)
    journey.settings["quiet_hours"] = {"enabled": True, "start": "00:00", "end": "23:59"}
    journey.settings["frequency_cap"] = {"enabled": True, "messages": 1, "hours": 24}
    for _ in range(3):
        prepared = ts.prepare_test(shop.db, journey, shop.sms_step, "+4915123456789", "ann")
        assert prepared.outgoing.body_text == "[TEST] Ann: MUG5 off your cart"
    assert _count(shop.db) == 0

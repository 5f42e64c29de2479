"""Twilio status callbacks, Meta WhatsApp webhooks and the links in emails feed the delivery statuses."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.delivery import tracking
from app.delivery.settings import PUBLIC_URL_KEY
from app.delivery.unsubscribe import ONE_CLICK, links_for, unsubscribe_token
from app.intake.config import META_VERIFY_KEY
from app.intake.signatures import meta_signature, twilio_signature
from app.store.app_settings import set_setting
from app.store.sql import write_transaction
from app.store.tables import contact_channels, contacts, intake_requests, messages

from .conftest import SECRETS, Receiver

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def _message(receiver: Receiver, channel: str, provider_id: str | None, key: str = "run:1:n1") -> int:
    with write_transaction(receiver.db) as conn:
        conn.execute(contacts.insert().values(id="c1", email="c1@example.com", phone="+14155550100", attributes={},
                                              created_at=NOW, updated_at=NOW))
        return int(conn.execute(messages.insert().values(
            idempotency_key=key, contact_id="c1", channel=channel, recipient="c1@example.com", status="sent",
            created_at=NOW, sent_at=NOW, provider_id=provider_id)).inserted_primary_key[0])


def _status(receiver: Receiver, mid: int) -> tuple[str, str | None]:
    with receiver.db.connect() as conn:
        row = conn.execute(select(messages.c.status, messages.c.error_code).where(messages.c.id == mid)).one()
    return row.status, row.error_code


def test_twilio_status_callbacks_signed_for_the_public_url_mark_the_message(receiver: Receiver) -> None:
    mid = _message(receiver, "sms", "SM1234567890ABCDE")
    set_setting(receiver.db, PUBLIC_URL_KEY, "https://hooks.example.com")
    receiver.server.config.app.state.config.forget()
    form = {"MessageSid": "SM1234567890ABCDE", "MessageStatus": "delivered", "AccountSid": "AC1",
            "To": "+14155550100", "From": "+14155550199", "ApiVersion": "2010-04-01"}
    signature = twilio_signature(SECRETS["twilio_auth_token"], "https://hooks.example.com/hooks/twilio/status",
                                 sorted(form.items()))
    with receiver.client() as http:
        answer = http.post("/hooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
        again = http.post("/hooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == again.status_code == 204
    receiver.apply()
    assert _status(receiver, mid)[0] == "delivered"
    assert [e.idempotency_key for e in receiver.events("message_delivered")] == ["id:twilio:SM1234567890ABCDE:delivered"]


def test_a_twilio_failure_with_21610_fails_the_message_and_opts_out_of_sms(receiver: Receiver) -> None:
    mid = _message(receiver, "sms", "SM99")
    form = {"MessageSid": "SM99", "MessageStatus": "undelivered", "ErrorCode": "21610"}
    with receiver.client() as http:
        url = f"{receiver.url}/hooks/twilio/status"
        answer = http.post("/hooks/twilio/status", data=form, headers={
            "X-Twilio-Signature": twilio_signature(SECRETS["twilio_auth_token"], url, sorted(form.items()))})
    assert answer.status_code == 204
    receiver.apply()
    assert _status(receiver, mid)[0] == "failed"
    assert receiver.events("message_failed")[0].properties["code"] == "21610"
    with receiver.db.connect() as conn:
        assert conn.execute(select(contact_channels.c.state).where(contact_channels.c.channel == "sms")).scalar() \
            == "unsubscribed"


def test_a_status_about_a_message_never_sent_here_is_a_dead_letter_with_its_reason(receiver: Receiver) -> None:
    form = {"MessageSid": "SMunknown", "MessageStatus": "delivered"}
    with receiver.client() as http:
        http.post("/hooks/twilio/status", data=form, headers={"X-Twilio-Signature": twilio_signature(
            SECRETS["twilio_auth_token"], f"{receiver.url}/hooks/twilio/status", sorted(form.items()))})
    receiver.apply()
    with receiver.db.connect() as conn:
        row = conn.execute(select(intake_requests.c.status, intake_requests.c.reason)).one()
    assert row.status == "dead" and "SMunknown" in row.reason and "did not send" in row.reason


def test_meta_verify_handshake_echoes_the_challenge_only_for_our_verify_token(receiver: Receiver) -> None:
    set_setting(receiver.db, META_VERIFY_KEY, "my-verify-token")
    receiver.server.config.app.state.config.forget()
    with receiver.client() as http:
        good = http.get("/hooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "my-verify-token",
                                               "hub.challenge": "1158201444"})
        bad = http.get("/hooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                              "hub.challenge": "1158201444"})
    assert good.status_code == 200 and good.text == "1158201444"
    assert bad.status_code == 403


def test_meta_status_webhooks_signed_with_the_app_secret_mark_read_and_failed(receiver: Receiver) -> None:
    mid = _message(receiver, "whatsapp", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA")
    body = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                      "statuses": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
                                    "status": "read", "timestamp": "1772359200", "recipient_id": "16505551234"}]}}]}]}
    raw = json.dumps(body).encode()
    with receiver.client() as http:
        answer = http.post("/hooks/meta", content=raw, headers={
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], raw)})
    assert answer.status_code == 200
    receiver.apply()
    assert _status(receiver, mid)[0] == "opened"            # read: delivered, then opened
    assert len(receiver.events("message_read")) == 1 and len(receiver.events("message_delivered")) == 1


def test_one_click_unsubscribe_click_redirect_and_open_pixel(receiver: Receiver) -> None:
    mid = _message(receiver, "email", "<m1@example.com>", key="run:7:send")
    token = unsubscribe_token("run:7:send", links_for(receiver.db).secret)
    with write_transaction(receiver.db) as conn:
        secret = tracking.tracking_secret(conn)
    track = tracking.make_token("run:7:send", secret)
    link = tracking.click_url(receiver.url, track, "https://shop.example/cart?x=1", secret)
    with receiver.client() as http:
        page = http.get(f"/u/{token}")               # a mail scanner's GET unsubscribes no one
        assert page.status_code == 200 and "<form" in page.text and receiver.inbox() == 0
        forged = http.post(f"/u/{token[:-2]}xx", content=ONE_CLICK)
        one_click = http.post(f"/u/{token}", content=ONE_CLICK,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        path = urlsplit(link)
        click = http.get(f"{path.path}?{path.query}")
        tampered = http.get(path.path, params={"u": "https://evil.example/", "s": parse_qs(path.query)["s"][0]})
        pixel = http.get(f"/o/{track}")
    assert forged.status_code == 404 and one_click.status_code == 200
    assert click.status_code == 302 and click.headers["location"] == "https://shop.example/cart?x=1"
    assert tampered.status_code == 400 and "location" not in tampered.headers
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    receiver.apply()
    with receiver.db.connect() as conn:
        row = conn.execute(select(messages.c.status, messages.c.unsubscribed_at, messages.c.clicked_at)
                           .where(messages.c.id == mid)).one()
        consent = conn.execute(select(contact_channels.c.state).where(contact_channels.c.channel == "email")).scalar()
    assert consent == "unsubscribed" and row.clicked_at is not None
    assert [e.properties["url"] for e in receiver.events("message_clicked")] == ["https://shop.example/cart?x=1"]


def test_sends_ask_twilio_to_call_back_only_when_a_public_https_url_is_set(monkeypatch) -> None:
    from app.delivery.channels import open_channel
    from app.delivery.settings import DeliverySettings, SmsSettings, TwilioSettings

    twilio = TwilioSettings(account_sid="AC" + "0" * 32, sender="+15005550006")
    settings = DeliverySettings(sms=SmsSettings(twilio=twilio))
    monkeypatch.setenv("JOURNEYS_TWILIO_AUTH_TOKEN", "a" * 32)
    without = open_channel(settings, "sms")
    settings.public_url = "https://hooks.example.com/"
    with_url = open_channel(settings, "sms")
    settings.public_url = "http://192.168.1.5:8765"
    plain_http = open_channel(settings, "sms")
    from app.delivery.base import Outgoing

    message = Outgoing(message_id=1, idempotency_key="run:1:n", channel="sms", recipient="+4915123456789",
                       body_text="Hi")
    assert "StatusCallback" not in without.form(message)
    assert with_url.form(message)["StatusCallback"] == "https://hooks.example.com/hooks/twilio/status"
    assert "StatusCallback" not in plain_http.form(message)                 


def _reply(receiver: Receiver, body: dict) -> int:
    """Posts a signed Meta webhook carrying one WhatsApp reply; returns the HTTP status."""
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "15550783881",
                                                    "phone_number_id": "106540352242922"},
                                       "contacts": [{"profile": {"name": "Ann"}, "wa_id": "14155550100"}],
                                       "messages": [body]}}]}]}).encode()
    with receiver.client() as http:
        return http.post("/hooks/meta", content=raw, headers={
            "X-Hub-Signature-256": meta_signature(SECRETS["meta_app_secret"], raw)}).status_code


def _whatsapp_state(receiver: Receiver) -> str | None:
    with receiver.db.connect() as conn:
        return conn.execute(select(contact_channels.c.state).where(contact_channels.c.contact_id == "c1",
                                                                   contact_channels.c.channel == "whatsapp")).scalar()


@pytest.mark.parametrize("said", ["STOP", "stop", " Stop. ", "Unsubscribe", "STOP ALL", "opt out", "QUIT!"])
def test_a_whatsapp_reply_of_stop_opts_the_number_out_of_whatsapp(receiver: Receiver, said: str) -> None:
    _message(receiver, "whatsapp", "wamid.sent1")
    assert _reply(receiver, {"from": "14155550100", "id": "wamid.reply1", "timestamp": "1772359200",
                             "type": "text", "text": {"body": said}}) == 200
    receiver.apply()
    assert _whatsapp_state(receiver) == "unsubscribed"
    # Meta delivers a webhook again when it is not answered in time: still one opt-out
    assert _reply(receiver, {"from": "14155550100", "id": "wamid.reply1", "timestamp": "1772359200",
                             "type": "text", "text": {"body": said}}) == 200
    receiver.apply()
    assert len(receiver.events("unsubscribed")) == 1


def test_a_quick_reply_button_saying_stop_opts_out_too(receiver: Receiver) -> None:
    _message(receiver, "whatsapp", "wamid.sent1")
    _reply(receiver, {"from": "14155550100", "id": "wamid.reply2", "timestamp": "1772359200", "type": "button",
                      "button": {"payload": "opt-out", "text": "Stop"}})
    receiver.apply()
    assert _whatsapp_state(receiver) == "unsubscribed"


@pytest.mark.parametrize("said", ["Stop sending me the red ones?", "Where is my order", "thanks", "🛑"])
def test_other_whatsapp_replies_change_nothing_and_are_no_dead_letter(receiver: Receiver, said: str) -> None:
    _message(receiver, "whatsapp", "wamid.sent1")
    _reply(receiver, {"from": "14155550100", "id": "wamid.reply3", "timestamp": "1772359200", "type": "text",
                      "text": {"body": said}})
    receiver.apply()
    assert _whatsapp_state(receiver) is None and receiver.events("unsubscribed") == []
    assert receiver.inbox("dead") == 0


def test_a_stop_from_a_number_no_contact_has_is_a_dead_letter_saying_so(receiver: Receiver) -> None:
    _reply(receiver, {"from": "4915112345678", "id": "wamid.reply4", "timestamp": "1772359200", "type": "text",
                      "text": {"body": "STOP"}})
    receiver.apply()
    with receiver.db.connect() as conn:
        row = conn.execute(select(intake_requests.c.status, intake_requests.c.reason)).one()
    assert row.status == "dead" and "+4915112345678" in row.reason and "no contact" in row.reason


def test_a_reply_without_its_sender_is_400_with_the_pointer(receiver: Receiver) -> None:
    assert _reply(receiver, {"id": "wamid.reply5", "type": "text", "text": {"body": "STOP"}}) == 400

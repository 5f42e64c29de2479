"""TwilioChannel against the local Twilio (tests/delivery/provider_servers.py): requests as Twilio
documents them, and every failure class with Twilio's codes."""
from __future__ import annotations

import base64
import json

import pytest

from app.delivery.base import NotConfigured, Outgoing, Permanent, Sent, Transient, Uncertain
from app.delivery.twilio import TwilioChannel

from .provider_servers import Behaviour, FakeTwilio, twilio, twilio_settings  # noqa: F401 - fixture

CONTENT_SID = "HX" + "0" * 31 + "1"


def sms(to: str, text: str = "Hi Ann, your cart is waiting", message_id: int = 1) -> Outgoing:
    return Outgoing(message_id=message_id, idempotency_key=f"run:1:node:{message_id}", channel="sms",
                    recipient=to, body_text=text)


def wa(to: str, *, template: dict | None = None, text: str | None = None) -> Outgoing:
    return Outgoing(message_id=2, idempotency_key="run:1:node:wa", channel="whatsapp", recipient=to,
                    body_text=text, whatsapp_template=template)


def test_sms_from_the_sender_number_is_a_form_post_with_basic_auth(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    sent = channel.send(sms("+4915123456789"))
    channel.close()
    assert isinstance(sent, Sent) and sent.provider_id and sent.provider_id.startswith("SM")
    assert sent.status == "queued"
    [request] = twilio.posts()
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    user, _, token = base64.b64decode(request.headers["Authorization"][6:]).decode().partition(":")
    assert (user, token) == (twilio.account_sid, twilio.auth_token)
    assert request.one("To") == "+4915123456789" and request.one("From") == twilio.number
    assert request.one("Body") == "Hi Ann, your cart is waiting" and request.one("MessagingServiceSid") is None


def test_sms_through_a_messaging_service_names_the_service_not_a_number(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio, service=True), twilio.auth_token, whatsapp=False)
    sent = channel.send(sms("+4915123456789"))
    [request] = twilio.posts()
    assert request.one("MessagingServiceSid") == twilio.messaging_service_sid and request.one("From") is None
    assert sent.provider_id in twilio.messages


def test_one_connection_is_kept_alive_for_a_burst(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    ids = {channel.send(sms("+4915123456789", message_id=i)).provider_id for i in range(20)}
    channel.close()
    assert len(ids) == 20
    assert all(r.headers.get("Connection", "keep-alive").lower() != "close" for r in twilio.posts())


def test_whatsapp_template_goes_as_content_sid_with_numbered_variables(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True)
    template = {"name": CONTENT_SID, "language": "en_US", "variables": ["Ann", "#1042 – 2 Ärmel"]}
    sent = channel.send(wa("+4915123456789", template=template))
    [request] = twilio.posts()
    assert request.one("To") == "whatsapp:+4915123456789"
    assert request.one("From") == f"whatsapp:{twilio.whatsapp_number}"
    assert request.one("ContentSid") == CONTENT_SID and request.one("Body") is None
    assert json.loads(request.one("ContentVariables") or "") == {"1": "Ann", "2": "#1042 – 2 Ärmel"}
    assert sent.provider_id in twilio.messages


def test_whatsapp_free_text_goes_as_body(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True)
    channel.send(wa("whatsapp:+4915123456789", text="Thanks for writing!"))
    [request] = twilio.posts()
    assert request.one("To") == "whatsapp:+4915123456789" and request.one("Body") == "Thanks for writing!"


@pytest.mark.parametrize("number, code", [
    ("+15005550001", "21211"),      # the example: invalid number
    ("+15005550004", "21610"),      # the recipient replied STOP
    ("+15005550009", "21614"),      # not a mobile number
    ("+15005550002", "21612"),      # not reachable from this sender
    ("+15005550003", "21408"),      # region not enabled
    ("not-a-number", "21211"),
])
def test_the_messages_own_errors_are_permanent_with_twilios_code_and_words(twilio: FakeTwilio, number: str,
                                                                          code: str) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Permanent) as failure:
        channel.send(sms(number))
    assert failure.value.code == code
    assert failure.value.text == twilio.behaviour(number).message or "not a valid phone number" in failure.value.text
    assert len(twilio.posts()) == 1          # asked once, not retried by the channel


def test_outside_the_whatsapp_window_is_permanent_63016(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True)
    with pytest.raises(Permanent) as failure:
        channel.send(wa("+15550063016", text="Hello again"))
    assert failure.value.code == "63016" and "outside the allowed window" in failure.value.text


@pytest.mark.parametrize("template, code", [
    ({"name": "HX" + "f" * 32, "language": "en", "variables": ["a", "b"]}, "21655"),   # not the account's
    ({"name": "order_update", "language": "en", "variables": ["a"]}, "21655"),        # a Meta name, not a SID
    ({"name": CONTENT_SID, "language": "en", "variables": ["only one"]}, "21656"),    # one variable short
])
def test_a_bad_content_template_is_permanent(twilio: FakeTwilio, template: dict, code: str) -> None:
    channel = TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True)
    with pytest.raises(Permanent) as failure:
        channel.send(wa("+4915123456789", template=template))
    assert failure.value.code == code


def test_429_is_transient_and_carries_retry_after(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Transient) as failure:
        channel.send(sms("+15550000429"))
    assert failure.value.retry_after == 7


def test_retry_after_as_an_http_date_is_read_too(twilio: FakeTwilio) -> None:
    twilio.script("+15550004290", Behaviour("retry", retry_after=120, retry_after_as_date=True))
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Transient) as failure:
        channel.send(sms("+15550004290"))
    assert failure.value.retry_after is not None and 100 <= failure.value.retry_after <= 120


@pytest.mark.parametrize("number, code", [("+15550000500", "20500"), ("+15550000503", "20503")])
def test_server_errors_are_transient(twilio: FakeTwilio, number: str, code: str) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Transient) as failure:
        channel.send(sms(number))
    assert failure.value.code == code


def test_wrong_token_is_not_configured_so_the_message_waits(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), "wrong-token", whatsapp=False)
    with pytest.raises(NotConfigured) as failure:
        channel.send(sms("+4915123456789"))
    assert failure.value.code == "20003" and "auth token" in failure.value.text


def test_a_sender_that_is_not_the_accounts_is_not_configured(twilio: FakeTwilio) -> None:
    settings = twilio_settings(twilio)
    settings.sender = "+15005550999"
    with pytest.raises(NotConfigured) as failure:
        TwilioChannel(settings, twilio.auth_token, whatsapp=False).send(sms("+4915123456789"))
    assert failure.value.code == "21606"


def test_missing_settings_or_token_refuse_at_once() -> None:
    from app.delivery.settings import TwilioSettings

    with pytest.raises(NotConfigured):
        TwilioChannel(TwilioSettings(), "token", whatsapp=False)
    with pytest.raises(NotConfigured):
        TwilioChannel(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006"), "", whatsapp=False)


def test_connection_refused_is_transient() -> None:
    server = FakeTwilio().start()
    settings = twilio_settings(server)
    server.stop()                         # nobody listens on that port any more
    channel = TwilioChannel(settings, server.auth_token, whatsapp=False)
    with pytest.raises(Transient) as failure:
        channel.send(sms("+4915123456789"))
    assert failure.value.code == "connect"


def test_no_answer_in_time_after_sending_is_uncertain(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False, timeout=0.3)
    with pytest.raises(Uncertain) as failure:
        channel.send(sms("+15550000777"))
    assert failure.value.code == "timeout"
    # the channel is usable again afterwards, on a new connection
    assert channel.send(sms("+4915123456789")).provider_id


def test_a_dropped_connection_after_sending_is_uncertain(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Uncertain) as failure:
        channel.send(sms("+15550000666"))
    assert failure.value.code == "dropped"
    assert channel.send(sms("+4915123456789")).provider_id


def test_a_test_send_is_marked(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    channel.send(Outgoing(message_id=0, idempotency_key="test:1", channel="sms", recipient="+4915123456789",
                          body_text="Hello", test=True))
    assert twilio.posts()[0].one("Body") == "[TEST] Hello"


def test_an_empty_text_is_permanent_without_asking_twilio(twilio: FakeTwilio) -> None:
    channel = TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False)
    with pytest.raises(Permanent):
        channel.send(sms("+4915123456789", text="  "))
    assert twilio.posts() == []

"""Every class of provider answer, with more codes than the issue's examples, against real local HTTP
servers: the message's own errors fail it (Permanent), throttling and outages pass (Transient), the
shop's set-up errors make it wait (NotConfigured), and an answer that is not the provider's own (a
proxy's HTML page) never fails a message."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from app.delivery.base import NotConfigured, Outgoing, Permanent, Transient
from app.delivery.httpapi import MAX_RETRY_AFTER
from app.delivery.meta import MetaChannel
from app.delivery.retry import RetryPolicy
from app.delivery.settings import MetaSettings, TwilioSettings
from app.delivery.twilio import TwilioChannel

from .provider_servers import Behaviour, FakeMeta, FakeTwilio, meta, meta_settings, twilio, twilio_settings  # noqa: F401

NUMBER = "+15550009999"
ORDER = {"name": "order_update", "language": "en_US", "variables": ["Ann", "#1042"]}


def sms(to: str = NUMBER) -> Outgoing:
    return Outgoing(message_id=1, idempotency_key="run:1:node:a", channel="sms", recipient=to, body_text="Hi Ann")


def wa(to: str = NUMBER) -> Outgoing:
    return Outgoing(message_id=2, idempotency_key="run:1:node:b", channel="whatsapp", recipient=to,
                    whatsapp_template=ORDER)


# --- Twilio ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    21211,    # invalid To number
    21408,    # region not enabled for the To number
    21608,    # a trial account cannot reach an unverified number
    21612,    # To not reachable from this sender
    21614,    # not a mobile number
    63016,    # outside the WhatsApp window
    63024,    # invalid message recipient
    63027,    # template does not exist for that language
    63028,    # wrong number of template parameters
])
def test_twilio_errors_of_the_message_fail_it_with_the_code(twilio: FakeTwilio, code: int) -> None:
    twilio.script(NUMBER, Behaviour("error", 400, code, f"error {code}"))
    with pytest.raises(Permanent) as failure:
        TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False).send(sms())
    assert failure.value.code == str(code) and failure.value.text == f"error {code}"


@pytest.mark.parametrize("status, code", [
    (400, 21611),    # the sender's queue is full
    (429, 14107),    # SMS rate limit
    (400, 30001),    # queue overflow
    (400, 63018),    # WhatsApp channel rate limit
    (400, 63038),    # the account's daily limit
])
def test_twilio_queues_and_limits_pass_and_are_retried(twilio: FakeTwilio, status: int, code: int) -> None:
    twilio.script(NUMBER, Behaviour("error", status, code, "slow down"))
    with pytest.raises(Transient) as failure:
        TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False).send(sms())
    assert failure.value.code == str(code)


@pytest.mark.parametrize("status, code, words", [
    (401, 20005, "account SID and auth token"),       # the account is not active
    (403, 20008, "account SID and auth token"),       # test credentials
    (400, 21210, "sender"),                           # From not verified (trial)
    (400, 21659, "sender"),                           # From is not a Twilio number
    (400, 21660, "sender"),                           # From of another account
    (400, 63001, "sender"),                           # WhatsApp channel cannot authenticate
])
def test_twilio_set_up_errors_make_the_message_wait(twilio: FakeTwilio, status: int, code: int,
                                                    words: str) -> None:
    twilio.script(NUMBER, Behaviour("error", status, code, "set-up"))
    with pytest.raises(NotConfigured) as failure:
        TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False).send(sms())
    assert failure.value.code == str(code) and words in failure.value.text


# --- Meta ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [
    131026,   # undeliverable
    131047,   # re-engagement required
    131051,   # unsupported message type
    131052,   # media download error
    132000,   # wrong number of parameters
    132001,   # template does not exist
    132005,   # translated text too long
    132007,   # format character policy violated
    132012,   # parameter format mismatch
    132015,   # template paused
    132016,   # template disabled
    131009,   # parameter value not valid
    100,      # invalid parameter
])
def test_meta_errors_of_the_message_fail_it_with_the_code(meta: FakeMeta, code: int) -> None:
    meta.script(NUMBER, Behaviour("error", 400, code, f"error {code}"))
    with pytest.raises(Permanent) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa())
    assert failure.value.code == str(code) and f"(#{code})" in failure.value.text


@pytest.mark.parametrize("status, code", [(400, 130429), (400, 131056), (400, 131048), (500, 131000),
                                          (400, 4), (400, 80007), (500, 2), (503, 133004)])
def test_meta_throttling_and_outages_pass(meta: FakeMeta, status: int, code: int) -> None:
    meta.script(NUMBER, Behaviour("error", status, code, "later"))
    with pytest.raises(Transient) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa())
    assert failure.value.code == str(code)


@pytest.mark.parametrize("status, code", [
    (401, 190),      # token expired
    (403, 10),       # permission denied
    (403, 200),      # API permission
    (403, 294),      # …any of 200-299
    (500, 3),        # capability missing: Meta answers it with HTTP 500, still the set-up's
    (400, 33),       # the business number was deleted
    (403, 368),      # blocked for policy violations
    (400, 131037),   # display name awaits approval
    (400, 131045),   # registration error
    (400, 133010),   # number not registered
])
def test_meta_set_up_errors_make_the_message_wait(meta: FakeMeta, status: int, code: int) -> None:
    meta.script(NUMBER, Behaviour("error", status, code, "set-up"))
    with pytest.raises(NotConfigured) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa())
    assert failure.value.code == str(code)


def test_a_wrong_phone_number_id_makes_messages_wait_not_fail(meta: FakeMeta) -> None:
    """Graph answers a POST to an id that is not the token's with code 100, subcode 33 ("Object with ID …
    does not exist"): the settings are wrong, not the message, so it must not fail every queued one."""
    settings = meta_settings(meta)
    settings.phone_number_id = "109999999999999"
    with pytest.raises(NotConfigured) as failure:
        MetaChannel(settings, meta.access_token).send(wa())
    assert failure.value.code == "100" and "phone number ID" in failure.value.text


# --- answers that are not the provider's own -------------------------------------------------------------

class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:      # noqa: A002
        pass

    def do_POST(self) -> None:                                        # noqa: N802 - stdlib's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body, headers = self.server.reply                     # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST                                                  # noqa: N815 - stdlib's name


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    """A local server answering every POST with `server.reply` = (status, body bytes, headers): a proxy
    or load balancer in front of the provider, speaking HTML."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.daemon_threads = True
    server.reply = (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {})   # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _channels(server: ThreadingHTTPServer) -> list:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    twilio_ = TwilioChannel(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006", api_base=base),
                            "token", whatsapp=False)
    meta_ = MetaChannel(MetaSettings(phone_number_id="1055", api_base=base), "token")
    return [(twilio_, sms()), (meta_, wa())]


@pytest.mark.parametrize("status", [400, 409, 418, 502, 503])
def test_an_html_page_from_a_proxy_never_fails_the_message(proxy, status: int) -> None:
    proxy.reply = (status, b"<html><body>Request blocked</body></html>", {})
    for channel, message in _channels(proxy):
        with pytest.raises(Transient) as failure:
            channel.send(message)
        assert failure.value.code == str(status)


@pytest.mark.parametrize("status", [404, 405, 407])
def test_an_html_not_found_or_proxy_login_makes_messages_wait(proxy, status: int) -> None:
    proxy.reply = (status, b"<html>Not here</html>", {})
    for channel, message in _channels(proxy):
        with pytest.raises(NotConfigured) as failure:
            channel.send(message)
        assert failure.value.code == str(status) and "API address" in failure.value.text


@pytest.mark.parametrize("header", ["99999999999999", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_an_absurd_retry_after_is_bounded_and_the_message_fails_at_its_limit(proxy, header: str) -> None:
    """A Retry-After years ahead must not break the retry schedule's date arithmetic (an overflow there
    would leave the message in limbo): it reaches past the retry limit, so the message fails."""
    proxy.reply = (429, b"", {"Retry-After": header})
    now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    for channel, message in _channels(proxy):
        with pytest.raises(Transient) as failure:
            channel.send(message)
        assert failure.value.retry_after is not None and 0 < failure.value.retry_after <= MAX_RETRY_AFTER
        policy = RetryPolicy(retry_hours=720)
        assert policy.next_attempt(1, now, now - timedelta(minutes=1), failure.value.retry_after) is None


# --- the contact's phone number as imports leave it ----------------------------------------------------------

@pytest.mark.parametrize("written", ["+49 151 2345-6789", "+49 (151) 23456789", "0049 151 23456789",
                                     "00 49 151 23456789", " +4915123456789 ", "whatsapp:+4915123456789",
                                     "+49 (0)151 23456789"])
def test_a_number_in_international_form_goes_as_e164(twilio: FakeTwilio, meta: FakeMeta, written: str) -> None:
    TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False).send(sms(written))
    TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True).send(
        Outgoing(message_id=3, idempotency_key="k", channel="whatsapp", recipient=written, body_text="Hi"))
    MetaChannel(meta_settings(meta), meta.access_token).send(wa(written))
    assert [r.one("To") for r in twilio.posts()] == ["+4915123456789", "whatsapp:+4915123456789"]
    assert meta.posts()[0].json["to"] == "4915123456789"


def test_a_number_without_its_country_code_is_never_given_a_guessed_one(twilio: FakeTwilio, meta: FakeMeta) -> None:
    """Which country a national number belongs to cannot be known: it goes as written, and the provider
    refuses it (Twilio 21211), failing the message; guessing a country could text a stranger."""
    with pytest.raises(Permanent) as failure:
        TwilioChannel(twilio_settings(twilio), twilio.auth_token, whatsapp=False).send(sms("0151 23456789"))
    assert failure.value.code == "21211" and twilio.posts()[0].one("To") == "0151 23456789"
    MetaChannel(meta_settings(meta), meta.access_token).send(wa("0151 23456789"))
    assert meta.posts()[0].json["to"] == "015123456789"


def test_a_template_named_for_the_other_provider_fails_saying_what_this_one_wants(twilio: FakeTwilio,
                                                                                   meta: FakeMeta) -> None:
    """After switching the WhatsApp provider, a step still names the other one's template: the failure says
    so (Twilio wants a Content SID, Meta a template name), with the provider's own code."""
    meta_name = Outgoing(message_id=4, idempotency_key="k4", channel="whatsapp", recipient="+4915123456789",
                         whatsapp_template={"name": "order_update", "language": "en_US", "variables": ["a", "b"]})
    with pytest.raises(Permanent) as failure:
        TwilioChannel(twilio_settings(twilio, whatsapp=True), twilio.auth_token, whatsapp=True).send(meta_name)
    assert failure.value.code == "21655" and "Content SID" in failure.value.text
    sid = "HX" + "0" * 31 + "1"
    twilio_sid_ = Outgoing(message_id=5, idempotency_key="k5", channel="whatsapp", recipient="+4915123456789",
                           whatsapp_template={"name": sid, "language": "en_US", "variables": ["a", "b"]})
    with pytest.raises(Permanent) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(twilio_sid_)
    assert failure.value.code == "132001" and "WhatsApp Manager" in failure.value.text


@pytest.mark.parametrize("status", [200, 201])
def test_a_success_page_that_is_not_the_providers_leaves_the_fate_unknown(proxy, status: int) -> None:
    """A filtering proxy that answers 200 with its own HTML page: the message may never have reached the
    provider, and may have — it is neither counted sent nor resent by itself."""
    from app.delivery.base import Uncertain

    proxy.reply = (status, b"<html><body>Access to this site is restricted</body></html>", {})
    for channel, message in _channels(proxy):
        with pytest.raises(Uncertain) as failure:
            channel.send(message)
        assert failure.value.code == "unreadable"


@pytest.fixture
def untrusted_https() -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate no one trusts (a throw-away CA): what a proxy or
    antivirus that inspects HTTPS looks like to the app."""
    import ssl

    import trustme

    ca = trustme.CA()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.daemon_threads = True
    server.reply = (201, b"{}", {})                                   # type: ignore[attr-defined]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_certificate_that_cannot_be_verified_makes_messages_wait(untrusted_https: str) -> None:
    twilio_ = TwilioChannel(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006",
                                           api_base=untrusted_https), "token", whatsapp=False)
    meta_ = MetaChannel(MetaSettings(phone_number_id="1055", api_base=untrusted_https), "token")
    for channel, message in ((twilio_, sms()), (meta_, wa())):
        with pytest.raises(NotConfigured) as failure:
            channel.send(message)
        assert failure.value.code == "tls" and "proxy or antivirus" in failure.value.text


def test_test_connection_is_not_fooled_by_a_proxys_page(proxy) -> None:
    from app.delivery.meta import check_meta
    from app.delivery.twilio import check_twilio

    proxy.reply = (200, b"<html><body>Welcome to the hotel wifi</body></html>", {})
    base = f"http://127.0.0.1:{proxy.server_address[1]}"
    for result in (check_twilio(TwilioSettings(account_sid="AC" + "1" * 32, sender="+15005550006", api_base=base),
                                "token"),
                   check_meta(MetaSettings(phone_number_id="1055", api_base=base), "token")):
        assert (result.ok, result.stage) == (False, "connect") and "proxy" in result.detail

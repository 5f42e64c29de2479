"""MetaChannel against the local WhatsApp Cloud API (tests/delivery/provider_servers.py)."""
from __future__ import annotations

import pytest

from app.delivery.base import NotConfigured, Outgoing, Permanent, Transient, Uncertain
from app.delivery.meta import MetaChannel

from .provider_servers import FakeMeta, meta, meta_settings  # noqa: F401 - fixture


def wa(to: str, *, template: dict | None = None, text: str | None = None) -> Outgoing:
    return Outgoing(message_id=3, idempotency_key="run:3:node:wa", channel="whatsapp", recipient=to,
                    body_text=text, whatsapp_template=template)


ORDER = {"name": "order_update", "language": "en_US", "variables": ["Ann", "#1042"]}


def test_a_template_goes_with_bearer_token_and_body_parameters(meta: FakeMeta) -> None:
    channel = MetaChannel(meta_settings(meta), meta.access_token)
    sent = channel.send(wa("+49 151 2345-6789", template=ORDER))
    channel.close()
    assert sent.provider_id and sent.provider_id.startswith("wamid.")
    [request] = meta.posts()
    assert request.path == f"/{meta.api_version}/{meta.phone_number_id}/messages"
    assert request.headers["Authorization"] == f"Bearer {meta.access_token}"
    assert request.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915123456789", "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ann"}, {"type": "text", "text": "#1042"}]}]}}


def test_a_template_without_variables_has_no_components(meta: FakeMeta) -> None:
    MetaChannel(meta_settings(meta), meta.access_token).send(
        wa("+4915123456789", template={"name": "hello_world", "language": "en_US", "variables": []}))
    assert "components" not in meta.posts()[0].json["template"]


def test_free_text_goes_as_a_text_message(meta: FakeMeta) -> None:
    MetaChannel(meta_settings(meta), meta.access_token).send(wa("+4915123456789", text="Thanks, Ann!"))
    assert meta.posts()[0].json["type"] == "text"
    assert meta.posts()[0].json["text"]["body"] == "Thanks, Ann!"


@pytest.mark.parametrize("number, code", [
    ("+15550131026", "131026"),     # the example: undeliverable
    ("+15550131047", "131047"),     # re-engagement required (outside the 24-hour window)
    ("+15550131051", "131051"),     # unsupported message type
])
def test_the_messages_own_errors_are_permanent(meta: FakeMeta, number: str, code: str) -> None:
    with pytest.raises(Permanent) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa(number, template=ORDER))
    assert failure.value.code == code and failure.value.text.startswith(f"(#{code})")


@pytest.mark.parametrize("template, code", [
    ({"name": "order_update", "language": "en_US", "variables": ["Ann"]}, "132000"),       # one short
    ({"name": "order_update", "language": "de", "variables": ["Ann", "#1"]}, "132001"),    # no German one
    ({"name": "summer_sale", "language": "en_US", "variables": []}, "132001"),             # not approved
])
def test_template_problems_are_permanent(meta: FakeMeta, template: dict, code: str) -> None:
    with pytest.raises(Permanent) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa("+4915123456789", template=template))
    assert failure.value.code == code


@pytest.mark.parametrize("number, code, retry_after", [
    ("+15550130429", "130429", None),        # Cloud API throughput
    ("+15550131048", "131048", None),        # spam rate limit
    ("+15550131056", "131056", None),        # pair rate limit
    ("+15550000429", "4", 11.0),             # HTTP 429 with Retry-After
    ("+15550000500", "1", None),             # HTTP 500
])
def test_rate_limits_and_server_errors_are_transient(meta: FakeMeta, number: str, code: str,
                                                     retry_after: float | None) -> None:
    with pytest.raises(Transient) as failure:
        MetaChannel(meta_settings(meta), meta.access_token).send(wa(number, template=ORDER))
    assert failure.value.code == code and failure.value.retry_after == retry_after


def test_a_bad_token_is_not_configured(meta: FakeMeta) -> None:
    with pytest.raises(NotConfigured) as failure:
        MetaChannel(meta_settings(meta), "EAAGexpired").send(wa("+4915123456789", template=ORDER))
    assert failure.value.code == "190"


def test_missing_settings_or_token_refuse_at_once(meta: FakeMeta) -> None:
    from app.delivery.settings import MetaSettings

    with pytest.raises(NotConfigured):
        MetaChannel(MetaSettings(), meta.access_token)
    with pytest.raises(NotConfigured):
        MetaChannel(meta_settings(meta), "")


def test_timeout_after_sending_is_uncertain_and_a_drop_too(meta: FakeMeta) -> None:
    channel = MetaChannel(meta_settings(meta), meta.access_token, timeout=0.3)
    with pytest.raises(Uncertain) as slow:
        channel.send(wa("+15550000777", template=ORDER))
    with pytest.raises(Uncertain) as dropped:
        channel.send(wa("+15550000666", template=ORDER))
    assert (slow.value.code, dropped.value.code) == ("timeout", "dropped")
    assert channel.send(wa("+4915123456789", template=ORDER)).provider_id


def test_connection_refused_is_transient() -> None:
    server = FakeMeta().start()
    settings = meta_settings(server)
    server.stop()
    with pytest.raises(Transient):
        MetaChannel(settings, server.access_token).send(wa("+4915123456789", template=ORDER))

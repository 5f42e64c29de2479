"""`{{ unsubscribe_url }}` in a message body: the engine renders each message's own signed link."""
from __future__ import annotations

from app.delivery.settings import DeliverySettings, EmailSettings, save_settings
from app.delivery.unsubscribe import read_token, signing_key

from .helpers import CONTACTS, chain, send_node, simple_journey


def journey_with_link():
    journey = simple_journey()
    send = send_node(journey, "email", html='<p>Hi</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
                     text="Hi\nUnsubscribe: {{ unsubscribe_url }}", missing="skip")
    chain(journey, journey.trigger(), send)
    return journey


def test_each_message_carries_its_own_signed_unsubscribe_link(world):
    save_settings(world.db, DeliverySettings(email=EmailSettings(unsubscribe_address="bye@shop.example"),
                                             public_url="https://shop.example"))
    world.contacts(CONTACTS)
    world.install(journey_with_link())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "cart_abandoned", "2026-03-02T10:05:00Z")
    ann, cho = world.messages("ann")[0], world.messages("cho")[0]
    key = signing_key(world.db)
    for message in (ann, cho):
        link = message["body_text"].split("Unsubscribe: ")[1].strip()
        assert link.startswith("https://shop.example/u/")
        assert read_token(link.rsplit("/", 1)[1], key) == message["idempotency_key"]
        assert f'href="{link}"' in message["body_html"]
    assert ann["body_text"] != cho["body_text"]


def test_without_a_public_url_the_link_is_the_mailto_and_without_either_the_message_still_goes(world):
    world.contacts(CONTACTS)
    world.install(journey_with_link())
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z")      # nothing configured: "" (not missing)
    [ann] = world.messages("ann")
    assert ann["body_text"] == "Hi\nUnsubscribe: "
    save_settings(world.db, DeliverySettings(email=EmailSettings(unsubscribe_address="bye@shop.example")))
    world.event("cho", "cart_abandoned", "2026-03-02T10:05:00Z")
    [cho] = world.messages("cho")
    assert "mailto:bye@shop.example?subject=unsubscribe%20" in cho["body_text"]

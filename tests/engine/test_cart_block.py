"""The cart-items block (Insert ▸ Cart items block) through the real engine: what the sent message says."""
from __future__ import annotations

import pytest

from app.journey.snippets import cart_items_block

from .helpers import chain, send_node, simple_journey

AT = "2026-03-02T10:00:00Z"
CONTACTS = ("id,email,phone,first_name,timezone,locale,currency,subscribed\n"
            "ann,ann@example.com,+15550001,Ann,America/New_York,en_US,USD,all\n"
            "jan,jan@example.com,+15550002,Jan,Europe/Berlin,de_DE,EUR,all\n"
            "tom,tom@example.com,+15550003,Tom,Europe/London,en_GB,,all\n")
CART = [{"name": "Linen shirt", "quantity": 1, "price": 49.0, "url": "https://shop.example/p/linen-shirt",
         "image": "https://shop.example/i/linen-shirt.jpg"},
        {"name": "Canvas tote", "quantity": 2, "price": "18.5"}]        # Shopify sends money as text


def install(world, channel: str = "email", **config):
    journey = simple_journey()
    if channel == "email":
        config = {"html": cart_items_block("html", "email"),
                  "text": cart_items_block("text", "email"), **config}
    else:
        config = {"message": cart_items_block("message", channel), **config}
    send = send_node(journey, channel, **config)
    chain(journey, journey.trigger(), send)
    world.install(journey)
    return send


def test_the_sent_email_lists_each_item_with_its_price_in_the_contacts_currency(world):
    world.contacts(CONTACTS)
    install(world)
    world.event("ann", "cart_abandoned", AT, items=CART)
    [sent] = world.sent("ann")
    assert sent["body_text"] == ("- Linen shirt × 1 — $49.00\n  https://shop.example/p/linen-shirt\n"
                                 "- Canvas tote × 2 — $18.50\n")
    html = sent["body_html"]
    assert '<a href="https://shop.example/p/linen-shirt">Linen shirt</a>\n    × 1 — $49.00' in html
    assert '<img src="https://shop.example/i/linen-shirt.jpg"' in html
    # The tote has no link and no picture: listed plainly, no empty href or src.
    assert "    Canvas tote\n    × 2 — $18.50" in html and 'href=""' not in html and 'src=""' not in html
    assert html.count("<li") == 2 and "None" not in html and "{" not in html


@pytest.mark.parametrize(("contact", "currency", "line"), [
    ("jan", None, "- Linen shirt × 1 — 49,00\xa0€"),          # EUR from the contact, German formatting
    ("ann", "EUR", "- Linen shirt × 1 — €49.00"),             # the event's currency wins over the contact's
    ("tom", "GBP", "- Linen shirt × 1 — £49.00"),
    ("jan", "JPY", "- Linen shirt × 1 — 49\xa0¥"),            # ISO 4217: no decimals for yen
])
def test_prices_follow_the_currency_and_the_contacts_locale(world, contact, currency, line):
    world.contacts(CONTACTS)
    install(world)
    properties = {"items": CART} if currency is None else {"items": CART, "currency": currency}
    world.event(contact, "cart_abandoned", AT, **properties)
    assert world.sent(contact)[0]["body_text"].splitlines()[0] == line


def test_an_item_without_quantity_or_price_still_reads_cleanly(world):
    world.contacts(CONTACTS)
    install(world)
    world.event("ann", "cart_abandoned", AT, items=[{"name": "Gift card", "price": None}, {"name": "Mug", "price": 9}])
    [sent] = world.sent("ann")
    assert sent["body_text"] == "- Gift card × 1\n- Mug × 1 — $9.00\n"


def test_the_sms_block_keeps_to_gsm_7(world):
    world.contacts(CONTACTS)
    install(world, channel="sms")
    world.event("ann", "cart_abandoned", AT, items=CART)
    [sent] = world.sent("ann")
    assert sent["body_text"] == "1 x Linen shirt: $49.00\n2 x Canvas tote: $18.50\n"
    assert sent["body_text"].isascii()


def test_a_cart_without_items_applies_the_steps_policy(world):
    world.contacts(CONTACTS)
    install(world, missing="skip")
    world.event("ann", "cart_abandoned", AT, total=10)
    assert world.messages("ann") == []
    assert world.log("ann", "skipped")[0]["reason"] == "missing_variable"


def test_the_documented_block_is_the_one_inserted_and_prints_as_documented():
    from zoneinfo import ZoneInfo

    from app.engine.message_render import message_context, render_message
    from app.engine.templating import TemplateCache
    from app.paths import ROOT

    doc = (ROOT / "docs" / "journey-format.md").read_text(encoding="utf-8")
    section = doc.split("### Listing cart items", 1)[1]
    block, printed = [part.split("```", 1)[0] for part in section.split("```\n")[1::2][:2]]
    assert block == cart_items_block("text", "email")
    templates = TemplateCache()
    shirt = {**CART[0], "url": "https://shop.example/products/linen-shirt"}
    event = {"currency": "USD", "items": [shirt, {"name": "Canvas tote", "quantity": 2, "price": 18.5}]}
    context = message_context(templates, {"id": "x", "first_name": "Ann"}, event, ZoneInfo("UTC"), "Cart")
    message = render_message(templates, {"channel": "sms", "message": block}, context, ("j", 1, "n"))
    assert message.text == printed


@pytest.mark.parametrize(("locale", "currency", "line"), [
    ("de_DE", "EUR", "1 x Linen shirt: 1.249,50 €"),       # Babel writes a no-break space before the €
    ("fr_FR", "EUR", "1 x Linen shirt: 1 249,50 €"),       # … and a narrow no-break space between thousands
    ("sv_SE", "SEK", "1 x Linen shirt: 1 249,50 kr"),
    ("pt_BR", "BRL", "1 x Linen shirt: R$ 1.249,50"),
])
def test_the_sms_block_keeps_to_gsm_7_in_every_locale(world, locale, currency, line):
    from app.journey.sms import GSM7, count_sms

    world.contacts("id,email,phone,first_name,locale,subscribed\n"
                   f"eve,eve@example.com,+15550009,Eve,{locale},all\n")
    install(world, channel="sms")
    world.event("eve", "cart_abandoned", AT, currency=currency,
                items=[{"name": "Linen shirt", "quantity": 1, "price": "1249.5"}])
    [sent] = world.sent("eve")
    assert sent["body_text"] == line + "\n"
    assert count_sms(sent["body_text"]).encoding == GSM7

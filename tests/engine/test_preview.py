"""The preview renders what the engine sends: compared with the engine's own outbox row for the same contact
and event, and with its skip / fail decisions for missing values; the event and contact choices."""
from __future__ import annotations

import pytest

from app.engine.preview import (FAILED, SAMPLE_EVENT_ID, SENT, SKIPPED, PreviewRefused, StepSnapshot, contact_events,
                                load_subject, preview_step, render_preview, trigger_event_type)
from app.engine.samples import SAMPLE_EVENTS
from app.store.contact_order import neighbour_contact

from .helpers import CONTACTS, chain, send_node, simple_journey

CART = {"cart_url": "https://shop.example/c/ann", "currency": "EUR", "total": 61.0, "placed": "2026-03-02T23:30:00Z",
        "items": [{"name": "Blue mug", "quantity": 2, "price": 12.5}, {"name": "Linen shirt", "quantity": 1,
                                                                        "price": 36}]}
HTML = ("<p>Hi {{ contact.first_name }} from {{ contact.city }},</p><ul>{% for item in event.items %}"
        "<li>{{ item.name }} × {{ item.quantity }} — {{ item.price | money }}</li>{% endfor %}</ul>"
        "<p>Total {{ event.total | money }}, {{ event.placed | date }}</p><a href=\"{{ event.cart_url }}\">Cart</a>")


def _cart_journey(**config):
    journey = simple_journey("Cart")
    email = send_node(journey, subject="{{ contact.first_name }}, {{ event.items | length }} items <left>",
                      html=HTML, text="{{ contact.first_name }}: {{ event.cart_url }} {{ event.placed | datetime }}",
                      **config)
    sms = send_node(journey, channel="sms", subject="{{ contact.first_name }}: {{ event.total | money }} 🛒",
                    **config)
    chain(journey, journey.trigger(), email, sms)
    return journey, email, sms


def test_the_preview_equals_the_engines_outbox_row(world):
    journey, email, sms = _cart_journey()
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    sent = {m["node_id"]: m for m in world.messages("ann")}
    assert set(sent) == {email.id, sms.id}
    for step in (email, sms):
        preview = preview_step(world.db, journey, step.id, "ann")
        row = sent[step.id]
        assert preview.outcome == SENT and not preview.missing and preview.error is None
        assert (preview.subject, preview.html, preview.text) == (row["subject"], row["body_html"], row["body_text"])
        assert (preview.sender, preview.recipient) == (row["sender"], row["recipient"])
    # The date is the contact's local day (Europe/London), money in the event's currency.
    assert "€12.50" in preview_step(world.db, journey, email.id, "ann").html
    assert "Mar 2, 2026" in preview_step(world.db, journey, email.id, "ann").html


def test_for_a_contact_in_another_zone_the_dates_are_theirs_as_the_engines(world):
    journey, email, _ = _cart_journey()
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)   # Tokyo: 23:30 UTC is the next day
    world.advance_to("2026-03-02T11:00:00Z")
    row = next(m for m in world.messages("cho") if m["node_id"] == email.id)
    preview = preview_step(world.db, journey, email.id, "cho")
    assert "Mar 3, 2026" in preview.html and preview.html == row["body_html"] and preview.text == row["body_text"]


@pytest.mark.parametrize("policy,outcome,logged", [("skip", SKIPPED, "skipped"), ("fail", FAILED, "failed")])
def test_missing_values_under_skip_and_fail_as_the_engine_decides(world, policy, outcome, logged):
    journey = simple_journey("Coupon")
    sms = send_node(journey, channel="sms", subject="{{ contact.first_name }}: {{ event.coupon }} off", missing=policy)
    chain(journey, journey.trigger(), sms)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    assert world.messages("ann") == [] and world.log("ann", logged)[0]["reason"] == "missing_variable"
    preview = preview_step(world.db, journey, sms.id, "ann")
    assert preview.outcome == outcome and [m.name for m in preview.missing] == ["event.coupon"]
    assert "nothing is sent" in preview.missing[0].outcome and "nothing is sent" in preview.outcome_words


def test_fallback_text_is_printed_and_marked(world):
    journey = simple_journey("Coupon")
    sms = send_node(journey, channel="sms", subject="Hi {{ contact.nickname | title }}, {{ event.coupon }} off",
                    missing="fallback", fallback="friend")
    chain(journey, journey.trigger(), sms)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    preview = preview_step(world.db, journey, sms.id, "ann")
    assert preview.text == world.messages("ann")[0]["body_text"] == "Hi Friend, friend off"
    assert [m.name for m in preview.missing] == ["contact.nickname", "event.coupon"]
    assert all("fallback text “friend”" in m.outcome for m in preview.missing)
    assert preview.marked["message"] == "Hi \ue000Friend\ue001, \ue000friend\ue001 off"


def test_a_template_error_names_its_field_and_fails(world):
    journey, email, _ = _cart_journey()
    email.config["text"] = "{{ event.total | money }} {% for %}"
    preview = preview_step(world.db, journey, email.id)
    assert preview.outcome == FAILED and preview.error is not None and preview.error[0] == "text"


def test_the_event_is_the_contacts_latest_of_the_trigger_type_else_a_sample(world):
    journey, email, _ = _cart_journey()
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", event_id="old", **{**CART, "cart_url": "https://old"})
    world.event("ann", "order_placed", "2026-03-02T10:30:00Z", order_id="A1")
    world.event("ann", "cart_abandoned", "2026-03-02T11:00:00Z", event_id="new", **CART)
    found = contact_events(world.db, "ann", "cart_abandoned")
    assert [e.properties.get("cart_url") for e in found] == ["https://shop.example/c/ann", "https://old",
                                                             SAMPLE_EVENTS["cart_abandoned"]["cart_url"]]
    assert found[-1].sample and found[-1].words == "a sample cart"
    assert "https://shop.example/c/ann" in preview_step(world.db, journey, email.id, "ann").text
    older = preview_step(world.db, journey, email.id, "ann", found[1].event_id)
    assert "https://old" in older.text and older.event_words == "their cart abandoned event of 2026-03-02 10:00 GMT"
    assert "recover/sample" in preview_step(world.db, journey, email.id, "ann", SAMPLE_EVENT_ID).text
    assert "recover/sample" in preview_step(world.db, journey, email.id, "bob").text       # bob has no cart
    with pytest.raises(PreviewRefused):
        preview_step(world.db, journey, email.id, "bob", found[0].event_id)        # ann's event, not bob's
    with pytest.raises(PreviewRefused):
        preview_step(world.db, journey, email.id, "nobody")


@pytest.mark.parametrize("event_type,key", [("order_placed", "order_id"), ("product_viewed", "product"),
                                            ("subscribed", "source"), ("conversation_closed", "channel")])
def test_each_trigger_kind_has_a_plausible_sample(world, event_type, key):
    journey = simple_journey("Kinds", event=event_type)
    step = send_node(journey, channel="sms", subject="{{ event." + key + " }}", missing="fail")
    chain(journey, journey.trigger(), step)
    preview = preview_step(world.db, journey, step.id)
    assert preview.outcome == SENT and preview.text and preview.contact_words == "the sample contact"


def test_a_journey_started_by_time_renders_with_no_event_as_the_engine_does(world):
    journey = simple_journey("Win back")
    journey.trigger().config.update(mode="no_order", days=30)
    step = send_node(journey, channel="sms", subject="{{ event.total }}!", missing="fallback", fallback="-")
    chain(journey, journey.trigger(), step)
    assert trigger_event_type(journey) is None
    preview = preview_step(world.db, journey, step.id)
    assert preview.text == "-!" and preview.event_words.startswith("no event")


def test_render_after_load_needs_no_database(world):
    journey, email, _ = _cart_journey()
    world.contacts(CONTACTS)
    snapshot = StepSnapshot.of(journey, email.id)
    subject = load_subject(world.db, snapshot, "cart_abandoned", "ann")
    world.db.dispose()
    email.config["subject"] = "changed"             # the snapshot is a copy: the live draft changes freely
    assert render_preview(snapshot, subject).subject.startswith("Ann, 2 items")


def test_opted_out_or_unreachable_contacts_are_noted(world):
    journey, email, sms = _cart_journey()
    world.contacts(CONTACTS + "dan,,,Dan,Fox,,,,,\n")
    assert any("opted out" in n for n in preview_step(world.db, journey, email.id, "bob").notes)
    assert any("no phone number" in n for n in preview_step(world.db, journey, sms.id, "dan").notes)
    assert preview_step(world.db, journey, email.id, "ann").notes == ()


def test_next_and_previous_contact_in_id_order_with_a_search(world):
    world.contacts(CONTACTS)
    ids = lambda *steps: [s.id if s else None for s in steps]     # noqa: E731
    assert ids(neighbour_contact(world.db, None), neighbour_contact(world.db, "ann"),
               neighbour_contact(world.db, "cho")) == ["ann", "bob", "ann"]          # wraps round
    assert ids(neighbour_contact(world.db, "ann", forward=False)) == ["cho"]
    assert ids(neighbour_contact(world.db, "ann", text="example.com tokyo")) == [None]   # city is no search field
    assert ids(neighbour_contact(world.db, "ann", text="+1555000")) == ["bob"]
    assert ids(neighbour_contact(world.db, "bob", text="KIM")) == ["cho"]
    assert ids(neighbour_contact(world.db, "cho", text="zzz")) == [None]


def test_a_whatsapp_template_with_its_variables_filled_in_as_the_engine_sends(world):
    journey = simple_journey("WhatsApp")
    step = send_node(journey, channel="whatsapp", subject="{{ contact.first_name }}",
                     wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "{{ event.items | length }} items"}])
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    row = world.messages("ann")[0]
    preview = preview_step(world.db, journey, step.id, "ann")
    assert preview.whatsapp_template == row["whatsapp_template"]
    assert preview.whatsapp_template["variables"] == ["Ann", "2 items"] and preview.outcome == SENT


def test_an_empty_whatsapp_variable_skips_the_message_as_the_engine_does(world):
    journey = simple_journey("WhatsApp")
    step = send_node(journey, channel="whatsapp", wa_variables=[{"value": "{{ contact.nickname }}"}],
                     missing="fallback", fallback="")
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    assert world.messages("ann") == [] and world.log("ann", "skipped")[0]["reason"] == "missing_variable"
    preview = preview_step(world.db, journey, step.id, "ann")
    assert preview.outcome == SKIPPED and "skips" in preview.outcome_words
    assert [m.name for m in preview.missing] == ["contact.nickname", "WhatsApp variable 1"]


@pytest.mark.parametrize("contact", ["ann", "bob", None])
def test_the_preview_shows_what_a_test_send_sends(tmp_path, contact):
    from app.delivery import test_send as ts
    from app.journey.fileformat import from_document
    from app.store.journeys import JourneyStore
    from tests.delivery.shop import make_shop

    shop = make_shop(str(tmp_path / "shop.sqlite3"))
    journey = from_document(JourneyStore(shop.db).load_draft(shop.journey_id), "test")
    for step, to in ((shop.email_step, "me@shop.example"), (shop.sms_step, "+4915123456789")):
        out = ts.prepare_test(shop.db, journey, step, to, contact).outgoing
        preview = preview_step(shop.db, journey, step, contact)
        if out.channel == "email":
            assert out.subject == f"[TEST] {preview.subject}" and out.body_html == preview.html
            assert out.body_text == preview.text and out.sender == preview.sender
        else:
            assert out.body_text == f"[TEST] {preview.text}"


def test_the_cart_example_email_for_contacts_with_and_without_first_name_equals_the_engines(world):
    from app.delivery.unsubscribe import links_for
    from app.examples import load_example

    journey = load_example("cart_abandonment")
    email = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "email")
    world.install(journey)
    world.contacts(CONTACTS + "dan,dan@example.com,,,,Europe/London,,,email,Leeds\n")
    for contact in ("ann", "dan"):
        world.event(contact, "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T12:00:00Z")
    links = links_for(world.db)
    for contact, hello, subject in (("ann", "Hi Ann,", "Ann, your cart misses you"),
                                    ("dan", "Hi there,", "Hi, your cart misses you")):
        row = next(m for m in world.messages(contact) if m["node_id"] == email.id)
        preview = preview_step(world.db, journey, email.id, contact)
        assert preview.subject == row["subject"] == subject and hello in preview.html
        assert "Blue mug × 2 — €12.50" in " ".join(preview.html.split()) and not preview.missing
        # The unsubscribe link is signed with the message's key: the run's in the outbox, the preview's own.
        own = links.url(f"preview:{email.id}")
        assert preview.html.replace(own, links.url(row["idempotency_key"])) == row["body_html"]
        assert preview.text.replace(own, links.url(row["idempotency_key"])) == row["body_text"]


def test_a_spend_journey_renders_with_the_order_that_crossed_the_threshold_as_the_engine_does(world):
    journey = simple_journey("Big spender")
    journey.trigger().config.update(mode="spend", threshold=50)
    step = send_node(journey, channel="sms", subject="Order {{ event.order_id }}: {{ event.total | money }}",
                     missing="fail")
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "order_placed", "2026-03-02T10:00:00Z", order_id="A-77", total=60, currency="GBP")
    world.advance_to("2026-03-02T11:00:00Z")
    [row] = world.messages("ann")
    preview = preview_step(world.db, journey, step.id, "ann")
    assert preview.outcome == SENT and preview.text == row["body_text"] == "Order A-77: £60.00"
    sample = preview_step(world.db, journey, step.id)           # the sample contact: a sample order
    assert sample.outcome == SENT and sample.text.startswith("Order SAMPLE-1001: ") and not sample.missing


def test_every_property_the_editor_suggests_has_a_sample_value_for_every_trigger_kind(world):
    """On a fresh install the editor offers each declared event property; the sample event the preview
    renders with must carry every one of them, or the preview calls a suggested variable missing."""
    from app.journey.event_properties import EVENT_PROPERTIES

    for event_type, properties in EVENT_PROPERTIES.items():
        reads = []
        for prop in properties:
            reads.append(f"{{{{ event.{prop.name} }}}}")
            if prop.is_list:
                reads.append("{% for x in event." + prop.name + " %}"
                             + "".join(f"{{{{ x.{f.name} }}}}" for f in prop.fields) + "{% endfor %}")
            else:
                reads.extend(f"{{{{ event.{prop.name}.{f.name} }}}}" for f in prop.fields)
        journey = simple_journey("Kinds", event=event_type)
        step = send_node(journey, channel="sms", subject=" ".join(reads), missing="fail")
        chain(journey, journey.trigger(), step)
        preview = preview_step(world.db, journey, step.id)
        assert (event_type, preview.outcome, [m.name for m in preview.missing]) == (event_type, SENT, [])


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_a_contact_never_asked_for_text_consent_is_skipped_as_the_engine_does(world, channel):
    journey = simple_journey("Texts")
    step = send_node(journey, channel=channel, subject="Hi {{ contact.first_name }}")
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS + "eve,eve@example.com,+15550009,Eve,Ng,Europe/Paris,,,,Paris\n")   # no consent recorded
    for who in ("ann", "eve", "bob"):
        world.event(who, "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    assert world.messages("eve") == [] and world.log("eve", "skipped")[0]["reason"] == "no_consent"
    eve = preview_step(world.db, journey, step.id, "eve")
    assert eve.outcome == SKIPPED and any("never agreed" in n for n in eve.notes)
    ann = preview_step(world.db, journey, step.id, "ann")
    assert ann.outcome == SENT and ann.notes == () and [m["recipient"] for m in world.messages("ann")] == ["+15550001"]
    # The journey allows texts to contacts never asked: then eve gets it, in the engine and the preview.
    journey.settings["consent"][f"{channel}_unknown"] = True
    assert preview_step(world.db, journey, step.id, "eve").outcome == SENT
    # The sample contact agreed to everything: its preview shows the message.
    journey.settings["consent"][f"{channel}_unknown"] = False
    assert preview_step(world.db, journey, step.id).outcome == SENT


def test_an_opted_out_contact_is_skipped_whatever_the_template_says(world):
    journey, email, _ = _cart_journey(missing="fail")
    email.config["text"] = "{{ event.coupon }}"
    world.contacts(CONTACTS)
    bob = preview_step(world.db, journey, email.id, "bob")          # opted out of email
    assert bob.outcome == SKIPPED and "skips" in bob.outcome_words and any("opted out" in n for n in bob.notes)
    assert preview_step(world.db, journey, email.id, "ann").outcome == FAILED


def test_an_event_is_named_in_words_at_its_time_in_the_contacts_zone(world):
    journey, email, _ = _cart_journey()
    world.contacts(CONTACTS)
    world.event("cho", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)          # Tokyo: 19:00 JST
    world.event("bob", "cart_abandoned", "2026-07-02T10:00:00Z", **CART)          # New York in summer: EDT
    assert preview_step(world.db, journey, email.id, "cho").event_words == "their cart abandoned event of 2026-03-02 19:00 JST"
    assert preview_step(world.db, journey, email.id, "bob").event_words == "their cart abandoned event of 2026-07-02 06:00 EDT"
    custom = simple_journey("VIP", event="vip_signup")
    step = send_node(custom, channel="sms", subject="Welcome")
    chain(custom, custom.trigger(), step)
    world.event("ann", "vip_signup", "2026-07-03T10:00:00Z", level="gold")
    assert preview_step(world.db, custom, step.id, "ann").event_words == "their vip signup event of 2026-07-03 11:00 BST"


def test_a_step_for_matching_contacts_notes_a_contact_who_does_not_match_as_the_engine_skips(world):
    journey = simple_journey("VIPs only")
    step = send_node(journey, subject="For our VIPs", recipients="matching",
                     terms=[{"term": "has_tag", "value": "vip"}, {"term": "subscribed_to", "value": "SMS"}])
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS)
    for who in ("ann", "cho"):
        world.event(who, "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    assert world.log("ann", "skipped")[0]["reason"] == "not_matching" and len(world.messages("cho")) == 1
    ann = preview_step(world.db, journey, step.id, "ann")          # no vip tag
    assert ann.outcome == SKIPPED and any("has tag: vip" in n for n in ann.notes)
    assert preview_step(world.db, journey, step.id, "cho").outcome == SENT


def test_searching_contacts_finds_underscores_and_percent_signs_as_themselves(world):
    from app.store.contacts import find_contacts

    world.contacts("id,email,phone,first_name\n"
                   "shop_17,ann_lee@example.com,+15550017,Ann\n"
                   "shopX17,bob@example.com,+15550018,Bob\n"
                   "c9,c.d@example.com,+15550019,100%\n")
    for text, found in (("shop_17", ["shop_17"]), ("ann_lee", ["shop_17"]), ("100%", ["c9"]), ("_", ["shop_17"]),
                        ("shop", ["shopX17", "shop_17"]), ("\\", [])):
        assert sorted(c.id for c in find_contacts(world.db, text)) == sorted(found), text
        step = neighbour_contact(world.db, None, text=text)
        assert (step.id if step else None) in (found or [None]), text


def test_free_whatsapp_text_says_it_needs_the_contact_to_have_written_within_24_hours(world):
    journey = simple_journey("WhatsApp text")
    step = send_node(journey, channel="whatsapp", subject="Hi {{ contact.first_name }}", wa_mode="text")
    chain(journey, journey.trigger(), step)
    world.install(journey)
    world.contacts(CONTACTS)
    world.event("ann", "cart_abandoned", "2026-03-02T10:00:00Z", **CART)
    world.advance_to("2026-03-02T11:00:00Z")
    assert world.log("ann", "skipped")[0]["reason"] == "outside_whatsapp_window"
    preview = preview_step(world.db, journey, step.id, "ann")
    assert preview.text == "Hi Ann" and any("24 hours" in n for n in preview.notes)


def test_a_manual_journey_is_not_said_to_start_by_time(world):
    journey = simple_journey("Announcement")
    journey.trigger().config.update(mode="manual")
    step = send_node(journey, channel="sms", subject="News")
    chain(journey, journey.trigger(), step)
    assert "by hand" in preview_step(world.db, journey, step.id).event_words

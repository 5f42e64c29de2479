"""Templates through the engine: what lands in the message row (subject, HTML and text bodies)."""
from __future__ import annotations

from .helpers import chain, send_node, simple_journey

AT = "2026-03-02T10:00:00Z"
CONTACTS = ('id,email,phone,first_name,timezone,locale,subscribed\n'
            'eve,eve@example.com,+15550009,"<a href=""https://evil.example/win"">Claim</a>",,,all\n'
            'tom,tom@example.com,+15550010,Tom & Jerry,Europe/Berlin,de_DE,all\n')


def install(world, step_name: str = "", **config):
    journey = simple_journey()
    send = send_node(journey, **config)
    send.name = step_name
    chain(journey, journey.trigger(), send, journey.add_node("tag", {"add": ["after"]}))
    world.install(journey)
    return send


def test_contact_markup_is_escaped_in_the_html_body_only(world):
    world.contacts(CONTACTS)
    install(world, subject="Hi {{ contact.first_name }}", html="<p>Hi {{ contact.first_name }}</p>",
            text="Hi {{ contact.first_name }}")
    world.event("eve", "cart_abandoned", AT)
    world.event("tom", "cart_abandoned", AT)
    [eve], [tom] = world.sent("eve"), world.sent("tom")
    assert eve["body_html"] == "<p>Hi &lt;a href=&#34;https://evil.example/win&#34;&gt;Claim&lt;/a&gt;</p>"
    assert eve["subject"] == eve["body_text"] == 'Hi <a href="https://evil.example/win">Claim</a>'
    assert tom["body_html"] == "<p>Hi Tom &amp; Jerry</p>"
    assert tom["subject"] == tom["body_text"] == "Hi Tom & Jerry"


def test_sms_and_whatsapp_text_is_not_escaped(world):
    world.contacts(CONTACTS)
    install(world, channel="sms", subject="{{ contact.first_name }}: your cart at {{ event.shop }}")
    world.event("tom", "cart_abandoned", AT, shop="Bread & Butter <Berlin>")
    assert world.sent("tom")[0]["body_text"] == "Tom & Jerry: your cart at Bread & Butter <Berlin>"


def test_a_null_value_uses_the_fallback(world):
    world.contacts(CONTACTS)
    install(world, text="use code {{ event.coupon }}", missing="fallback", fallback="WELCOME10")
    world.event("tom", "cart_abandoned", AT, coupon=None)
    assert world.sent("tom")[0]["body_text"] == "use code WELCOME10"


def test_a_null_value_skips_or_fails_as_the_step_says(world):
    world.contacts(CONTACTS)
    install(world, text="use code {{ event.coupon }}", missing="skip")
    world.event("tom", "cart_abandoned", AT, coupon=None)
    assert world.messages("tom") == []
    assert world.log("tom", "skipped")[0]["reason"] == "missing_variable" and world.log("tom", "tagged")


def test_a_null_value_fails_the_run_when_the_step_says_fail(world):
    world.contacts(CONTACTS)
    install(world, html="<p>{{ event.cart.total }}</p>", text="", missing="fail")
    world.event("tom", "cart_abandoned", AT, cart={"total": None})
    [failed] = world.log("tom", "failed")
    assert failed["reason"] == "missing_variable" and failed["detail"] == {"missing": ["event.cart.total"]}
    assert world.messages("tom") == [] and not world.log("tom", "tagged")


def test_default_below_a_missing_value_is_used_and_the_run_goes_on(world):
    world.contacts(CONTACTS)
    install(world, subject="Your cart", text="Total: {{ event.cart.total | default('see your cart') }}",
            missing="fail")
    world.event("tom", "cart_abandoned", AT)                      # no cart at all
    assert world.sent("tom")[0]["body_text"] == "Total: see your cart"
    assert not world.log("tom", "failed") and world.log("tom", "tagged")


def test_a_tested_null_value_is_not_a_missing_value(world):
    world.contacts(CONTACTS)
    install(world, text="{% if event.coupon %}use code {{ event.coupon }}{% else %}welcome back{% endif %}",
            missing="fail")
    world.event("tom", "cart_abandoned", AT, coupon=None)
    assert world.sent("tom")[0]["body_text"] == "welcome back"


def test_a_template_error_fails_that_run_with_the_step_and_field_and_the_batch_goes_on(world):
    world.contacts(CONTACTS)
    install(world, subject="Your cart", html="<p>{{ 100 / event.items | length }} each</p>",
                   text="Hi", step_name="Cart reminder")
    world.event("tom", "cart_abandoned", AT, items=[])
    world.event("eve", "cart_abandoned", AT, items=["Mug"])
    [failed] = world.log("tom", "failed")
    assert failed["reason"] == "template_error"
    assert failed["detail"]["field"] == "html" and "division by zero" in failed["detail"]["error"]
    assert failed["detail"]["step"] == "Cart reminder"
    assert world.runs("tom")[0]["exit_reason"] == "error" and world.messages("tom") == []
    assert world.sent("eve")[0]["body_html"] == "<p>100 each</p>"


def test_the_cart_snippet_in_the_contacts_locale_and_time_zone(world):
    world.contacts(CONTACTS)
    snippet = ("{% for item in event.items %}{{ item.quantity }} × {{ item.title }} — "
               "{{ item.price | money(event.currency) }}\n{% endfor %}Until {{ event.expires | datetime }}")
    install(world, subject="{{ event.items }}", html="<pre>" + snippet + "</pre>", text=snippet)
    world.event("tom", "cart_abandoned", AT, currency="EUR", expires="2026-03-04T23:00:00Z",
                items=[{"title": "Mug", "quantity": 2, "price": "14.5"}, {"title": "Tea & Co", "quantity": 1,
                                                                           "price": 9.9}])
    [email] = world.sent("tom")
    assert email["subject"] == "Mug, Tea & Co"
    assert email["body_text"] == "2 × Mug — 14,50\xa0€\n1 × Tea & Co — 9,90\xa0€\nUntil 05.03.2026, 00:00"
    assert email["body_html"] == ("<pre>2 × Mug — 14,50\xa0€\n1 × Tea &amp; Co — 9,90\xa0€\n"
                                  "Until 05.03.2026, 00:00</pre>")


def test_dates_in_a_message_use_the_same_zone_as_every_other_local_time_rule(world):
    """A contact without a time zone sees times in the journey's zone, else the business's (§7)."""
    from app.store.app_settings import set_business_timezone

    world.contacts(CONTACTS)
    set_business_timezone(world.db, "America/New_York")
    install(world, subject="Ends {{ event.expires | datetime }} ({{ event.expires | time }})")
    world.event("eve", "cart_abandoned", AT, expires="2026-03-04T23:00:00Z")     # no zone of her own
    world.event("tom", "cart_abandoned", AT, expires="2026-03-04T23:00:00Z")     # Europe/Berlin, de_DE
    assert world.sent("eve")[0]["subject"] == "Ends Mar 4, 2026, 6:00\u202fPM (6:00\u202fPM)"
    assert world.sent("tom")[0]["subject"] == "Ends 05.03.2026, 00:00 (00:00)"


def test_a_coupon_filtered_then_defaulted_is_sent_even_when_the_step_skips_missing_values(world):
    world.contacts(CONTACTS)
    install(world, channel="sms", subject="Use code {{ event.coupon | upper | default('WELCOME') }} at "
                                          "{{ event.shop | default('our shop') }}", missing="skip")
    world.event("tom", "cart_abandoned", AT, coupon=None)
    assert world.sent("tom")[0]["body_text"] == "Use code WELCOME at our shop"
    assert not world.log("tom", "skipped")


def test_cart_items_never_print_as_a_python_list_in_any_field(world):
    world.contacts(CONTACTS)
    install(world, subject="{{ event.items | map(attribute='title') | list }}",
            html="<p>{{ event.items | list }}</p>", text="{{ 'You left: ' ~ (event.items | sort(attribute='title')) }}")
    world.event("tom", "cart_abandoned", AT, items=[{"title": "Tea & Co"}, {"title": "Mug"}])
    [email] = world.sent("tom")
    assert email["subject"] == "Tea & Co, Mug"
    assert email["body_html"] == "<p>Tea &amp; Co, Mug</p>"
    assert email["body_text"] == "You left: Mug, Tea & Co"


def test_a_line_break_in_contact_data_never_splits_the_subject(world):
    world.contacts('id,email,first_name,subscribed\nmal,mal@example.com,"Ann\r\nBcc: everyone@example.com",all\n')
    install(world, subject="Hi {{ contact.first_name }}", text="Hi {{ contact.first_name }}")
    world.event("mal", "cart_abandoned", AT)
    [email] = world.sent("mal")
    assert email["subject"] == "Hi Ann Bcc: everyone@example.com"
    assert email["body_text"] == "Hi Ann\r\nBcc: everyone@example.com"          # the body is sent as written

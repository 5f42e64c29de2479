"""Rendering one field for one contact: escaping (HTML body only), missing values, printing, errors."""
from __future__ import annotations

from typing import Any

import pytest

from app.engine.templating import Rendered, TemplateCache

CLAIM = '<a href="https://evil.example/win">Claim</a>'


def render(source: str, field: str = "text", fallback: str = "", cache: TemplateCache | None = None,
           contact: dict[str, Any] | None = None, **event: Any) -> Rendered:
    cache = cache or TemplateCache()
    context = {"contact": contact if contact is not None else {"first_name": "Ann"}, "event": event,
               "journey": {"name": "Cart"}}
    return cache.render(("j", 1, "n", field), source, context, fallback)


def text(source: str, field: str = "text", **kwargs: Any) -> str:
    result = render(source, field, **kwargs)
    assert result.error is None, result.error
    return result.text


# --- 2. Contact data never becomes markup ---------------------------------------------------------

def test_markup_in_contact_data_is_escaped_in_the_html_body():
    assert text("<p>Hi {{ contact.first_name }}</p>", "html", contact={"first_name": CLAIM}) == \
        "<p>Hi &lt;a href=&#34;https://evil.example/win&#34;&gt;Claim&lt;/a&gt;</p>"
    assert text("<p>Hi {{ contact.first_name }}</p>", "html", contact={"first_name": "Tom & Jerry"}) == \
        "<p>Hi Tom &amp; Jerry</p>"


@pytest.mark.parametrize("field", ["subject", "text", "message"])
def test_subject_plain_text_and_short_messages_are_not_escaped(field):
    assert text("Hi {{ contact.first_name }}", field, contact={"first_name": CLAIM}) == f"Hi {CLAIM}"
    assert text("Hi {{ contact.first_name }}", field, contact={"first_name": "Tom & Jerry"}) == "Hi Tom & Jerry"


def test_the_templates_own_markup_stays_as_written():
    source = '<p style="color:#333">Hi <b>{{ contact.first_name }}</b> &amp; welcome</p>'
    assert text(source, "html") == '<p style="color:#333">Hi <b>Ann</b> &amp; welcome</p>'


def test_values_cannot_leave_a_quoted_attribute():
    url = "https://shop.example/c?a=1&b=2\" onmouseover=\"steal()' x='"
    assert text('<a href="{{ event.url }}">Cart</a>', "html", url=url) == (
        '<a href="https://shop.example/c?a=1&amp;b=2&#34; onmouseover=&#34;steal()&#39; x=&#39;">Cart</a>')


def test_every_route_from_data_to_the_html_body_escapes():
    event = {"name": "<i>Mug</i>", "items": [{"title": "<b>Tea</b>", "price": 3}, {"title": "R&D"}],
             "tags": ["<x>", "y"], "currency": "<EUR>"}
    cases = {
        "{{ event.name | upper }}": "&lt;I&gt;MUG&lt;/I&gt;",
        "{{ event.name | replace('Mug', 'Cup') }}": "&lt;i&gt;Cup&lt;/i&gt;",
        "{{ 'Hi ' ~ event.name }}": "Hi &lt;i&gt;Mug&lt;/i&gt;",
        "{{ event.nope | default(event.name) }}": "&lt;i&gt;Mug&lt;/i&gt;",
        "{% for i in event.items %}<li>{{ i.title }}</li>{% endfor %}": "<li>&lt;b&gt;Tea&lt;/b&gt;</li><li>R&amp;D</li>",
        "{{ event.items }}": "&lt;b&gt;Tea&lt;/b&gt;, R&amp;D",
        "{{ event.tags | join(' & ') }}": "&lt;x&gt; &amp; y",
        "{{ event.items | map(attribute='title') | join(', ') }}": "&lt;b&gt;Tea&lt;/b&gt;, R&amp;D",
        "{% set label %}<em>{{ event.name }}</em>{% endset %}{{ label }}": "<em>&lt;i&gt;Mug&lt;/i&gt;</em>",
        "{{ '%s!' | format(event.name) }}": "&lt;i&gt;Mug&lt;/i&gt;!",
        "{{ event.items[0].price | money(event.currency) }}": "&lt;EUR&gt;3.00",
    }
    for source, expected in cases.items():
        assert text(source, "html", **event) == expected, source


def test_the_fallback_for_a_missing_value_is_escaped_in_html_only():
    assert text("<p>{{ event.shop }}</p>", "html", fallback="Tom & Jerry") == "<p>Tom &amp; Jerry</p>"
    assert text("{{ event.shop }}", "subject", fallback="Tom & Jerry") == "Tom & Jerry"


def test_a_literal_in_a_print_is_escaped_too_markup_belongs_outside_the_braces():
    assert text("{{ contact.nickname | default('<b>friend</b>') }}", "html") == "&lt;b&gt;friend&lt;/b&gt;"


@pytest.mark.parametrize("source", [
    "{{ contact.first_name | safe }}", "{{ contact.first_name | urlize }}", "<p {{ event.a | xmlattr }}>",
    "{{ event | tojson }}", "{% autoescape false %}{{ contact.first_name }}{% endautoescape %}",
    "{% filter safe %}{{ contact.first_name }}{% endfilter %}",
])
def test_ways_to_turn_data_into_markup_are_refused(source):
    result = render(source, "html", contact={"first_name": CLAIM}, a={"onclick": "x()"})
    assert result.error and result.error.startswith("template error") and "<a href" not in result.text


# --- 3. Missing values --------------------------------------------------------------------------

def test_null_is_missing_and_prints_the_fallback():
    result = render("use code {{ event.coupon }}", fallback="WELCOME", coupon=None)
    assert (result.text, result.missing, result.error) == ("use code WELCOME", ("event.coupon",), None)


@pytest.mark.parametrize("event", [{}, {"cart": None}, {"cart": {}}, {"cart": {"total": None}}, {"cart": "gone"},
                                   {"cart": {"total": ""}}, {"cart": {"total": "   "}}])
def test_default_works_at_any_depth(event):
    for source in ("{{ event.cart.total | default('see your cart') }}",
                   "{{ event['cart']['total'] | default('see your cart') }}",
                   "{{ event.cart.total | d('see your cart') }}"):
        assert render(source, **event) == Rendered("see your cart", ())


def test_reading_below_a_missing_value_is_missing_not_an_error():
    assert render("{{ event.cart.total }}", fallback="?") == Rendered("?", ("event.cart.total",))
    assert render("{{ event['cart']['lines'][0] }}", fallback="?") == Rendered("?", ("event.cart.lines[0]",))
    assert render("{{ event.items[5].title }}", fallback="?", items=[{"title": "Mug"}]).text == "?"
    assert render("{{ contact.address.city.name | upper }}", fallback="town").text == "TOWN"


def test_a_mapping_without_the_key_is_missing_not_its_method():
    assert render("{{ event.items }}|{{ event.keys }}", fallback="-") == Rendered("-|-", ("event.items", "event.keys"))


def test_zero_false_and_empty_lists_are_values():
    assert render("{{ event.discount | default('none') }} {{ event.count }}", discount=0, count=0) == \
        Rendered("0 0", ())
    assert render("{{ event.gift }}", gift=False) == Rendered("no", ())


def test_testing_a_missing_value_does_not_report_it():
    source = ("{% if event.coupon %}code {{ event.coupon }}{% else %}no code{% endif %}"
              "{% if event.total > 50 %} big{% endif %}{% if event.cart is defined %} cart{% endif %}"
              "{{ event.items | length }}")
    assert render(source, "text", coupon=None, total=None) == Rendered("no code0", ())


def test_loops_over_missing_values_are_empty():
    result = render("Items:{% for i in event.items %} {{ i.title }}{% endfor %}.", fallback="x")
    assert (result.text, result.error) == ("Items:.", None)
    assert render("{% for i in event.items | default([]) %}{{ i }}{% endfor %}done") == Rendered("done", ())


def test_missing_values_stay_missing_through_arithmetic_and_filters():
    assert render("{{ event.total * 2 }}", fallback="?") == Rendered("?", ("event.total",))
    assert render("{{ event.total | money }}", fallback="?") == Rendered("?", ("event.total",))
    assert render("{{ event.qty | int }}", fallback="?") == Rendered("?", ("event.qty",))
    assert render("{{ event.total | money | default('see cart') }}") == Rendered("see cart", ())
    assert render("{{ event.at | date | default('soon') }}", at=None) == Rendered("soon", ())


def test_a_null_inside_a_list_is_missing_when_printed():
    assert render("{% for c in event.codes %}[{{ c }}]{% endfor %}", fallback="?", codes=["A", None]).text == \
        "[A][?]"


@pytest.mark.parametrize("source, fragment", [
    ("{{ 1 / event.zero }}", "division by zero"),
    ("{{ contact.first_name | shout }}", "unknown filter 'shout'"),
    ("{{ contact.__class__.__mro__ }}", "unsafe"),
    ("{{ contact.first_name ", "template error"),
    ("{{ event.name.foo() }}", "template error"),
])
def test_real_template_errors_come_back_as_errors_not_exceptions(source, fragment):
    result = render(source, zero=0, name=None)
    if source == "{{ event.name.foo() }}":           # a call on a missing value is missing, not an error
        assert result.error is None and result.missing == ("event.name.foo",)
        return
    assert result.error and result.error.startswith("template error") and fragment in result.error


# --- Printing never shows Python -----------------------------------------------------------------

def test_lists_and_records_print_as_text():
    event = {"items": [{"title": "Mug", "price": 9.5}, {"name": "Tea"}, None, {"label": "Gift"}],
             "tags": ["a", "", "b"], "nested": [["x", "y"], "z"], "ok": True, "ratio": 0.1 + 0.2,
             "price": 59.9, "big": 1234.5}
    assert text("{{ event.items }}|{{ event.tags }}|{{ event.nested }}", **event) == "Mug, Tea, Gift|a, b|x, y, z"
    assert text("{{ 'Cart: ' ~ event.items }}|{{ event.items | string }}|{{ event.items | first }}", **event) == \
        "Cart: Mug, Tea, Gift|Mug, Tea, Gift|Mug"
    assert text("{{ event.ok }} {{ event.ratio }} {{ event.price }} {{ event.big }}", **event) == \
        "yes 0.3 59.9 1,234.5"
    assert text("{{ contact.tags }}", contact={"tags": ["newsletter", "vip"]}) == "newsletter, vip"


def test_a_record_without_a_name_cannot_be_printed_whole():
    result = render("{{ event.address }}", address={"street": "1 Main St", "city": "Boston"})
    assert result.error and "cannot be printed whole" in result.error and "city, street" in result.error
    assert "prints a whole record" in (render("Hi {{ contact }}").error or "")


# --- Filters -----------------------------------------------------------------------------------

def test_money_uses_the_currency_and_the_contacts_locale():
    de = {"locale": "de_DE"}
    assert text("{{ event.total | money('EUR') }}", total=59.9) == "€59.90"
    assert text("{{ event.total | money('EUR') }}", contact=de, total=59.9) == "59,90\xa0€"
    assert text("{{ event.total | money }}", contact={"locale": "de-DE"}, total="1234.5", currency="usd") == \
        "1.234,50\xa0$"
    assert text("{{ event.total | money }}", contact={"locale": "fr_FR", "currency": "EUR"}, total=7) == "7,00\xa0€"
    assert text("{{ event.total | money }}", total="'12.5") == "12.50"            # no currency known
    assert text("{{ event.total | money('GBP') }}", contact={"locale": "xx_nowhere"}, total=5) == "£5.00"
    assert text("{{ event.total | money('JPY') }}", total=1234) == "¥1,234"      # yen have no minor unit
    result = render("{{ event.total | money('EUR') }}", total="about 5")
    assert result.error and "'about 5' is not an amount" in result.error


def test_dates_and_times_are_in_the_contacts_time_zone_and_locale():
    tokyo = {"timezone": "Asia/Tokyo"}
    at = "2026-03-02T20:30:00Z"                     # 05:30 on 3 March in Tokyo
    assert text("{{ event.at | date }}", contact=tokyo, at=at) == "Mar 3, 2026"
    assert text("{{ event.at | time }}", contact=tokyo, at=at) == "5:30\u202fAM"
    assert text("{{ event.at | datetime }}", contact=tokyo, at=at) == "Mar 3, 2026, 5:30\u202fAM"
    assert text("{{ event.at | date }}", contact={}, at=at) == "Mar 2, 2026"             # no zone: UTC
    assert text("{{ event.at | date }}", contact={"timezone": "Mars/Base"}, at=at) == "Mar 2, 2026"
    berlin = {"timezone": "Europe/Berlin", "locale": "de_DE"}
    assert text("{{ event.at | datetime }}", contact=berlin, at=at) == "02.03.2026, 21:30"
    assert text("{{ event.at | date('long') }}", contact=berlin, at=at) == "2. März 2026"
    assert text("{{ event.at | date('d. MMM') }} {{ event.day | date }}", contact=berlin, at=at,
                day="2026-12-24") == "2. März 24.12.2026"
    assert text("{{ event.at | time }}", contact=berlin, at=1772483400) == "21:30"   # Unix seconds
    result = render("{{ event.at | date }}", at="next Tuesday")
    assert result.error and "'next Tuesday' is not a date" in result.error


CART_SNIPPET = ("{% for item in event.items %}{{ item.quantity }} × {{ item.title }} — "
                "{{ item.price | money(event.currency) }}\n{% endfor %}")


def test_the_documented_cart_snippet():
    event = {"currency": "EUR", "items": [{"title": "Ceramic mug", "quantity": 2, "price": "14.50"},
                                          {"title": "Tea & biscuits", "quantity": 1, "price": 9.9}]}
    assert text(CART_SNIPPET, **event) == "2 × Ceramic mug — €14.50\n1 × Tea & biscuits — €9.90\n"
    assert text(CART_SNIPPET, "html", contact={"locale": "de_DE"}, **event) == \
        "2 × Ceramic mug — 14,50\xa0€\n1 × Tea &amp; biscuits — 9,90\xa0€\n"


def test_the_same_source_is_compiled_per_field_and_escapes_only_in_html():
    cache = TemplateCache()
    first = render("{{ contact.first_name }}", "html", cache=cache, contact={"first_name": "A&B"})
    second = render("{{ contact.first_name }}", "text", cache=cache, contact={"first_name": "A&B"})
    assert (first.text, second.text, cache.compiles) == ("A&amp;B", "A&B", 2)


def test_a_template_cannot_change_the_data_other_fields_see():
    cache = TemplateCache()
    variables = cache.variables({"contact": {"first_name": "Ann", "tags": ["a"]}, "event": {"items": ["Mug"]},
                                 "journey": {"name": "J"}})
    changed = cache.render(("j", 1, "n", "subject"), "{{ event.items.append('Free TV') }}{{ contact.update({}) }}",
                           variables)
    assert changed.error and "unsafe" in changed.error
    assert cache.render(("j", 1, "n", "text"), "{{ event.items }}", variables).text == "Mug"


# --- A missing value stays missing through every filter, until something prints or replaces it -------

@pytest.mark.parametrize("source", [
    "{{ event.coupon | upper | default('NO CODE') }}",
    "{{ event.coupon | trim | lower | default('NO CODE') }}",
    "{{ event.coupon | replace('-', '') | default('NO CODE') }}",
    "{{ event.coupon | string | default('NO CODE') }}",
    "{{ event.coupon | e | default('NO CODE') }}",
    "{{ event.codes | join(', ') | default('NO CODE') }}",
    "{{ event.codes | first | default('NO CODE') }}",
    "{{ event.cart.items | map(attribute='code') | join(', ') | default('NO CODE') }}",
    "{{ event.cart.total | round(2) | default('NO CODE') }}",
])
@pytest.mark.parametrize("field", ["html", "message"])
def test_default_after_other_filters_still_replaces_a_missing_value(source, field):
    # Nothing is reported missing: the step's skip or fail policy must not fire on a defaulted value.
    assert render(source, field, fallback="?", coupon=None, codes=None) == Rendered("NO CODE", ())


def test_a_printed_missing_value_goes_through_text_filters_as_its_fallback():
    assert render("Hi {{ contact.nickname | title }}!", fallback="friend") == Rendered(
        "Hi Friend!", ("contact.nickname",))
    assert render("{{ event.coupon | upper }}", "html", fallback="<none>", coupon=None) == Rendered(
        "&lt;NONE&gt;", ("event.coupon",))
    # Number and list filters cannot take the fallback text: it prints as written, never "0".
    assert render("{{ event.qty | int }}|{{ event.qty | round }}|{{ event.items | list }}", fallback="?") == \
        Rendered("?|?|?", ("event.qty", "event.items"))
    assert render("{{ event.missing | length }}|{{ event.missing | list | length }}") == Rendered("0|0", ())


@pytest.mark.parametrize("source", [
    "{{ event.items | list | string }}",
    "{{ event.items | list ~ '' }}",
    "{{ '%s' % (event.items | list) }}",
    "{{ event.items | map(attribute='title') }}",
    "{{ event.items | map(attribute='title') | string }}",
    "{{ event.items | selectattr('title') | list }}",
    "{{ event.items | reverse | reverse }}",
    "{{ event.items | sort(attribute='price') }}",
    "{% set titles = event.items | map(attribute='title') | list %}{{ titles }}",
])
@pytest.mark.parametrize("field", ["html", "text"])
def test_lists_made_by_filters_print_as_text_never_as_python(source, field):
    items = [{"title": "Mug", "price": 9.5}, {"title": "Tea", "price": 12}]
    assert text(source, field, items=items) == "Mug, Tea"


def test_pprint_which_prints_python_is_refused():
    result = render("{{ event.items | pprint }}", items=[{"title": "Mug"}])
    assert result.error and "the filter 'pprint' is not available" in result.error


@pytest.mark.parametrize("source, fragment", [
    ("{{ 9**(9**9) }}", "too large a number"),
    ("{{ 'a' * 10**9 }}", "too long a text"),
    ("{{ 10**9 * contact.first_name }}", "too long a text"),
    ("{{ contact.first_name | center(10**9) }}", "too large a size"),
    ("{{ [1] | batch(10**9, 0) | list }}", "too large a size"),
    ("{{ '%999999999s' % contact.first_name }}", "too long a text"),
    ("{{ '%999999999s' | format(contact.first_name) }}", "too long a text"),
    ("{{ '{:>999999999}'.format(contact.first_name) }}", "too long a text"),
])
def test_a_huge_number_or_text_is_a_template_error_not_a_hang(source, fragment):
    from app.journey.templates import inspect_template

    info = inspect_template(source)     # validating it finishes, and says why it cannot run unless that needs data
    assert info.error is None and ("contact." in source or any(fragment in p.message for p in info.problems)), info
    result = render(source)
    assert result.error and fragment in result.error
    assert text("{{ 2 ** 10 }} {{ '=' * 3 }} {{ event.total * 2 }} {{ '%.1f' % event.total }} "
                "{{ '{:>4}'.format(contact.first_name) }} {{ 'x' | center(3) }} {{ '#%s' | format(event.order) }}",
                total=12.5, order=12345678) == "1024 === 25 12.5  Ann  x  #12345678"


def test_a_list_item_without_a_title_is_left_out_like_a_null_one():
    items = [{"title": "Mug", "price": 9.5}, None, {"title": " ", "price": 1}, {"name": None}]
    assert text("{{ event.items }}|{{ event.items | join('; ') }}", items=items) == "Mug|Mug"
    assert render("{{ event.gift }}", fallback="?", gift={"title": None, "sku": "G1"}) == \
        Rendered("?", ("event.gift.title",))


def test_past_the_end_of_a_list_is_missing_by_its_path():
    assert render("{{ event.items[0] }}|{{ contact.tags[2] }}", fallback="?", contact={"tags": ["a"]}, items=[]) == \
        Rendered("?|?", ("event.items[0]", "contact.tags[2]"))
    assert text("{{ event.items[0].title | default('your cart') }}", items=[]) == "your cart"


def test_a_null_or_absent_value_is_none_when_tested():
    assert text("{{ event.coupon is none }} {{ event.nothing is none }} {{ event.zero is none }}",
                coupon=None, zero=0) == "yes yes no"


def test_a_runaway_loop_is_a_template_error_not_gigabytes_of_message():
    result = render("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}")
    assert result.error and "longer than 100,000 characters" in result.error


@pytest.mark.parametrize("field", ["subject", "text", "message"])
def test_escaping_filters_copied_into_a_text_field_leave_it_unescaped(field):
    assert text("{{ contact.first_name | e }} & {{ contact.first_name | escape | upper }}", field,
                contact={"first_name": "Tom & Jerry"}) == "Tom & Jerry & TOM & JERRY"
    assert text("{{ contact.first_name | e }}", "html", contact={"first_name": "Tom & Jerry"}) == "Tom &amp; Jerry"

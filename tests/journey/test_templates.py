"""The template sandbox shared by validation, preview and the engine."""
import pytest
from jinja2.exceptions import SecurityError

from app.journey.templates import inspect_template, make_environment


def test_templates_read_event_properties_named_like_dict_methods():
    template = make_environment().from_string("{% for item in event.items %}{{ item.name }};{% endfor %}{{ event.keys }}")
    assert template.render(event={"items": [{"name": "Mug"}, {"name": "Tea"}], "keys": 2}) == "Mug;Tea;2"


def test_templates_cannot_reach_python_internals():
    with pytest.raises(SecurityError):
        make_environment().from_string("{{ contact.__class__.__mro__ }}").render(contact=object())


def test_inspection_lists_the_variables_a_template_reads():
    info = inspect_template("{{ contact.first_name }} {% for i in event.items %}{{ i.name }}{% endfor %}")
    assert info.roots == {"contact", "event"}
    assert info.attributes == {("contact", "first_name"), ("event", "items")}


def test_the_html_environment_escapes_values_and_the_plain_one_does_not():
    source = "<p>{{ contact.first_name }}</p>"
    contact = {"first_name": "Tom & Jerry"}
    assert make_environment(html=True).from_string(source).render(contact=contact) == "<p>Tom &amp; Jerry</p>"
    assert make_environment().from_string(source).render(contact=contact) == "<p>Tom & Jerry</p>"


def test_null_and_absent_values_are_missing_at_any_depth_outside_the_engine_too():
    template = make_environment().from_string(
        "{{ event.cart.total | default('see your cart') }}/{{ event.coupon | d('none') }}/{{ event.items }}")
    assert template.render(event={"coupon": None, "items": [{"title": "Mug"}, {"name": "Tea"}]}) == \
        "see your cart/none/Mug, Tea"


def test_inspection_lists_filter_problems_without_failing():
    info = inspect_template("{{ contact.first_name | shout }} {% for i in event.items %}{{ i | safe }}{% endfor %}")
    assert info.roots == {"contact", "event"}
    assert [p.message for p in info.problems] == ["unknown filter 'shout'", "the filter 'safe' is not available"]

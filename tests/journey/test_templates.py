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

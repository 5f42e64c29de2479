"""Every journey email is marketing: validation warns when its body offers no way to unsubscribe, and
knows `{{ unsubscribe_url }}` as a variable."""
from __future__ import annotations

import pytest

from app.journey.templates import variable_names
from app.journey.validate import validate

from .helpers import email, linear

NO_LINK = "The email has no unsubscribe link"


def problems(**config):
    kind, base = email()
    base.update(config)
    return validate(linear((kind, base)), active=True)


@pytest.mark.parametrize("config", [
    {"text": "Hi there", "html": ""},
    {"text": "", "html": "<p>Hi</p>"},
    {"text": "Hi {# {{ unsubscribe_url }} #}", "html": ""},          # in a comment: not in the email
    {"text": "Unsubscribe: unsubscribe_url", "html": ""},            # the word, not the variable
])
def test_an_email_without_the_link_gets_a_warning_not_an_error(config):
    found = [p for p in problems(**config) if p.message == NO_LINK]
    assert len(found) == 1
    assert found[0].severity == "warning"
    assert "{{ unsubscribe_url }}" in found[0].hint
    assert found[0].field == ("/config/html" if config["html"] else "/config/text")


@pytest.mark.parametrize("config", [
    {"text": "Bye: {{ unsubscribe_url }}", "html": ""},
    {"text": "Hi", "html": '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'},
    {"text": "{% if unsubscribe_url %}Leave: {{ unsubscribe_url }}{% endif %}", "html": ""},
])
def test_an_email_with_the_link_is_clean(config):
    assert problems(**config) == []


def test_sms_is_not_judged_and_an_empty_email_gets_the_body_error_only():
    kind, base = email()
    base.update(channel="sms", message="Hi")
    assert not [p for p in validate(linear((kind, base))) if p.message == NO_LINK]
    found = problems(text="", html="")
    assert [p.message for p in found if "unsubscribe" in p.message or "no body" in p.message] == \
        ["The email has no body"]


def test_unsubscribe_url_is_a_known_variable():
    assert "unsubscribe_url" in variable_names(None, None)
    assert not [p for p in problems(subject="Hi {{ unsubscribe_url }}") if "unknown variable" in p.message]
    assert [p for p in problems(text="{{ unsubscribe_link }}") if "unknown variable 'unsubscribe_link'" in p.message]

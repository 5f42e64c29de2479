"""The journey's consent policy: defaults, files written before it existed, and the warning when a
journey texts contacts who never gave consent."""
from datetime import datetime, timezone

from app.journey.fileformat import dumps, loads
from app.journey.settings import allows_unknown
from app.journey.validate import WARNING, validate

from .helpers import email, linear

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def text(channel: str) -> tuple[str, dict]:
    return ("send_template", {"channel": channel, "message": "Your cart is waiting"})


def consent_warnings(journey) -> list:
    return [p for p in validate(journey, now=NOW) if "consent" in p.message]


def test_by_default_email_goes_to_unknown_and_texts_need_consent():
    settings = linear(email()).settings
    assert allows_unknown(settings, "email")
    assert not allows_unknown(settings, "sms") and not allows_unknown(settings, "whatsapp")


def test_a_file_written_before_the_policy_reads_with_the_safe_defaults():
    journey = linear(text("sms"))
    document = dumps(journey).replace('"consent"', '"unused_old_key"')
    again = loads(document)
    assert again.settings["consent"] == {"email_unknown": True, "sms_unknown": False, "whatsapp_unknown": False}


def test_allowing_unknown_for_texts_warns_on_each_text_step():
    journey = linear(text("sms"), text("whatsapp"), email())
    assert consent_warnings(journey) == []
    journey.settings["consent"]["sms_unknown"] = True
    [warning] = consent_warnings(journey)
    sms = next(n for n in journey.nodes.values() if n.config.get("channel") == "sms")
    assert warning.severity == WARNING and warning.node_id == sms.id
    assert warning.message == "SMS goes to contacts without recorded SMS consent (the journey allows it)"
    assert "Text contacts without SMS consent" in warning.hint
    journey.settings["consent"]["whatsapp_unknown"] = True
    assert len(consent_warnings(journey)) == 2


def test_allowing_unknown_without_a_text_step_needs_no_warning():
    journey = linear(email())
    journey.settings["consent"].update(sms_unknown=True, whatsapp_unknown=True, email_unknown=False)
    assert consent_warnings(journey) == []


def test_a_consent_term_must_name_a_channel():
    journey = linear(("send_template", {"channel": "email", "subject": "Hi", "text": "Hi", "recipients": "matching",
                                        "terms": [{"term": "subscribed_to", "value": "SMS"},
                                                  {"term": "unsubscribed_from", "value": "fax"},
                                                  {"term": "has_tag", "value": "fax"}]}))
    problems = [p for p in validate(journey, now=NOW) if "is not a channel" in p.message]
    assert [(p.severity, p.field, p.message) for p in problems] == [
        ("error", "/config/terms/1/value", "'fax' is not a channel")]

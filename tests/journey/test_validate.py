"""Each validation rule with a case that fails and one that passes."""
from datetime import datetime, timezone

from app.journey.model import Journey
from app.journey.validate import ERROR, WARNING, VariableCatalog, validate

from .helpers import HOUR, email, linear

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def messages(journey, **kwargs) -> list[str]:
    return [p.message for p in validate(journey, now=NOW, **kwargs)]


def errors(journey, **kwargs):
    return [p for p in validate(journey, now=NOW, **kwargs) if p.severity == ERROR]


def test_a_well_formed_journey_has_no_problems():
    assert validate(linear(("wait", {"delay": HOUR}), email()), now=NOW) == []


def test_exactly_one_trigger():
    journey = Journey()
    journey.add_node("tag", {"add": ["x"]}, ends=("next",))
    assert "The journey has no trigger" in messages(journey)
    journey = linear(email())
    extra = journey.add_node("trigger", ends=("next",))
    [problem] = [p for p in errors(journey) if p.node_id == extra.id and "exactly one trigger" in p.message]
    assert problem.hint


def test_every_step_must_be_reachable_from_the_trigger():
    journey = linear(email())
    loose = journey.add_node("tag", {"add": ["x"]}, ends=("next",))
    [problem] = errors(journey)
    assert problem.node_id == loose.id and "No path from the trigger" in problem.message
    journey.connect(list(journey.nodes)[1], loose.id)
    journey.nodes[list(journey.nodes)[1]].ends = ()
    assert errors(journey) == []


def _loop(wait_config: dict) -> Journey:
    journey = linear(("wait", wait_config), email())
    wait_id, send_id = list(journey.nodes)[1:]
    journey.nodes[send_id].ends = ()
    journey.connect(send_id, wait_id)
    return journey


def test_a_loop_needs_a_wait_of_at_least_an_hour():
    assert any("loop without a wait" in m for m in messages(_loop({"delay": {"amount": 30, "unit": "minutes"}})))
    assert errors(_loop({"delay": HOUR})) == []
    assert errors(_loop({"mode": "time_of_day", "time": "09:00"})) == []


def test_a_loop_with_a_long_wait_on_a_side_branch_is_still_reported():
    journey = _loop({"delay": HOUR})
    tag = journey.add_node("tag", {"add": ["x"]})
    send_id = list(journey.nodes)[2]
    journey.connect(journey.add_node("message_status", {"step": send_id}).id, tag.id, "yes")
    status_id = list(journey.nodes)[-1]
    journey.connect(tag.id, status_id)          # status ⇄ tag: a tight loop with no wait at all
    journey.connect(send_id, status_id)
    [problem] = [p for p in errors(journey) if "loop" in p.message]
    assert problem.node_id in (status_id, tag.id)


def test_every_outcome_is_wired_or_marked_as_the_end():
    journey = linear(email(), ("message_status", {}))
    send_id, status_id = list(journey.nodes)[1:]
    journey.nodes[status_id].config["step"] = send_id
    journey.nodes[status_id].ends = ("yes",)
    [problem] = validate(journey, now=NOW)
    assert problem.severity == WARNING and problem.node_id == status_id and "'No'" in problem.message
    journey.nodes[status_id].ends = ("yes", "no")
    assert validate(journey, now=NOW) == []


def test_connection_rules_refused_at_connect_time_are_also_validation_errors():
    journey = linear(email(), ("tag", {"add": ["a"]}))
    trigger, send, tag = list(journey.nodes)
    journey.connect(tag, trigger)
    journey.connect(send, tag)                   # second edge from the same outcome
    journey.connect(send, send)
    found = messages(journey)
    assert "Nothing can lead into a trigger" in found
    assert "Outcome 'Next' leads to two steps" in found
    assert "The step leads into itself" in found


def _status_after_branch(send_on_both_paths: bool) -> Journey:
    """trigger → status0 (yes/no) → … → merge → status1 checking `send`."""
    journey = linear(email(subject="first"))
    trigger, first = list(journey.nodes)
    journey.nodes[first].ends = ()
    split = journey.add_node("message_status", {"step": first})
    journey.connect(first, split.id)
    left = journey.add_node(*email(subject="left"))
    right = journey.add_node("tag", {"add": ["x"]}) if not send_on_both_paths else journey.add_node(*email())
    journey.connect(split.id, left.id, "yes")
    journey.connect(split.id, right.id, "no")
    merge = journey.add_node("wait", {"delay": HOUR})
    journey.connect(left.id, merge.id)
    journey.connect(right.id, merge.id)
    check = journey.add_node("message_status", {"step": first if send_on_both_paths else left.id},
                             ends=("yes", "no"))
    journey.connect(merge.id, check.id)
    return journey


def test_message_status_checks_a_send_step_before_it_on_every_path():
    bad = _status_after_branch(send_on_both_paths=False)
    [problem] = errors(bad)
    assert problem.field == "/config/step" and "on every path" in problem.message
    assert errors(_status_after_branch(send_on_both_paths=True)) == []


def test_message_status_far_below_its_send_step_on_a_long_chain():
    steps = [email()] + [("wait", {"delay": HOUR})] * 100 + [("message_status", {})]
    journey = linear(*steps)
    ids = list(journey.nodes)
    journey.nodes[ids[-1]].config["step"] = ids[1]
    assert errors(journey) == []
    journey.nodes[ids[-1]].config["step"] = ids[5]     # a wait, not a send
    assert "is not a send step" in errors(journey)[0].message
    journey.nodes[ids[-1]].config["step"] = "deleted-node"
    assert "no longer exists" in errors(journey)[0].message


def test_send_steps_need_content_for_their_channel():
    assert "Subject is empty" in messages(linear(email(subject="")))
    assert "The email has no body" in messages(linear(email(text="")))
    assert "Message is empty" in messages(linear(("send_template", {"channel": "sms"})))
    assert errors(linear(("send_template", {"channel": "whatsapp", "wa_mode": "text", "message": "Hi!"}))) == []
    assert errors(linear(("send_template", {"channel": "whatsapp", "wa_template": "order_update"}))) == []


def test_templates_must_parse():
    [problem] = errors(linear(email(text="Hi {{ contact.first_name ")))
    assert problem.field == "/config/text" and "template error on line 1" in problem.message


def test_templates_use_only_variables_that_exist():
    assert "Subject: unknown variable 'first_name'" in messages(linear(email(subject="Hi {{ first_name }}")))
    catalog = VariableCatalog(frozenset({"city"}), {"cart_abandoned": frozenset({"items", "cart_url"})})
    ok = linear(email(text="{{ contact.city }} {{ event.items[0].name }} {{ journey.name }}"))
    assert errors(ok, catalog=catalog) == []
    bad = linear(email(text="{{ contact.citty }} {{ event.basket }}"))
    found = errors(bad, catalog=catalog)
    assert {p.message for p in found} == {
        "Plain-text body: 'contact.citty' is not among the contact fields and attributes seen so far",
        "Plain-text body: 'event.basket' is not among the properties of the cart_abandoned events seen so far"}
    assert "Did you mean contact.city?" in [p.hint for p in found]
    assert errors(bad) == []  # without a store nothing is known about custom names: nothing to judge


def test_loop_variables_are_not_mistaken_for_unknown_variables():
    journey = linear(email(text="{% for item in event.items %}{{ item.name }} {{ loop.index }}{% endfor %}"))
    assert errors(journey) == []


def test_waits_must_be_positive():
    journey = linear(("wait", {"delay": {"amount": 0, "unit": "hours"}}))
    [problem] = errors(journey)
    assert problem.field == "/config/delay/amount" and "at least 1" in problem.message


def test_no_wait_until_a_past_date_in_an_active_journey():
    past = linear(("wait", {"mode": "until_date", "until": "2026-01-01T09:00:00+01:00"}))
    [draft] = validate(past, now=NOW)
    assert draft.severity == WARNING and "already in the past" in draft.message
    [active] = validate(past, now=NOW, active=True)
    assert active.severity == ERROR and active.field == "/config/until"
    future = linear(("wait", {"mode": "until_date", "until": "2027-01-01T09:00:00Z"}))
    assert validate(future, now=NOW, active=True) == []


def test_journey_settings_are_checked_too():
    journey = linear(email())
    journey.settings["goal"].update(enabled=True, event="")
    [problem] = errors(journey)
    assert problem.node_id is None and problem.field == "/settings/goal/event"


def test_templates_may_use_the_shop_filters():
    text = ("{% for item in event.items %}{{ item.quantity }} × {{ item.title }} — "
            "{{ item.price | money(event.currency) }}\n{% endfor %}{{ event.at | date('long') }} "
            "{{ event.at | datetime }} {{ event.at | time }} {{ event.total | money | default('-') }}")
    assert errors(linear(email(text=text))) == []


def test_unknown_and_refused_filters_are_errors_before_the_journey_runs():
    found = errors(linear(email(subject="Hi {{ contact.first_name | shout }}",
                                text="{{ contact.first_name | safe }}\n{{ event.price | mony }}")))
    by_message = {p.message: p for p in found}
    assert set(by_message) == {"Subject: unknown filter 'shout' (line 1)",
                               "Plain-text body: the filter 'safe' is not available (line 1)",
                               "Plain-text body: unknown filter 'mony' (line 2)"}
    assert by_message["Plain-text body: unknown filter 'mony' (line 2)"].hint == "Did you mean 'money'?"
    assert "escaped" in by_message["Plain-text body: the filter 'safe' is not available (line 1)"].hint


def test_switching_escaping_off_or_printing_a_whole_record_is_an_error():
    journey = linear(("send_template", {"channel": "email", "subject": "Hi {{ contact }}",
                                        "html": "{% autoescape false %}{{ contact.first_name }}{% endautoescape %}"}))
    assert {p.message for p in errors(journey)} == {
        "Subject: {{ contact }} prints a whole record (line 1)",
        "HTML body: {% autoescape %} is not available (line 1)"}
    assert "unknown test 'evn'" in messages(linear(email(text="{% if event.n is evn %}x{% endif %}")))[0]

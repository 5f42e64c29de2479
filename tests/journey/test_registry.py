from app.journey.checks import check
from app.journey.registry import all_kinds, get_kind
from app.journey.schema import coerce


def test_the_five_kinds_are_declared_once_in_palette_order():
    assert [k.id for k in all_kinds()] == ["trigger", "send_template", "wait", "message_status", "tag"]


def test_every_kind_declares_what_palette_canvas_and_engine_need():
    for kind in all_kinds():
        assert kind.title and kind.description and kind.icon
        assert kind.colour.startswith("#") and len(kind.colour) == 7
        assert kind.outcomes, kind.id
        assert kind.summarize(kind.default_config())  # a card never shows an empty line


def test_defaults_survive_loading_unchanged():
    for kind in all_kinds():
        config = kind.default_config()
        assert coerce(kind.schema, config) == config


def test_message_status_branches_yes_and_no_and_only_trigger_has_no_input():
    assert [o.name for o in get_kind("message_status").outcomes] == ["yes", "no"]
    assert [k.id for k in all_kinds() if not k.has_input] == ["trigger"]
    assert get_kind("trigger").max_per_journey == 1


def test_summaries_read_like_the_card_text():
    assert get_kind("wait").summarize({**get_kind("wait").default_config(), "delay": {"amount": 1, "unit": "hours"}}) \
        == "Wait 1 hour"
    send = {**get_kind("send_template").default_config(), "subject": "Your cart misses you"}
    assert get_kind("send_template").summarize(send) == "Email · Your cart misses you"
    status = get_kind("message_status").default_config()
    assert get_kind("message_status").summarize(status) == "Opened within 24 h?"
    assert get_kind("tag").summarize({"add": ["vip"], "remove": ["lead"]}) == "Tag +vip −lead"


def test_hidden_fields_are_not_checked():
    trigger = get_kind("trigger")
    config = {**trigger.default_config(), "mode": "no_order", "event": ""}  # event only matters for mode=event
    assert check(trigger.schema, config) == []
    config["mode"] = "event"
    assert [i.pointer for i in check(trigger.schema, config)] == ["/event"]


def test_cards_show_template_variables_as_people_read_them():
    send = {**get_kind("send_template").default_config(),
            "subject": "{{ contact.first_name | default('Hi') }}, your cart misses you{% if event.items %}!{% endif %}"}
    assert get_kind("send_template").summarize(send) == "Email · ‹first_name›, your cart misses you!"

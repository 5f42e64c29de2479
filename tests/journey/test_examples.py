"""The shipped example journeys are valid and are what the product promises."""
import pytest

from app.examples import example_files, load_example, with_fresh_ids
from app.journey.fileformat import load
from app.journey.validate import validate

NAMES = ["cart_abandonment", "checkout_recovery", "post_purchase", "vip_loyalty", "welcome_series", "win_back"]


def test_all_six_examples_ship():
    assert [p.stem for p in example_files()] == NAMES


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.stem)
def test_each_example_is_valid_without_warnings(path):
    assert validate(load(path), active=True) == []


def _chain(journey, start=None, outcome="next"):
    node = start or journey.trigger()
    steps = [node]
    while (target := journey.next_node(node.id, outcome)) is not None:
        node = journey.nodes[target]
        steps.append(node)
        outcome = "next"
    return steps


def test_cart_abandonment_is_built_as_described():
    journey = load_example("cart_abandonment")
    trigger, wait, mail, status = _chain(journey)[:4]
    assert trigger.config["event"] == "cart_abandoned"
    assert wait.summary == "Wait 1 hour"
    assert "event.items" in mail.config["html"] and mail.config["channel"] == "email"
    assert status.summary == "Opened within 24 h?" and status.config["step"] == mail.id
    yes = journey.nodes[journey.next_node(status.id, "yes")]
    no = journey.nodes[journey.next_node(status.id, "no")]
    assert yes.config["add"] == ["cart-engaged"]
    assert no.config["channel"] == "sms" and "CART10" in no.config["message"]
    settings = journey.settings
    assert settings["exit_conditions"][0]["event"] == "order_placed"
    assert settings["goal"]["enabled"] and settings["goal"]["event"] == "order_placed"
    assert settings["goal"]["window"] == {"amount": 5, "unit": "days"}
    assert settings["retrigger"] == "restart"


def test_the_other_examples_follow_their_outlines():
    summaries = {name: [n.summary.split(" · ")[0] for n in _chain(load_example(name))] for name in NAMES[1:]}
    assert summaries["welcome_series"] == ["When subscribed", "Email", "Wait 1 day", "Email", "Wait 3 days", "Email"]
    assert summaries["post_purchase"] == ["When order placed", "Wait 1 day", "Email", "Wait 7 days", "Email",
                                          "Tag +review-asked"]
    assert summaries["vip_loyalty"] == ["Lifetime spend reaches 500", "Tag +vip", "Email"]
    win_back = load_example("win_back")
    status = _chain(win_back)[3]
    assert _chain(win_back)[0].summary == "No order for 60 days" and status.summary == "Clicked within 7 d?"
    assert win_back.nodes[win_back.next_node(status.id, "no")].config["channel"] == "sms"


def test_a_journey_started_from_an_example_gets_fresh_ids_and_keeps_its_references():
    original = load_example("cart_abandonment")
    copy = with_fresh_ids(original)
    assert copy.id != original.id and not set(copy.nodes) & set(original.nodes)
    assert validate(copy) == []
    assert [n.summary for n in _chain(copy)] == [n.summary for n in _chain(original)]


def test_checkout_recovery_is_built_as_described():
    """Shop platforms report checkouts: triggered by checkout_started, an hour later, ended by an order."""
    journey = load_example("checkout_recovery")
    trigger, wait, mail = _chain(journey)[:3]
    assert trigger.config["event"] == "checkout_started"
    assert wait.summary == "Wait 1 hour"
    assert "event.items" in mail.config["html"] and "event.cart_url" in mail.config["text"]
    assert journey.settings["exit_conditions"] == [{"event": "order_placed", "conditions": []}]
    assert journey.settings["goal"]["event"] == "order_placed"

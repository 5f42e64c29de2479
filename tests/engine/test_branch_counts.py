"""Branch counts add up: every contact that reaches a message-status step is counted on exactly one
outcome (those with no message to check too, said in words), and with the waiting and those who left
at the step the figures add up to its arrivals, in the engine's statistics and in the CLI's table."""
from __future__ import annotations

from app.engine.stats import format_table, journey_stats, outcome_figures, shown_statuses

from .helpers import CONTACTS, chain, send_node, simple_journey
from .test_nodes import status_journey

OUTCOMES = [("yes", "Yes"), ("no", "No")]


def _accounted(node) -> int:
    return sum(node.branched.values()) + node.waiting + sum(node.left.values())


def test_contacts_with_no_message_to_check_count_on_no_and_the_branches_add_up_to_arrivals(world):
    world.contacts(CONTACTS)                        # bob is unsubscribed from email: his email is skipped
    journey, branch = status_journey(hours=24)
    world.install(journey)
    for contact in ("ann", "bob", "cho"):
        world.event(contact, "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("ann", "message_opened", "2026-03-02T11:00:00Z")
    world.advance_to("2026-03-04T00:00:00Z")        # cho's window has ended

    node = journey_stats(world.db, journey.id).nodes[branch.id]
    assert node.entered == 3
    assert node.branched == {"yes": 1, "no": 2}                  # bob is on "no", not on a key of his own
    assert node.branch_reasons == {"no_message": 1}
    assert sum(node.branched.values()) == node.entered
    assert outcome_figures(node, OUTCOMES) == [("Yes", "1"), ("No", "2 (1 no message sent)")]


def test_those_who_leave_while_waiting_are_counted_at_the_step(world):
    world.contacts(CONTACTS)
    journey, branch = status_journey(hours=48)
    journey.settings["exit_conditions"] = [{"event": "order_placed", "conditions": []}]
    world.install(journey)
    for contact in ("ann", "bob", "cho"):
        world.event(contact, "cart_abandoned", "2026-03-02T10:00:00Z")
    world.event("cho", "order_placed", "2026-03-02T12:00:00Z", total=20)     # leaves while waiting
    world.advance_to("2026-03-03T00:00:00Z")

    node = journey_stats(world.db, journey.id).nodes[branch.id]
    assert (node.entered, node.branched, node.waiting, node.left) == (3, {"no": 1}, 1, {"exit_condition": 1})
    assert _accounted(node) == node.entered
    world.engine.stop(journey.id)                                             # ann is taken out as well
    node = journey_stats(world.db, journey.id).nodes[branch.id]
    assert node.left == {"exit_condition": 1, "journey_stopped": 1} and _accounted(node) == node.entered


def test_the_cli_table_shows_outcomes_in_words_and_no_opens_for_sms(world):
    world.contacts(CONTACTS)
    journey, branch = status_journey(hours=1)
    world.install(journey)
    for contact in ("ann", "bob"):
        world.event(contact, "cart_abandoned", "2026-03-02T10:00:00Z")
    world.advance_to("2026-03-02T12:00:00Z")
    stats = journey_stats(world.db, journey.id)
    titles = {n.id: (n.kind, n.title) for n in journey.nodes.values()}
    channels = {n.id: n.config["channel"] for n in journey.nodes.values() if n.kind == "send_template"}
    lines = format_table(stats, titles, channels)
    head = lines[0].split()
    row = next(line for line in lines if line.startswith(branch.title[:34]))
    assert "No 2 (1 no message sent)" in row and "no_message" not in "\n".join(lines)
    sms = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "sms")
    cells = next(line for line in lines if line.startswith(sms.title[:34])).split()
    assert "opened" in head and cells.count("-") >= 2            # an SMS has no opened or clicked figure


def test_each_channel_shows_only_what_it_reports():
    assert shown_statuses("email") == ("opened", "clicked")
    assert shown_statuses("sms") == ("delivered",) and shown_statuses("whatsapp") == ("delivered",)


def test_every_reason_the_engine_logs_is_said_in_words():
    """Skips, exits and failures the engine records, as the canvas, the inspector and the CLI show them."""
    import re
    from pathlib import Path

    from app.engine.stats import REASON_WORDS, in_words

    source = "\n".join(p.read_text(encoding="utf-8") for p in Path("app/engine").glob("*.py"))
    reasons = set(re.findall(r'_skip\(step, "([a-z_]+)"\)', source))
    reasons |= set(re.findall(r'finish\(\w+, "\w+", \w+, "([a-z_]+)"', source))
    reasons |= set(re.findall(r'reason="([a-z_]+)"', source))
    assert {"no_address", "missing_variable", "exit_condition", "re_triggered"} <= reasons
    for reason in sorted(reasons | {"no_message", "unsubscribed", "no_consent", "template_error"}):
        words = in_words(reason)
        assert reason in REASON_WORDS and "_" not in words, reason

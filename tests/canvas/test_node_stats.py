"""Each step's numbers in a strip below its card: the text per kind, hiding, steps added
while numbers show, and that the strip moves no port and overlaps no other step."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage

from app.canvas.node_item import NodeItem
from app.canvas.style import CARD_H, CARD_W, LOD_FULL, LOD_TITLES
from app.engine.stats import JourneyStats, NodeStats
from app.journey.model import Journey

from .conftest import BACKDROP, node_of, render_card

EMAIL = NodeStats(entered=1_000, sent=980, opened=402, clicked=88, converted=12)


def _show(editor, by_kind: dict[str, NodeStats]) -> JourneyStats:
    stats = JourneyStats()
    for kind, node_stats in by_kind.items():
        stats.nodes[node_of(editor.journey, kind).id] = node_stats
    editor.scene.show_stats(stats)
    return stats


def _item(editor, kind: str) -> NodeItem:
    return editor.scene.item_for_node[node_of(editor.journey, kind).id]


def _render(item: NodeItem, scale: float) -> QImage:
    return render_card(item, scale, below=60)      # room below the card for the strip


def _painted_below_card(image: QImage, scale: float) -> int:
    top = math.ceil((CARD_H + 3) * scale) + 1        # clear of the card border's antialiasing
    return sum(1 for x in range(image.width()) for y in range(top, image.height())
               if image.pixelColor(x, y).name() != BACKDROP)


@pytest.mark.parametrize("kind, stats, text", [
    ("trigger", NodeStats(entered=1204), "1,204 entered"),
    # the step's own conversions and revenue lead, then the rates email reports
    ("send_template", EMAIL, "12 converted · 0.00 revenue · 980 sent · 41% opened · 9% clicked"),
    # 1/8 = 12.5% rounds half up; waiting and the skipped total (of every reason) follow
    ("send_template", NodeStats(sent=8, opened=1, clicked=0, converted=1_250, revenue=31_250.5, waiting=3,
                                skipped={"unsubscribed": 15, "no_address": 5}),
     "1,250 converted · 31,250.50 revenue · 8 sent · 13% opened · 0% clicked · 3 waiting · 20 skipped"),
    ("send_template", NodeStats(entered=40, waiting=40), "0 converted · 0.00 revenue · 0 sent · 40 waiting"),
    ("send_template", NodeStats(), "0 converted · 0.00 revenue · 0 sent"),
    ("wait", NodeStats(entered=1180, waiting=311), "311 waiting · 1,180 entered"),
    ("wait", NodeStats(entered=10, waiting=7, left={"exit_condition": 2, "journey_stopped": 1}),
     "7 waiting · 10 entered · 3 left"),
    ("message_status", NodeStats(branched={"no": 560, "yes": 402}), "Yes 402 · No 560"),
    ("message_status", NodeStats(branched={"yes": 1402}, waiting=218), "Yes 1,402 · No 0 · 218 waiting"),
    ("message_status", NodeStats(entered=20, branched={"yes": 5, "no": 9}, branch_reasons={"no_message": 4},
                                 waiting=4, left={"goal": 2}),
     "Yes 5 · No 9 (4 no message sent) · 4 waiting · 2 left"),
    ("tag", NodeStats(entered=350), "350 tagged"),
    # a step that raised leads with its errors (issue 9: one bad run never stops the others)
    ("wait", NodeStats(entered=3, left={"error": 3}, errors=3), "3 errors · 0 waiting · 3 entered · 3 left"),
    ("trigger", NodeStats(entered=5, errors=1), "1 error · 5 entered"),
])
def test_each_kind_shows_what_a_shop_owner_wants_to_know(cart, kind, stats, text):
    _show(cart, {kind: stats})
    assert _item(cart, kind).stats_text() == text


def test_steps_without_numbers_show_zeros_and_the_polled_stats_are_not_grown(cart):
    stats = _show(cart, {"trigger": NodeStats(entered=5)})
    assert _item(cart, "wait").stats_text() == "0 waiting · 0 entered"
    assert _item(cart, "tag").stats_text() == "0 tagged"
    assert list(stats.nodes) == [node_of(cart.journey, "trigger").id]      # a defaultdict: .get, not []


def test_a_long_text_wraps_at_separators_and_stays_inside_the_card_width(cart):
    _show(cart, {"send_template": NodeStats(sent=123_456, opened=50_000, clicked=9_000, converted=12_345,
                                            waiting=1_234, skipped={"quiet": 4_321})})
    item = _item(cart, "send_template")
    lines = item.shown_stats()
    assert 1 < len(lines) <= 2
    assert lines[0].startswith("12,345 converted · ")
    assert item.stats_text().startswith(lines[0] + " · ")               # broken at a separator, not in a number
    assert lines[-1].endswith("…")                                       # the rest, elided once
    assert item.stats_rect().width() <= CARD_W
    assert item.toolTip().endswith(item.stats_text())                    # the tooltip has it all


def test_zoomed_out_the_strip_shows_its_leading_numbers_large_and_none_hides_it_everywhere(cart):
    item = _item(cart, "trigger")
    plain_bounds = item.boundingRect()
    assert _painted_below_card(_render(item, 1.0), 1.0) == 0
    _show(cart, {"trigger": NodeStats(entered=1204)})
    assert item.boundingRect().contains(item.stats_rect())               # cached paint is not clipped
    assert _painted_below_card(_render(item, 1.0), 1.0) > 100
    titles = (LOD_TITLES + LOD_FULL) / 2
    assert _painted_below_card(_render(item, titles), titles) > 100      # a whole journey in view: still there
    assert item.shown_stats(titles) == ["1,204 entered"]
    assert item.shown_stats(LOD_TITLES / 2) == []                        # plain blocks: no text at all
    email = _item(cart, "send_template")
    _show(cart, {"send_template": NodeStats(sent=980, opened=402, clicked=88, converted=12)})
    [headline] = email.shown_stats(titles)
    assert headline.startswith("12 converted")                       # conversions first, even zoomed out
    assert "41% opened" in " · ".join(email.shown_stats())
    assert email.stats_rect().width() <= CARD_W

    cart.scene.show_stats(None)

    assert all(i.stats_text() == "" and i.stats_rect().isEmpty() for i in cart.scene.item_for_node.values())
    assert item.boundingRect() == plain_bounds      # empty canvas below a card is empty again
    assert _painted_below_card(_render(item, 1.0), 1.0) == 0


def test_polling_the_same_numbers_repaints_nothing(cart, monkeypatch):
    _show(cart, {"send_template": EMAIL})
    updates: list[str] = []
    for node_id, item in cart.scene.item_for_node.items():
        monkeypatch.setattr(item, "update", lambda *a, node_id=node_id: updates.append(node_id))
    _show(cart, {"send_template": NodeStats(**vars(EMAIL))})
    assert updates == []
    _show(cart, {"send_template": NodeStats(sent=981, opened=402, clicked=88, converted=12)})
    assert updates == [node_of(cart.journey, "send_template").id]


def test_a_step_added_while_numbers_show_gets_a_strip_and_follows_the_next_poll(cart):
    _show(cart, {"trigger": NodeStats(entered=7)})
    node_id = cart.view.add_node("tag")
    item = cart.scene.item_for_node[node_id]
    assert item.stats_text() == "0 tagged"
    stats = JourneyStats()
    stats.nodes[node_id] = NodeStats(entered=3)
    cart.scene.show_stats(stats)
    assert item.stats_text() == "3 tagged"
    cart.doc.undo_stack.undo()                      # removed: simply gone, and the next poll is fine
    assert node_id not in cart.scene.item_for_node
    cart.scene.show_stats(stats)
    cart.scene.show_stats(None)
    assert cart.view.add_node("wait") and all(i.stats_text() == "" for i in cart.scene.item_for_node.values())


def test_the_strip_moves_no_port(cart):
    def ports() -> list:
        out = []
        for item in cart.scene.item_for_node.values():
            out.append(item.input_pos())
            out += [item.output_pos(o) for o in item.outcomes()]
        return out
    before = ports()
    _show(cart, {"send_template": EMAIL, "message_status": NodeStats(branched={"yes": 4, "no": 5}, waiting=2)})
    assert ports() == before
    cart.scene.show_stats(None)
    assert ports() == before


def _branching_journey() -> Journey:
    """A branch whose two children stack in one column after auto-layout."""
    journey = Journey(name="Branches")
    trigger = journey.add_node("trigger")
    email = journey.add_node("send_template")
    status = journey.add_node("message_status", {"step": email.id})
    yes, no = journey.add_node("send_template"), journey.add_node("send_template")
    journey.connect(trigger.id, email.id)
    journey.connect(email.id, status.id)
    journey.connect(status.id, yes.id, "yes")
    journey.connect(status.id, no.id, "no")
    return journey


def test_after_auto_layout_no_strip_overlaps_another_step(make_editor):
    editor = make_editor(_branching_journey())
    editor.view.arrange()
    busy = NodeStats(sent=12_980, opened=5_000, clicked=900, converted=1_212, waiting=300, skipped={"x": 20})
    stats = JourneyStats()
    for node_id in editor.journey.nodes:
        stats.nodes[node_id] = busy
    editor.scene.show_stats(stats)
    items = list(editor.scene.item_for_node.values())
    assert max(len(i.shown_stats()) for i in items) == 2        # the tallest strip is under test
    for item in items:
        strip = item.mapRectToScene(item.stats_rect())
        for other in items:
            if other is not item:
                card = other.mapRectToScene(QRectF(0, 0, CARD_W, CARD_H))
                assert not strip.intersects(card), (item.kind, other.kind)
                assert not strip.intersects(other.mapRectToScene(other.stats_rect()))


def _sms_step(editor):
    return next(n for n in editor.journey.nodes.values()
                if n.kind == "send_template" and n.config["channel"] == "sms")


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_sms_and_whatsapp_cards_show_no_opens_or_clicks_but_their_conversions(cart, channel):
    sms = _sms_step(cart)
    from app.canvas.commands import SetValue

    cart.doc.undo_stack.push(SetValue(cart.doc, sms.id, ("config", "channel"), channel, "channel"))
    stats = JourneyStats()
    stats.nodes[sms.id] = NodeStats(entered=50, sent=40, delivered=38, opened=7, clicked=3, converted=4, revenue=180)
    cart.scene.show_stats(stats)
    text = cart.scene.item_for_node[sms.id].stats_text()
    assert text == "4 converted · 180.00 revenue · 40 sent · 95% delivered"
    assert "opened" not in text and "clicked" not in text


def test_changing_the_channel_while_numbers_show_changes_the_figures(cart):
    email = node_of(cart.journey, "send_template")
    stats = JourneyStats()
    stats.nodes[email.id] = NodeStats(sent=10, delivered=9, opened=5, clicked=1, converted=2, revenue=99.5)
    cart.scene.show_stats(stats)
    item = cart.scene.item_for_node[email.id]
    assert item.stats_text() == "2 converted · 99.50 revenue · 10 sent · 50% opened · 10% clicked"
    from app.canvas.commands import SetValue

    cart.doc.undo_stack.push(SetValue(cart.doc, email.id, ("config", "channel"), "sms", "channel"))
    assert item.stats_text() == "2 converted · 99.50 revenue · 10 sent · 90% delivered"
    cart.doc.undo_stack.undo()
    assert "50% opened" in item.stats_text()


def test_every_send_step_shows_its_own_conversions_and_revenue(cart):
    stats = JourneyStats()
    sends = [n for n in cart.journey.nodes.values() if n.kind == "send_template"]
    for i, node in enumerate(sends):
        stats.nodes[node.id] = NodeStats(sent=100, converted=i + 1, revenue=10.0 * (i + 1))
    cart.scene.show_stats(stats)
    for i, node in enumerate(sends):
        text = cart.scene.item_for_node[node.id].stats_text()
        assert f"{i + 1} converted · {10.0 * (i + 1):.2f} revenue" in text


def test_zoomed_out_a_branch_shows_both_outcomes(cart):
    from app.canvas.style import LOD_FULL, LOD_TITLES

    _show(cart, {"message_status": NodeStats(entered=1129, branched={"yes": 452, "no": 657},
                                             branch_reasons={"no_message": 49}, waiting=16)})
    item = _item(cart, "message_status")
    assert item.shown_stats((LOD_TITLES + LOD_FULL) / 2) == ["Yes 452 · No 657"]
    assert "No 657 (49 no message sent)" in item.stats_text()
    # The breakdown is always within reach: on the strip at full detail, else (elided there) in the tooltip.
    assert "49 no message sent" in " ".join(item.shown_stats(1.0)) or "49 no message sent" in item.toolTip()

"""How a step's card reads: title and summary at 100%, titles only when zoomed out,
new steps placed in the clear, and the minimap's view frame."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage

from app.canvas.node_item import NodeItem
from app.canvas.style import CARD_H, CARD_W, CHIP, LOD_FULL, LOD_TITLES, fonts, theme
from app.examples import example_files, load_example
from app.journey.model import Journey

from .conftest import node_of, render_card

_TEXT_LEFT, _TEXT_RIGHT = 16.0, 12.0       # the card's inner margins (node_item._PAD, _RIGHT)


def _dark_pixels(image: QImage, rect: QRectF) -> int:
    """Pixels of text (much darker than the white card) inside `rect`."""
    count = 0
    for x in range(int(rect.left()), int(rect.right())):
        for y in range(int(rect.top()), int(rect.bottom())):
            if image.pixelColor(x, y).lightness() < 75:
                count += 1
    return count


@pytest.mark.parametrize("stem", [p.stem for p in example_files()])
def test_at_100_percent_a_card_shows_its_title_and_a_typical_summary_unclipped(qapp, stem):
    journey = load_example(stem)
    f = fonts()
    for node in journey.nodes.values():
        item = NodeItem(node)
        title, *lines = item.shown_text(1.0)
        assert title == (node.name or node.spec.title)
        assert lines, f"{node.title}: no summary on the card"
        for line in lines:       # nothing drawn past the card's right margin
            assert f.summary_metrics.horizontalAdvance(line) <= CARD_W - _TEXT_LEFT - _TEXT_RIGHT
        if len(node.summary) <= 48 and not node.summary.endswith("…"):
            assert " ".join(lines) == node.summary, f"{node.title}: summary elided on the card: {lines}"


def test_a_summary_longer_than_the_card_holds_is_elided_on_its_last_line(make_editor):
    journey = Journey(name="Long")
    node = journey.add_node("send_template", {"subject": "An unusually long subject line that keeps going and "
                                                         "going well past anything a card can hold"})
    title, *lines = NodeItem(journey.nodes[node.id]).shown_text(1.0)
    assert len(lines) == 2 and lines[-1].endswith("…")


def test_zoomed_out_cards_show_big_titles_only(cart):
    """Between plain blocks and full cards: no icon chip, no summary line, the step's title
    (its name, else its summary: "Opened within 24 h?" rather than "Message status") in large type."""
    status = node_of(cart.journey, "message_status")
    item = cart.scene.item_for_node[status.id]
    scale = (LOD_TITLES + LOD_FULL) / 2
    assert " ".join(item.shown_text(scale)) == status.title == "Opened within 24 h?"
    far, near = render_card(item, scale), render_card(item, 1.0)
    chip = QPointF(_TEXT_LEFT + 2, item._top + CHIP / 2)        # inside the chip's left edge on a full card
    assert near.pixelColor(chip.toPoint()).name() == status.spec.colour
    assert far.pixelColor((chip * scale).toPoint()).name() != status.spec.colour
    # The title fills the card's height (two big lines), where a full card has a small title above a summary.
    assert len(item.shown_text(scale)) == 2
    upper = QRectF(_TEXT_LEFT * scale, 4, (CARD_W - _TEXT_LEFT) * scale, CARD_H * scale / 2 - 4)
    lower = QRectF(_TEXT_LEFT * scale, CARD_H * scale / 2, (CARD_W - _TEXT_LEFT) * scale, CARD_H * scale / 2 - 4)
    assert _dark_pixels(far, upper) > 20 and _dark_pixels(far, lower) > 5     # however the words fall
    near_summary = QRectF(_TEXT_LEFT, item._top + CHIP + 4, CARD_W / 2, 24)
    assert _dark_pixels(near, near_summary) == 0        # at 100% that row is the muted summary, not a title
    # Below the titles level the card is a plain block with no text at all.
    assert item.shown_text(LOD_TITLES / 2) == []


def test_steps_added_in_the_middle_never_overlap(make_editor):
    editor = make_editor(Journey(name="Empty"))
    ids = [editor.view.add_node(kind) for kind in ("trigger", "wait", "tag", "wait")]
    rects = [editor.scene.item_for_node[i].mapRectToScene(QRectF(0, 0, CARD_W, CARD_H)) for i in ids]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b)
        visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
        assert visible.contains(a)


def test_the_minimap_veils_what_the_view_does_not_show(cart, qtbot):
    minimap = cart.minimap
    trigger = node_of(cart.journey, "trigger")
    cart.view.set_zoom(1.5)
    cart.view.centerOn(QPointF(trigger.position[0] + 20, trigger.position[1] + 20))
    minimap.refit()
    image = minimap.grab().toImage()
    shown = minimap.mapFromScene(QPointF(trigger.position[0] + 20, trigger.position[1] - 60))
    tag = node_of(cart.journey, "tag")
    hidden = minimap.mapFromScene(QPointF(tag.position[0] + CARD_W / 2, tag.position[1] - 40))
    inside, outside = image.pixelColor(shown), image.pixelColor(hidden)
    assert inside.name() == theme().card.name()
    assert outside.lightness() < inside.lightness()


def test_the_minimap_draws_no_view_frame_when_the_whole_journey_is_in_view(cart):
    cart.view.fit()
    cart.minimap.refit()
    image = cart.minimap.viewport().grab().toImage()
    frame = theme().selection.name()
    assert not any(image.pixelColor(x, y).name() == frame for x in range(image.width()) for y in range(image.height()))
    cart.view.set_zoom(2.0)
    image = cart.minimap.viewport().grab().toImage()
    assert any(image.pixelColor(x, y).name() == frame for x in range(image.width()) for y in range(image.height()))


@pytest.mark.parametrize("title", ["Opened within 24 h?", "Cart reminder email", "Tag +cart-engaged", "Wait 1 hour",
                                   "Send the win-back discount by WhatsApp"])
def test_big_titles_split_into_even_lines_that_fit(title):
    from app.canvas.style import balanced_wrap, fonts, wrap_text
    metrics, width = fonts().big_metrics, CARD_W - 28
    lines = balanced_wrap(title, metrics, width)
    greedy = wrap_text(title, metrics, width, 2)
    assert 1 <= len(lines) <= 2 and len(lines) == len(greedy)
    assert all(metrics.horizontalAdvance(line) <= width for line in lines)
    assert max(map(metrics.horizontalAdvance, lines)) <= max(map(metrics.horizontalAdvance, greedy))
    if len(lines) == 2 and "…" not in greedy[-1]:
        assert " ".join(lines) == title                      # nothing lost
        assert min(map(metrics.horizontalAdvance, lines)) >= metrics.horizontalAdvance(lines[0].split()[0]) / 2

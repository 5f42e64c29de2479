"""Palette drops, the minimap, live validation, level of detail and auto-layout."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from app.canvas.commands import AddFragment, node_fragment
from app.canvas.layout import auto_layout
from app.canvas.node_item import NodeItem
from app.canvas.style import CARD_H, CARD_W
from app.canvas.validation import DELAY_MS
from app.journey.model import Journey
from app.ui.palette import Palette

from .conftest import at, drop, node_of


def test_dropping_a_kind_from_the_palette_creates_that_step_under_the_cursor(make_editor, qtbot):
    editor = make_editor(Journey(name="Empty"))
    palette = Palette()
    qtbot.addWidget(palette)
    row = next(i for i in range(palette.count()) if palette.kind_at(i) == "wait")
    mime = palette.mimeData([palette.item(row)])
    target = QPointF(120, 80)

    drop(editor.view, mime, at(editor, target))

    (node,) = editor.journey.nodes.values()
    assert node.kind == "wait"
    centre = QPointF(node.position[0] + CARD_W / 2, node.position[1] + CARD_H / 2)
    assert abs(centre.x() - target.x()) <= 2 and abs(centre.y() - target.y()) <= 2
    assert node.id in editor.scene.item_for_node
    assert editor.doc.undo_stack.undoText() == "Add Wait"
    assert editor.view.palette_drop is None


def test_double_clicking_a_palette_kind_asks_to_add_it(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    palette.show()
    qtbot.waitExposed(palette)
    rect = palette.visualItemRect(palette.item(1))
    with qtbot.waitSignal(palette.add_requested, timeout=1000) as signal:
        QTest.mouseClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseDClick(palette.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert signal.args == [palette.kind_at(1)] and palette.kind_at(1) == "send_template"


def test_a_step_added_at_the_centre_does_not_hide_another(make_editor):
    editor = make_editor(Journey(name="Empty"))
    first = editor.view.add_node("tag")
    second = editor.view.add_node("tag")
    assert editor.journey.nodes[first].position != editor.journey.nodes[second].position


def test_clicking_the_minimap_moves_the_main_view(cart):
    cart.view.set_zoom(1.0)
    trigger = node_of(cart.journey, "trigger")
    cart.view.centerOn(cart.scene.item_for_node[trigger.id].sceneBoundingRect().center())
    far = node_of(cart.journey, "tag")
    far_centre = cart.scene.item_for_node[far.id].sceneBoundingRect().center()
    minimap = cart.minimap
    assert minimap.isVisible()

    QTest.mouseClick(minimap.viewport(), Qt.MouseButton.LeftButton, pos=minimap.mapFromScene(far_centre))

    centre = cart.view.mapToScene(cart.view.viewport().rect().center())
    assert (centre - far_centre).manhattanLength() < 40
    assert minimap.visible_area().contains(far_centre)


def test_the_minimap_follows_new_steps(cart, qtbot):
    cart.doc.undo_stack.push(AddFragment(cart.doc, node_fragment("tag", "far-away", (3000.0, 2000.0)), "Add Tag"))
    qtbot.waitUntil(lambda: cart.minimap.sceneRect().contains(QPointF(3000, 2000)), timeout=1000)


def test_live_validation_marks_the_step_shortly_after_an_edit(make_editor, qtbot):
    journey = Journey(name="Live")
    journey.add_node("trigger", position=(0, 0))
    editor = make_editor(journey)
    wait_id = editor.view.add_node("wait", (400, 0))
    item = editor.scene.item_for_node[wait_id]
    assert item.problems == []                          # not validated inside the edit itself
    qtbot.waitUntil(lambda: bool(item.problems), timeout=DELAY_MS + 500)
    messages = [p.message for p in item.problems]
    assert any("No path from the trigger" in m for m in messages)
    assert "No path from the trigger" in item.toolTip()


def _render(item: NodeItem, scale: float) -> QImage:
    image = QImage(int(CARD_W * scale) + 4, int(CARD_H * scale) + 4, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.scale(scale, scale)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return image


def test_zoomed_out_steps_become_plain_blocks_in_their_kind_colour(cart):
    wait = node_of(cart.journey, "wait")
    item = cart.scene.item_for_node[wait.id]
    far = _render(item, 0.15)
    near = _render(item, 1.0)
    centre_far = far.pixelColor(int(CARD_W * 0.15 / 2), int(CARD_H * 0.15 / 2))
    assert centre_far.name() == wait.spec.colour                    # a block of the kind's colour
    assert near.pixelColor(int(CARD_W / 2), int(CARD_H / 2)).name() != wait.spec.colour   # a white card


def test_auto_layout_is_one_step_left_to_right_with_yes_above_no(cart):
    for node in cart.journey.nodes.values():
        node.position = (0.0, 0.0)
    positions = auto_layout(cart.journey)
    status = node_of(cart.journey, "message_status")
    yes, no = cart.journey.next_node(status.id, "yes"), cart.journey.next_node(status.id, "no")
    trigger = node_of(cart.journey, "trigger")
    assert positions[trigger.id][0] < positions[status.id][0] < positions[yes][0]
    assert positions[yes][1] < positions[no][1]
    depth = cart.doc.undo_stack.count()
    cart.view.arrange()
    assert cart.doc.undo_stack.count() == depth + 1 and cart.doc.undo_stack.undoText() == "Auto-layout"
    assert cart.journey.nodes[yes].position == positions[yes]


def test_auto_layout_handles_loops(make_editor):
    journey = Journey(name="Loop")
    a = journey.add_node("trigger")
    b = journey.add_node("wait")
    c = journey.add_node("tag", {"add": ["x"]})
    journey.connect(a.id, b.id)
    journey.connect(b.id, c.id)
    journey.connect(c.id, b.id)
    positions = auto_layout(journey)
    assert positions[a.id][0] < positions[b.id][0] < positions[c.id][0]


def test_fit_and_actual_size(cart):
    cart.view.fit()
    visible = cart.view.mapToScene(cart.view.viewport().rect()).boundingRect()
    assert visible.contains(cart.scene.journey_rect())
    cart.view.actual_size()
    assert cart.view.zoom() == 1.0

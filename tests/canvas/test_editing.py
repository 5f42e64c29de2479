"""Selecting, moving, deleting, undoing, copying and pasting on the canvas."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.canvas.node_item import NodeItem
from app.examples import load_example

from .conftest import at, drag, node_of


def _ids(journey):
    return set(journey.nodes), set(journey.edges)


def test_delete_then_undo_restores_steps_and_connections_with_the_same_ids(cart):
    before_nodes, before_edges = _ids(cart.journey)
    wait, send = node_of(cart.journey, "wait"), node_of(cart.journey, "send_template")
    cart.view.select_ids([wait.id, send.id])
    depth = cart.doc.undo_stack.count()

    cart.view.delete_selection()

    assert wait.id not in cart.journey.nodes and send.id not in cart.journey.nodes
    assert wait.id not in cart.scene.item_for_node
    assert all(wait.id not in (e.source, e.target) for e in cart.journey.edges.values())
    assert cart.doc.undo_stack.count() == depth + 1          # one step for the whole selection
    assert cart.doc.undo_stack.undoText() == "Delete 2 items"

    cart.doc.undo_stack.undo()

    assert _ids(cart.journey) == (before_nodes, before_edges)
    assert set(cart.scene.item_for_node) == before_nodes and set(cart.scene.item_for_edge) == before_edges
    cart.doc.undo_stack.redo()
    assert wait.id not in cart.scene.item_for_node


def test_dragging_a_step_is_one_move_on_release(cart):
    wait = node_of(cart.journey, "wait")
    item = cart.scene.item_for_node[wait.id]
    start = item.sceneBoundingRect().center()
    old = wait.position
    depth = cart.doc.undo_stack.count()

    drag(cart, start, start + QPointF(80, 120), steps=10)

    assert wait.position == (old[0] + 80, old[1] + 120)
    assert cart.doc.undo_stack.count() == depth + 1
    cart.doc.undo_stack.undo()
    assert wait.position == old and item.pos() == QPointF(*old)


def test_edges_follow_a_dragged_step(cart):
    wait = node_of(cart.journey, "wait")
    (edge,) = cart.journey.edges_into(wait.id)
    edge_item = cart.scene.item_for_edge[edge.id]
    start = cart.scene.item_for_node[wait.id].sceneBoundingRect().center()
    drag(cart, start, start + QPointF(0, 150))
    assert edge_item.path_end().y() > start.y() + 100


def test_rubber_band_and_ctrl_click_select_several_steps(cart):
    trigger, wait, send = (node_of(cart.journey, k) for k in ("trigger", "wait", "send_template"))
    items = cart.scene.item_for_node
    top_left = items[trigger.id].sceneBoundingRect().topLeft() - QPointF(20, 30)
    drag(cart, top_left, items[wait.id].sceneBoundingRect().bottomRight() + QPointF(5, 5))
    assert set(cart.scene.selected_ids()[0]) == {trigger.id, wait.id}

    cart.view.set_zoom(0.6)
    QTest.mouseClick(cart.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     at(cart, items[send.id].sceneBoundingRect().center()))
    assert set(cart.scene.selected_ids()[0]) == {trigger.id, wait.id, send.id}


def test_copy_paste_into_another_journey_gives_fresh_ids_and_keeps_inner_edges(cart, make_editor):
    send, status = node_of(cart.journey, "send_template"), node_of(cart.journey, "message_status")
    wait = node_of(cart.journey, "wait")
    cart.view.select_ids([wait.id, send.id, status.id])
    assert cart.view.copy()

    other = make_editor(load_example("welcome_series"))
    before = set(other.journey.nodes)
    pasted = other.view.paste()

    new = {i: other.journey.nodes[i] for i in pasted}
    assert len(new) == 3 and not (set(new) & set(cart.journey.nodes)) and not (set(new) & before)
    inner = [e for e in other.journey.edges.values() if e.source in new and e.target in new]
    assert len(inner) == 2                                  # wait→send, send→status; edges out are dropped
    assert not [e for e in other.journey.edges.values() if (e.source in new) != (e.target in new)]
    new_status = next(n for n in new.values() if n.kind == "message_status")
    new_send = next(n for n in new.values() if n.kind == "send_template")
    assert new_status.config["step"] == new_send.id         # its reference follows the copy
    assert set(other.scene.selected_ids()[0]) == set(new)
    other.doc.undo_stack.undo()
    assert set(other.journey.nodes) == before


def test_duplicate_and_cut(cart):
    send = node_of(cart.journey, "send_template")
    cart.view.select_ids([send.id])
    (copy_id,) = cart.view.duplicate()
    copy = cart.journey.nodes[copy_id]
    assert copy.config == send.config and copy_id != send.id
    cart.view.select_ids([copy_id])
    cart.view.cut()
    assert copy_id not in cart.journey.nodes
    assert cart.view.paste() and len(cart.journey.nodes) == 7


def test_sticky_notes_are_added_edited_and_kept_in_the_journey(cart):
    from app.canvas.commands import SetValue
    from app.journey.fileformat import from_document, to_document

    note_id = cart.view.add_note()
    cart.doc.undo_stack.push(SetValue(cart.doc, note_id, ("text",), "Ask Sam about the discount", "note"))
    assert cart.scene.item_for_note[note_id].text == "Ask Sam about the discount"
    reloaded = from_document(to_document(cart.journey))
    assert reloaded.notes[note_id].text == "Ask Sam about the discount"


def test_select_all_and_escape(cart):
    cart.view.select_all()
    nodes, edges, notes = cart.scene.selected_ids()
    assert len(nodes) == 6 and len(edges) == 5 and len(notes) == 1
    QTest.keyClick(cart.view, Qt.Key.Key_Escape)
    assert not cart.scene.selectedItems()


def test_wheel_zoom_keeps_the_point_under_the_cursor(cart):
    send = node_of(cart.journey, "send_template")
    point = cart.scene.item_for_node[send.id].sceneBoundingRect().center()
    cursor = at(cart, point)
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication
    event = QWheelEvent(QPointF(cursor), QPointF(cart.view.viewport().mapToGlobal(cursor)), QPoint(0, 0),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(cart.view.viewport(), event)
    assert cart.view.zoom() > 1.2
    after = cart.view.mapToScene(cursor)
    assert abs(after.x() - point.x()) < 3 and abs(after.y() - point.y()) < 3


def test_items_are_node_items_for_every_step(cart):
    assert all(isinstance(cart.scene.item_for_node[i], NodeItem) for i in cart.journey.nodes)


def test_middle_button_and_space_drag_pan_the_view(cart):
    view = cart.view
    before = view.mapToScene(view.viewport().rect().center())
    drag(cart, before, before + QPointF(100, 50), button=Qt.MouseButton.MiddleButton)
    after = view.mapToScene(view.viewport().rect().center())
    assert abs((before - after).x() - 100) < 3 and abs((before - after).y() - 50) < 3
    assert not cart.doc.undo_stack.count()                  # panning is not an edit

    QTest.keyPress(view, Qt.Key.Key_Space)
    drag(cart, after, after + QPointF(-40, 0))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert abs(view.mapToScene(view.viewport().rect().center()).x() - (after.x() + 40)) < 3


def test_snap_to_grid_rounds_a_dragged_position(cart):
    cart.scene.snap = True
    wait = node_of(cart.journey, "wait")
    start = cart.scene.item_for_node[wait.id].sceneBoundingRect().center()
    drag(cart, start, start + QPointF(33, 47))
    assert all(v % 20 == 0 for v in wait.position)


def test_escape_during_a_move_puts_the_step_back(cart):
    wait = node_of(cart.journey, "wait")
    item = cart.scene.item_for_node[wait.id]
    start = item.sceneBoundingRect().center()
    drag(cart, start, start + QPointF(90, 90), release=False)
    QTest.keyClick(cart.view, Qt.Key.Key_Escape)
    QTest.mouseRelease(cart.view.viewport(), Qt.MouseButton.LeftButton, pos=at(cart, start + QPointF(90, 90)))
    assert item.pos() == QPointF(*wait.position) and not cart.doc.undo_stack.count()


def test_a_selected_connection_can_be_deleted_and_restored(cart):
    status = node_of(cart.journey, "message_status")
    (edge,) = cart.journey.edges_from(status.id, "no")
    edge_item = cart.scene.item_for_edge[edge.id]
    cart.view.set_zoom(1.0)
    cart.view.centerOn(edge_item.path().pointAtPercent(0.3))
    QTest.mouseClick(cart.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=at(cart, edge_item.path().pointAtPercent(0.3)))
    assert cart.scene.selectedItems() == [edge_item]
    cart.view.delete_selection()
    assert edge.id not in cart.journey.edges and len(cart.journey.nodes) == 6
    assert cart.doc.undo_stack.undoText() == "Delete connection"
    cart.doc.undo_stack.undo()
    assert cart.journey.edges[edge.id].target == edge.target


def test_a_selected_note_resizes_from_its_corner_in_one_undo_step(cart):
    (note,) = cart.journey.notes.values()
    item = cart.scene.item_for_note[note.id]
    cart.view.select_ids([note.id])
    old = tuple(note.size)
    corner = item.mapToScene(QPointF(old[0] - 4, old[1] - 4))
    cart.view.centerOn(corner)
    drag(cart, corner, corner + QPointF(60, 40))
    assert tuple(note.size) == (old[0] + 60, old[1] + 40)
    assert item.size() == tuple(note.size) and item.pos() == QPointF(*note.position)
    cart.doc.undo_stack.undo()
    assert tuple(note.size) == old and item.size() == old


def test_right_click_menu_acts_on_the_step_under_the_cursor(cart):
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication, QMenu

    tag = node_of(cart.journey, "tag")
    centre = cart.scene.item_for_node[tag.id].sceneBoundingRect().center()
    cart.view.centerOn(centre)
    pos = at(cart, centre)

    def choose() -> None:
        menu = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible())
        next(a for a in menu.actions() if a.text() == "Duplicate").trigger()
        menu.close()
    QTimer.singleShot(50, choose)
    cart.view.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos,
                                                 cart.view.viewport().mapToGlobal(pos)))
    tags = [n for n in cart.journey.nodes.values() if n.kind == "tag"]
    assert len(tags) == 2 and tags[1].config == tag.config

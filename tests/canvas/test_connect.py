"""Connecting steps with the mouse through their ports, and the rules that refuse some connections."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.journey.model import Journey

from .conftest import at, drag, node_of


def _two_steps(make_editor):
    journey = Journey(name="Two")
    trigger = journey.add_node("trigger", position=(0, 0))
    wait = journey.add_node("wait", position=(400, 0))
    return make_editor(journey), trigger, wait


def test_dragging_from_an_output_port_onto_a_step_connects_them(make_editor):
    editor, trigger, wait = _two_steps(make_editor)
    port = editor.scene.item_for_node[trigger.id].output_pos("next")
    target = editor.scene.item_for_node[wait.id].sceneBoundingRect().center()

    drag(editor, port, target)

    edges = list(editor.journey.edges.values())
    assert [(e.source, e.outcome, e.target) for e in edges] == [(trigger.id, "next", wait.id)]
    assert edges[0].id in editor.scene.item_for_edge
    editor.doc.undo_stack.undo()
    assert not editor.journey.edges and not editor.scene.item_for_edge


def test_a_connection_into_a_trigger_is_refused_with_the_reason(make_editor):
    editor, trigger, wait = _two_steps(make_editor)
    port = editor.scene.item_for_node[wait.id].output_pos("next")
    target = editor.scene.item_for_node[trigger.id].sceneBoundingRect().center()

    drag(editor, port, target)
    QTest.qWait(10)

    assert not editor.journey.edges
    assert "trigger" in editor.view.last_refusal.lower()
    assert editor.view.hint.isVisible() and "trigger" in editor.view.hint.text().lower()


def test_an_outcome_leads_to_one_step_only(cart):
    status = node_of(cart.journey, "message_status")
    other = node_of(cart.journey, "wait")
    before = dict(cart.journey.edges)
    cart.view.set_zoom(0.6)
    cart.view.centerOn(cart.scene.item_for_node[status.id].sceneBoundingRect().center())

    drag(cart, cart.scene.item_for_node[status.id].output_pos("yes"),
         cart.scene.item_for_node[other.id].sceneBoundingRect().center())

    assert cart.journey.edges == before
    assert "already leads to" in cart.view.last_refusal


def test_a_step_cannot_lead_into_itself(make_editor):
    editor, _trigger, wait = _two_steps(make_editor)
    item = editor.scene.item_for_node[wait.id]
    drag(editor, item.output_pos("next"), item.sceneBoundingRect().center())
    assert not editor.journey.edges
    assert "itself" in editor.view.last_refusal


def test_escape_cancels_a_connection_drag(make_editor):
    editor, trigger, wait = _two_steps(make_editor)
    port = editor.scene.item_for_node[trigger.id].output_pos("next")
    target = editor.scene.item_for_node[wait.id].sceneBoundingRect().center()
    drag(editor, port, target, release=False)
    QTest.keyClick(editor.view, Qt.Key.Key_Escape)
    QTest.mouseRelease(editor.view.viewport(), Qt.MouseButton.LeftButton, pos=at(editor, target))
    assert not editor.journey.edges
    assert editor.view.interaction is None


def test_dragging_an_edge_end_reconnects_it_keeping_its_id(cart):
    status = node_of(cart.journey, "message_status")
    (yes_edge,) = cart.journey.edges_from(status.id, "yes")
    old_target = yes_edge.target
    no_target = cart.journey.next_node(status.id, "no")
    cart.view.set_zoom(1.0)
    cart.view.centerOn(cart.scene.item_for_node[old_target].sceneBoundingRect().center() + QPointF(0, 60))
    arrow = cart.scene.item_for_node[old_target].input_pos()

    drag(cart, arrow, cart.scene.item_for_node[no_target].sceneBoundingRect().center())

    # "no" already leads there, but "yes" may go there too: two outcomes, one target is allowed
    edge = cart.journey.edges[yes_edge.id]
    assert edge.target == no_target and edge.outcome == "yes"
    cart.doc.undo_stack.undo()
    assert cart.journey.edges[yes_edge.id].target == old_target
    assert cart.scene.item_for_edge[yes_edge.id].target is cart.scene.item_for_node[old_target]


def test_the_step_under_a_connection_drag_shows_whether_it_accepts(make_editor):
    editor, trigger, wait = _two_steps(make_editor)
    target = editor.scene.item_for_node[wait.id]
    drag(editor, editor.scene.item_for_node[trigger.id].output_pos("next"), target.sceneBoundingRect().center(),
         release=False)
    assert target.drop_state is True
    QTest.mouseRelease(editor.view.viewport(), Qt.MouseButton.LeftButton,
                       pos=at(editor, target.sceneBoundingRect().center()))
    assert target.drop_state is None

    source = editor.scene.item_for_node[trigger.id]
    drag(editor, target.output_pos("next"), source.sceneBoundingRect().center(), release=False)
    assert source.drop_state is False
    QTest.keyClick(editor.view, Qt.Key.Key_Escape)
    assert source.drop_state is None and not editor.view.hint.isVisible()

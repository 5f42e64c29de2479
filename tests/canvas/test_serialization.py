"""Undo puts things back where they were, and one node serialization (the file format's) serves the
file, the clipboard and undo: a delete undone saves byte-identical, a bad fragment is never pasted."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from app.canvas import clipboard
from app.canvas.commands import Reconnect, RemoveEdge, SetValue, delete_items
from app.canvas.snapshot import node_snapshot
from app.examples import example_files, load_example
from app.journey.fileformat import dumps, node_data, to_document

from .conftest import node_of

EXAMPLES = [p.stem for p in example_files()]


def _saved(editor) -> bytes:
    """The bytes `fileformat.save` writes for the open journey."""
    return dumps(editor.journey).encode("utf-8")


@pytest.mark.parametrize("example", EXAMPLES)
def test_deleting_any_step_then_undoing_saves_byte_identical(make_editor, example):
    editor = make_editor(load_example(example))
    before = _saved(editor)
    for node_id in list(editor.journey.nodes):
        delete_items(editor.doc, [node_id], [], [])
        assert node_id not in editor.journey.nodes
        editor.doc.undo_stack.undo()
        assert _saved(editor) == before, editor.journey.nodes[node_id].title
        editor.doc.undo_stack.redo()
        editor.doc.undo_stack.undo()
        assert _saved(editor) == before


def test_the_saved_file_after_delete_and_undo_is_byte_identical(cart, tmp_path):
    """The example of the issue, through the real save path: delete a step (Del), undo (Ctrl+Z), save."""
    from app.journey.fileformat import save

    save(cart.journey, tmp_path / "before.json")
    wait = node_of(cart.journey, "wait")
    cart.view.select_ids([wait.id])
    cart.view.delete_selection()
    cart.doc.undo_stack.undo()
    save(cart.journey, tmp_path / "after.json")
    assert (tmp_path / "after.json").read_bytes() == (tmp_path / "before.json").read_bytes()


def test_a_mixed_delete_cut_and_reconnect_undo_to_the_same_bytes(cart):
    before = _saved(cart)
    journey = cart.journey
    note_id = cart.view.add_note()
    cart.doc.undo_stack.push(SetValue(cart.doc, note_id, ("text",), "Remember the coupon", "note"))
    with_note = _saved(cart)
    first_edge = next(iter(journey.edges))
    some_nodes = list(journey.nodes)[1:4]
    delete_items(cart.doc, some_nodes, [first_edge], [note_id])
    cart.doc.undo_stack.undo()
    assert _saved(cart) == with_note

    cart.view.select_ids(some_nodes)
    cart.view.cut()
    cart.doc.undo_stack.undo()
    assert _saved(cart) == with_note

    edge = list(journey.edges.values())[0]
    other = next(n for n in journey.nodes if n not in (edge.source, edge.target) and journey.nodes[n].spec.has_input)
    cart.doc.undo_stack.push(Reconnect(cart.doc, edge.id, other))
    assert list(journey.edges)[0] == edge.id                          # reconnected in place
    cart.doc.undo_stack.undo()
    cart.doc.undo_stack.push(RemoveEdge(cart.doc, list(journey.edges)[2]))
    cart.doc.undo_stack.undo()
    assert _saved(cart) == with_note
    while cart.doc.undo_stack.canUndo():
        cart.doc.undo_stack.undo()
    assert _saved(cart) == before


def test_undo_and_the_clipboard_hold_the_file_formats_node(cart):
    send = node_of(cart.journey, "send_template")
    assert node_snapshot(send) == json.loads(json.dumps(node_data(send)))
    fragment = clipboard.make_fragment(cart.journey, [send.id])
    assert fragment["nodes"] == [to_document(cart.journey)["nodes"][list(cart.journey.nodes).index(send.id)]]


# --- pasting ----------------------------------------------------------------------------


def _put_raw(payload: object) -> None:
    data = QMimeData()
    data.setData(clipboard.MIME, (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8"))
    QApplication.clipboard().setMimeData(data)


def _fragment(**node: object) -> dict:
    base = {"id": "n1", "kind": "tag", "kind_version": 1, "name": "", "position": [40, 40],
            "config": {"add": ["vip"], "remove": []}}
    return {"format": "journey-fragment/1", "nodes": [{**base, **node}], "edges": [], "notes": []}


@pytest.mark.parametrize("payload, says", [
    (_fragment(kind="send_fax"), "unknown node kind 'send_fax'"),
    (_fragment(kind="send_template", config={"channel": "fax"}), "expected one of email, sms, whatsapp"),
    (_fragment(config={"add": "vip"}), "expected a list"),
    (_fragment(kind_version=9), "newer than this app knows"),
    (_fragment(ends=["maybe"]), "expected a list of this kind's outcomes"),
    ({**_fragment(), "edges": [{"id": "e", "source": "n1", "outcome": "next", "target": "elsewhere"}]},
     "refers to a node that does not exist"),
    ({**_fragment(), "format": "journey-fragment/7"}, "newer Journey Studio"),
    ("{not json", "cannot be read"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (_fragment(name="x" * 2_000_000), "a step's name of 2,000,000 characters"),
    (_fragment(kind="send_template", config={"channel": "sms", "message": "y" * 3_000_000}), "at most 500,000"),
    ({**_fragment(), "notes": [{"id": "t", "text": "z" * 1_000_000, "position": [0, 0]}]}, "a note's text"),
    ({**_fragment(), "nodes": [_fragment(id=f"n{i}")["nodes"][0] for i in range(5000)]}, "more than 1,000 steps"),
    ("{" + " " * 30_000_000 + "}", "at most 20 MB"),                    # json.loads: RecursionError
    ({**_fragment(), "nodes": [_fragment()["nodes"][0] | {"name": "x" * 5}] * 2}, "n1"),     # the same id twice
    # values the reader does not keep (issue 9): refused like a file, with the pointer
    (_fragment(position=[float("nan"), 0]), "at /nodes/0/position/0: NaN is not a number"),
    (_fragment(name="a\ud800"), "at /nodes/0/name: contains a lone surrogate"),
    (_fragment(kind_version=True), "expected the kind version as a whole number"),
    ({**_fragment(), "format": "journey-fragment/\u0661"}, "not journey steps"),
    ('{"nodes": ' + "[" * 3000 + "]" * 3000 + "}", "nested too deeply"),
    ('{"nodes": [{"id": "n", "kind": "tag", "position": [' + "9" * 5000 + ", 0]}]}", "5000 digits"),
])
def test_a_fragment_the_file_reader_refuses_is_not_pasted(cart, payload, says):
    before = to_document(cart.journey)
    depth = cart.doc.undo_stack.count()
    messages: list[str] = []
    cart.view.message.connect(messages.append)
    _put_raw(payload)

    assert cart.view.paste() == []

    assert to_document(cart.journey) == before and cart.doc.undo_stack.count() == depth
    assert len(messages) == 1 and messages[0].startswith("Nothing was pasted: the clipboard")
    assert says in messages[0]


def test_an_older_fragment_is_read_through_the_file_format_and_completed(cart):
    """Written before fragments had a format: no kind_version, positions and defaults missing."""
    _put_raw({"nodes": [{"id": "old", "kind": "wait", "config": {"mode": "duration"}, "position": [10, 20]}],
              "edges": [], "notes": []})
    [new_id] = cart.view.paste()
    node = cart.journey.nodes[new_id]
    assert node.kind == "wait" and node.config["delay"] == {"amount": 1, "unit": "days"}


def test_copy_and_paste_keeps_every_setting(cart):
    send = node_of(cart.journey, "send_template")
    cart.view.select_ids([send.id])
    assert cart.view.copy()
    [pasted] = cart.view.paste()
    assert cart.journey.nodes[pasted].config == send.config and pasted != send.id
    cart.doc.undo_stack.undo()
    assert pasted not in cart.journey.nodes


def test_a_refused_paste_says_why_on_the_canvas_too(cart):
    _put_raw(_fragment(kind="send_fax"))
    cart.view.paste()
    assert cart.view.hint.isVisible() and "unknown node kind 'send_fax'" in cart.view.hint.text()
    assert cart.view.last_refusal.startswith("Nothing was pasted")


def test_duplicate_auto_layout_and_a_mouse_drag_undo_to_the_same_bytes(cart, qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    cart.view.show()
    qtbot.waitExposed(cart.view)
    before = _saved(cart)
    send = node_of(cart.journey, "send_template")
    cart.view.select_ids([send.id])
    assert len(cart.view.duplicate()) == 1
    cart.doc.undo_stack.undo()
    assert _saved(cart) == before

    cart.view.arrange()
    cart.doc.undo_stack.undo()
    assert _saved(cart) == before

    item = cart.view.scene().item_for_node[send.id]
    start = cart.view.mapFromScene(item.sceneBoundingRect().center())
    viewport = cart.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):
        QTest.mouseMove(viewport, start + QPoint(7 * step, 5 * step))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start + QPoint(35, 25))
    assert _saved(cart) != before                                   # it moved
    cart.doc.undo_stack.undo()
    assert _saved(cart) == before

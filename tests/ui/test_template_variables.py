"""Typing `{{` in a send step offers the trigger's event properties, even on a fresh install, and
Insert ▸ Cart items block inserts a block that is one undo step."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.journey.snippets import cart_items_block

from .conftest import kind_node


def _editor(window, field: str, kind_index: int = 0):
    sends = [n for n in window.editor.journey.nodes.values() if n.kind == "send_template"]
    window.editor.view.select_ids([sends[kind_index].id])
    return sends[kind_index], window.inspector.builder.editors[("config", field)]


def _offered(text) -> list[str]:
    """What the completion popup lists now (filtered by what was typed)."""
    model = text.completer.completionModel()
    return [model.index(i, 0).data() for i in range(model.rowCount())]


def _type(qtbot, text, keys: str) -> None:
    """Replaces the text by typing `keys` (a line break as the Return key)."""
    text.setFocus()
    text.selectAll()
    for i, line in enumerate(keys.split("\n")):
        if i:
            QTest.keyClick(text, Qt.Key.Key_Return)
        QTest.keyClicks(text, line)


def test_a_fresh_install_offers_the_cart_events_properties_on_typing_braces(window, qtbot):
    _send, editor = _editor(window, "html")      # the store holds no contacts or events yet
    text = editor.text
    _type(qtbot, text, "<p>{{ ")
    popup = text.completer.popup()
    assert popup.isVisible()
    offered = _offered(text)
    for name in ("event.items", "event.cart_url", "event.total", "event.currency", "contact.first_name"):
        assert name in offered
    assert offered[0].startswith("event.")        # what the trigger brings comes first
    QTest.keyClicks(text, "cart")
    assert _offered(text) == ["event.cart_url"]
    tip = text.completer.completionModel().index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "restores the cart" in tip


def test_inside_a_loop_over_the_items_the_item_fields_are_offered(window, qtbot):
    _send, editor = _editor(window, "text")
    text = editor.text
    _type(qtbot, text, "{% for item in event.items %}\n- {{ item.")
    assert _offered(text) == ["item.name", "item.title", "item.price", "item.quantity", "item.url", "item.image"]
    popup = text.completer.popup()
    QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    assert text.toPlainText().endswith("- {{ item.name }}")
    # After the loop closes, its variable is no longer offered.
    QTest.keyClick(text, Qt.Key.Key_Return)
    QTest.keyClicks(text, "{% endfor %}{{ item")
    assert _offered(text) == ["event.items"]


def test_other_triggers_offer_their_own_event(window, qtbot, store):
    assert window.open_journey(store.find("Post-purchase").id)
    _send, editor = _editor(window, "subject")
    _type(qtbot, editor.text, "{{ event.")
    assert {"event.order_id", "event.total", "event.items"} <= set(_offered(editor.text))
    assert "event.cart_url" not in _offered(editor.text)
    assert window.open_journey(store.find("Win-back").id)       # no order for 60 days: no event at all
    _send, editor = _editor(window, "subject")
    _type(qtbot, editor.text, "{{ event.")
    assert _offered(editor.text) == []


def _insert(editor) -> None:
    action = editor.insert.menu().actions()[0]
    assert action.text() == "Cart items block" and action.isEnabled()
    action.trigger()


def test_insert_cart_items_is_one_undo_step(window, qtbot):
    send, editor = _editor(window, "text")
    doc = window.editor.doc
    before = send.config["text"]
    text = editor.text
    text.setFocus()
    cursor = text.textCursor()
    cursor.setPosition(before.index("Return to your cart"))
    text.setTextCursor(cursor)
    QTest.keyClicks(text, "Still there:")
    typed = doc.journey.nodes[send.id].config["text"]
    _insert(editor)
    inserted = doc.journey.nodes[send.id].config["text"]
    assert inserted == typed.replace("Still there:", "Still there:\n" + cart_items_block("text", "email"))
    assert doc.undo_stack.undoText() == "Insert cart items block in Plain-text body"
    QTest.keyClicks(text, "More")
    doc.undo_stack.undo()                                   # the typing after
    assert doc.journey.nodes[send.id].config["text"] == inserted
    doc.undo_stack.undo()                                   # the block, alone
    assert doc.journey.nodes[send.id].config["text"] == typed
    assert text.toPlainText() == typed
    doc.undo_stack.undo()                                   # the typing before
    assert doc.journey.nodes[send.id].config["text"] == before


def test_the_block_fits_the_field(window, qtbot):
    send, editor = _editor(window, "html")
    _insert(editor)            # never clicked into: the block goes at the end
    assert window.editor.doc.journey.nodes[send.id].config["html"].endswith(cart_items_block("html", "email"))
    assert "<ul" in cart_items_block("html", "email")
    sms, editor = _editor(window, "message", 1)
    _insert(editor)
    assert window.editor.doc.journey.nodes[sms.id].config["message"].endswith("\n" + cart_items_block("message", "sms"))
    _send, subject = _editor(window, "subject", 0)
    assert subject.insert is None          # a subject is one line: no block


def test_without_items_the_block_is_offered_greyed_out_with_the_reason(window, qtbot, store):
    assert window.open_journey(store.find("Welcome series").id)
    _send, editor = _editor(window, "html")
    [action] = editor.insert.menu().actions()
    assert not action.isEnabled() and "subscribed" in action.toolTip()
    assert kind_node(window, "trigger").config["event"] == "subscribed"

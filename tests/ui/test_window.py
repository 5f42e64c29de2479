"""The main window: problems, undo naming, saving and reopening, switching journeys."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from app.canvas.commands import SetValue
from app.journey.fileformat import from_document, to_document
from app.store.db import open_database
from app.store.errors import StoreError
from app.store.journeys import JourneyStore
from app.ui.main_window import MainWindow

from .conftest import kind_node

ROOT = Path(__file__).resolve().parents[2]


def test_clicking_a_problem_selects_and_centres_its_step(window, qtbot):
    send = kind_node(window, "send_template")
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, send.id, ("config", "subject"), "", "subject"))
    qtbot.waitUntil(lambda: window.problems.count() > 0 and "Subject" in window.problems.item(0).text(), timeout=1000)
    window.editor.view.centerOn(QPointF(-3000, -3000))

    item = window.problems.item(0)
    window.problems.itemClicked.emit(item)

    scene_item = window.editor.scene.item_for_node[send.id]
    assert window.editor.scene.selectedItems() == [scene_item]
    centre = window.editor.view.mapToScene(window.editor.view.viewport().rect().center())
    assert (centre - scene_item.sceneBoundingRect().center()).manhattanLength() < 20
    assert window.inspector.target == send.id
    assert "1 error" in window.problem_label.text()


def test_edit_menu_names_what_undo_will_do(window):
    window.canvas_op(lambda v: v.add_node("wait"))()
    assert window.actions_["undo"].text() == "Undo Add Wait"
    window.actions_["undo"].trigger()
    assert window.actions_["redo"].text() == "Redo Add Wait"


def test_save_and_reopen_gives_the_same_journey(window, db_path, qtbot):
    view = window.editor.view
    new_id = view.add_node("tag", (900.0, 300.0))
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, new_id, ("config", "add"), ["vip"], "add tags"))
    journey_id = window.session.journey_id
    expected = to_document(window.editor.journey)
    qtbot.waitUntil(lambda: not window.session.dirty, timeout=3000)     # autosave
    assert window.save_label.text() == "Saved"
    window.close()

    reopened = MainWindow(JourneyStore(open_database(f"sqlite:///{db_path}")))
    qtbot.addWidget(reopened)
    assert reopened.open_journey(journey_id)
    assert to_document(reopened.editor.journey) == expected
    assert reopened.editor.journey.nodes[new_id].config["add"] == ["vip"]


def test_switching_journeys_never_drops_unsaved_changes_silently(window, store, monkeypatch):
    current = window.session.journey_id
    window.editor.view.add_node("wait")
    monkeypatch.setattr(store, "save_draft", lambda *a: (_ for _ in ()).throw(StoreError("disk full")))
    asked: list[str] = []

    def cancel(*args):
        asked.append(args[2])
        return QMessageBox.StandardButton.Cancel
    monkeypatch.setattr(QMessageBox, "warning", cancel)

    other = store.find("Win-back")
    assert not window.open_journey(other.id)
    assert window.session.journey_id == current and "disk full" in asked[0]


def test_new_journey_from_an_example_has_fresh_ids(window, store):
    before = {row.id for row in store.list()}
    window.new_journey("cart_abandonment")
    new = window.session.journey_id
    assert new not in before
    original = from_document(store.load_draft(store.find("Cart abandonment").id))
    assert not set(window.editor.journey.nodes) & set(original.nodes)
    assert window.editor.journey.name == "Cart abandonment (2)"


def test_screenshot_command_writes_a_window_sized_png(tmp_path):
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "main.py", "--db", str(tmp_path / "db.sqlite3"), "--screenshot",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 900)


def test_screenshot_of_a_journey_file(qtbot, store, tmp_path):
    window = MainWindow(store)
    qtbot.addWidget(window)
    out = tmp_path / "file.png"
    assert window.screenshot(str(out), str(ROOT / "resources" / "examples" / "win_back.json")) == 0
    assert window.editor.journey.name == "Win-back"
    assert QImage(str(out)).size().width() == 1400


def test_keyboard_shortcuts_delete_undo_and_redo(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    tag = kind_node(window, "tag")
    view = window.editor.view
    view.select_ids([tag.id])
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Delete)
    assert tag.id not in window.editor.journey.nodes
    QTest.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert tag.id in window.editor.journey.nodes
    QTest.keyClick(view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert tag.id not in window.editor.journey.nodes
    QTest.keyClick(view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == 1.0 and window.zoom_label.text() == "Zoom 100%"


def test_closing_with_changes_that_cannot_be_saved_asks_first(window, store, monkeypatch):
    window.editor.view.add_node("wait")
    monkeypatch.setattr(store, "save_draft", lambda *a: (_ for _ in ()).throw(StoreError("read-only database")))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible()
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: QMessageBox.StandardButton.Discard)
    window.close()
    assert not window.isVisible()


def test_minimap_can_be_hidden(window):
    window.actions_["minimap"].trigger()
    assert not window.editor.minimap.isVisible()
    window.actions_["minimap"].trigger()
    assert window.editor.minimap.isVisible()


def test_backspace_in_the_inspector_does_not_delete_the_step(window):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    wait = kind_node(window, "wait")
    window.editor.view.select_ids([wait.id])
    combo = window.inspector.builder.editors[("config", "mode")].combo     # not a text field
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Backspace)
    assert wait.id in window.editor.journey.nodes
    window.editor.view.setFocus()
    QTest.keyClick(window.editor.view, Qt.Key.Key_Backspace)
    assert wait.id not in window.editor.journey.nodes


def test_delete_then_undo_exports_the_same_bytes_and_a_bad_paste_changes_nothing(window, qtbot, monkeypatch, tmp_path):
    import json

    from PySide6.QtCore import QMimeData, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QFileDialog

    from app.canvas import clipboard

    target = {"path": ""}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (target["path"], ""))

    def export(name: str) -> bytes:
        target["path"] = str(tmp_path / name)
        window.actions_["export"].trigger()
        return (tmp_path / name).read_bytes()

    before = export("before.json")
    stored = window.store.load_draft(window.session.journey_id)
    wait = next(n for n in window.editor.journey.nodes.values() if n.kind == "wait")
    window.editor.view.select_ids([wait.id])
    window.editor.view.setFocus()
    QTest.keyClick(window.editor.view, Qt.Key.Key_Delete)
    assert wait.id not in window.editor.journey.nodes
    window.actions_["undo"].trigger()
    assert window.session.save()
    assert export("after.json") == before
    assert window.store.load_draft(window.session.journey_id) == stored

    data = QMimeData()
    data.setData(clipboard.MIME, json.dumps({"nodes": [{"id": "x", "kind": "send_fax", "config": {},
                                                        "position": [0, 0]}], "edges": [], "notes": []}).encode())
    QApplication.clipboard().setMimeData(data)
    depth = window.editor.doc.undo_stack.count()
    window.actions_["paste"].trigger()
    assert "unknown node kind 'send_fax'" in window.statusBar().currentMessage()
    assert window.editor.doc.undo_stack.count() == depth and export("pasted.json") == before

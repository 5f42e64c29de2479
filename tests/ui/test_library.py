"""The journeys list: new, duplicate, rename, delete, import and export."""
from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog

from app.journey.fileformat import load
from app.ui import library


def _names(store):
    return sorted(row.name for row in store.list())


def test_duplicate_rename_and_delete_with_confirmation(window, store, monkeypatch):
    source = store.find("Win-back")
    library.duplicate(window, source.id)
    copy = store.find("Win-back copy")
    assert copy is not None and window.session.journey_id == copy.id

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Win-back B", True))
    library.rename(window, copy.id)
    assert store.get(copy.id).name == "Win-back B"
    assert window.editor.journey.name == "Win-back B"          # the open journey follows

    monkeypatch.setattr(library, "confirm_delete", lambda *a: False)
    library.delete(window, copy.id)
    assert store.get(copy.id) is not None
    monkeypatch.setattr(library, "confirm_delete", lambda *a: True)
    library.delete(window, copy.id)
    assert store.get(copy.id) is None and window.editor is None
    assert "Win-back B" not in [window.journeys.list.item(i).text() for i in range(window.journeys.list.count())]


def test_export_then_import_a_journey_file(window, store, tmp_path, monkeypatch):
    out = tmp_path / "cart.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    window.export_file()
    exported = load(out)
    assert exported.nodes.keys() == window.editor.journey.nodes.keys()
    assert not list(tmp_path.glob(".cart.json.*"))               # no temporary file left behind

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    window.import_file()
    imported = store.find("Cart abandonment (2)")
    assert imported is not None and window.session.journey_id == imported.id
    assert not set(window.editor.journey.nodes) & set(exported.nodes)   # the id was taken: fresh ids


def test_new_empty_journey_opens_on_an_empty_canvas(window, store):
    window.new_journey("")
    assert window.editor.journey.name == "New journey"
    assert not window.editor.journey.nodes and not window.editor.minimap.isVisible()
    assert "New journey" in _names(store)
    assert any("no trigger" in p.message for p in window.editor.validator.wait())


def test_delete_asks_with_a_delete_button(window, qtbot, monkeypatch):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def press(label):
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        next(b for b in box.buttons() if b.text() == label).click()

    QTimer.singleShot(50, lambda: press("Cancel"))
    assert library.confirm_delete(window, "Win-back") is False
    QTimer.singleShot(50, lambda: press("Delete"))
    assert library.confirm_delete(window, "Win-back") is True

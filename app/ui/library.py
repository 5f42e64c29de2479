"""Journey library operations behind the journeys list and the File menu:
new (empty or from an example), duplicate, rename, delete, import and export."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from app.examples import example_files, load_example, with_fresh_ids
from app.journey.fileformat import JourneyFileError, load, save, to_document
from app.journey.model import Journey, new_id
from app.store.errors import StoreError

if TYPE_CHECKING:
    from .main_window import MainWindow

__all__ = ["load_example", "example_choices", "create", "duplicate", "rename", "delete", "import_file",
           "import_journey", "export_file", "unique_name", "confirm_delete"]
_FILTER = "Journey files (*.json);;All files (*)"


def example_choices() -> list[tuple[str, str]]:
    """(stem, readable name) of each bundled example."""
    return [(p.stem, p.stem.replace("_", " ").capitalize()) for p in example_files()]


def unique_name(window: "MainWindow", base: str) -> str:
    taken = {row.name.lower() for row in window.store.list()}
    if base.lower() not in taken:
        return base
    n = 2
    while f"{base} ({n})".lower() in taken:
        n += 1
    return f"{base} ({n})"


def _fail(window: "MainWindow", what: str, exc: Exception) -> None:
    QMessageBox.warning(window, "Journey Studio", f"{what}\n\n{exc}")


def create(window: "MainWindow", example: str) -> str:
    """A new journey in the store, empty or a copy of an example with fresh ids."""
    if not window.leave_current():
        return ""
    if example:
        journey = with_fresh_ids(load_example(example))
    else:
        journey = Journey(name="New journey")
    journey.name = unique_name(window, journey.name)
    try:
        return window.store.create(to_document(journey)).id
    except StoreError as exc:
        _fail(window, "The journey could not be created.", exc)
        return ""


def duplicate(window: "MainWindow", journey_id: str) -> None:
    if not window.leave_current():
        return
    row = window.store.get(journey_id)
    if row is None:
        return
    try:
        copy = window.store.duplicate(journey_id, new_id(), unique_name(window, f"{row.name} copy"))
    except StoreError as exc:
        _fail(window, "The journey could not be duplicated.", exc)
        return
    window.refresh_list()
    window.open_journey(copy.id)


def rename(window: "MainWindow", journey_id: str) -> None:
    row = window.store.get(journey_id)
    if row is None:
        return
    name, ok = QInputDialog.getText(window, "Rename journey", "New name:", text=row.name)
    if not ok or not name.strip() or name.strip() == row.name:
        return
    session = window.session
    if session is not None and session.journey_id == journey_id:
        # The open journey is renamed through its document, so undo and autosave see it.
        from app.canvas.commands import SetValue
        doc = session.editor.doc
        doc.undo_stack.push(SetValue(doc, "", ("name",), name.strip(), "journey name"))
        session.save()
    else:
        try:
            window.store.rename(journey_id, name)
        except StoreError as exc:
            _fail(window, "The journey could not be renamed.", exc)
    window.refresh_list()


def delete(window: "MainWindow", journey_id: str) -> None:
    row = window.store.get(journey_id)
    if row is None:
        return
    if not confirm_delete(window, row.name):
        return
    try:
        window.store.delete(journey_id)
    except StoreError as exc:
        _fail(window, "The journey could not be deleted.", exc)
        return
    if window.session is not None and window.session.journey_id == journey_id:
        window.close_editor()
    window.refresh_list()


def confirm_delete(window: "MainWindow", name: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Warning, "Delete journey", f"Delete “{name}”? This cannot be undone.",
                      parent=window)
    delete_button = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    return box.clickedButton() is delete_button


def import_journey(window: "MainWindow", journey: Journey) -> str:
    """Adds a journey read from a file to the store and opens it."""
    if window.store.get(journey.id) is not None:
        journey = with_fresh_ids(journey)
    journey.name = unique_name(window, journey.name)
    try:
        row = window.store.create(to_document(journey))
    except StoreError as exc:
        _fail(window, "The journey could not be imported.", exc)
        return ""
    if window.session is not None and window.session.journey_id is None:
        window.session.dirty = False          # it now lives in the store: nothing is lost
    window.refresh_list()
    window.open_journey(row.id)
    return row.id


def import_file(window: "MainWindow") -> None:
    path, _ = QFileDialog.getOpenFileName(window, "Import journey", "", _FILTER)
    if not path:
        return
    try:
        journey = load(path)
    except JourneyFileError as exc:
        _fail(window, "This file cannot be imported.", exc)
        return
    import_journey(window, journey)


def export_file(window: "MainWindow", journey: Journey) -> None:
    path, _ = QFileDialog.getSaveFileName(window, "Export journey", f"{journey.name}.json", _FILTER)
    if not path:
        return
    try:
        save(journey, path)                 # written to a temporary file, then renamed
    except OSError as exc:
        _fail(window, "The journey could not be exported.", exc)
        return
    window.statusBar().showMessage(f"Exported to {path}", 4000)

"""The open journey's link to the store: autosave a moment after each edit, save
on demand, and know whether anything is still unsaved."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.canvas.editor import CanvasEditor
from app.journey.fileformat import to_document
from app.store.errors import StoreError
from app.store.journeys import JourneyStore

AUTOSAVE_MS = 800


class EditorSession(QObject):
    saved = Signal()
    save_failed = Signal(str)
    dirty_changed = Signal(bool)

    def __init__(self, store: JourneyStore, journey_id: str | None, editor: CanvasEditor) -> None:
        super().__init__(editor)
        self.store, self.journey_id, self.editor = store, journey_id, editor
        self.dirty = False
        self.error = ""
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.save)
        editor.doc.changed.connect(self._changed)

    @property
    def in_store(self) -> bool:
        return self.journey_id is not None

    def _changed(self) -> None:
        self._set_dirty(True)
        if self.in_store:
            self.timer.start()

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirty_changed.emit(dirty)

    def save(self) -> bool:
        """Writes the draft; on failure keeps it unsaved and says why."""
        self.timer.stop()
        if self.journey_id is None:         # not in the store: nothing to save to
            return False
        if not self.dirty:
            return True
        try:
            self.store.save_draft(self.journey_id, to_document(self.editor.journey))
        except StoreError as exc:
            self.error = str(exc)
            self.save_failed.emit(self.error)
            return False
        self.error = ""
        self._set_dirty(False)
        self.saved.emit()
        return True

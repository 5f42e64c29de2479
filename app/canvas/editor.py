"""One open journey on the canvas: its document, scene, view, minimap and live validation."""
from __future__ import annotations

from PySide6.QtGui import QPixmapCache
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.journey.model import Journey
from app.journey.templates import VariableCatalog

from .document import JourneyDocument
from .lighting import PathLighting
from .minimap import Minimap
from .scene import JourneyScene
from .validation import LiveValidator
from .view import CanvasView


class CanvasEditor(QWidget):
    def __init__(self, journey: Journey, parent: QWidget | None = None,
                 catalog: VariableCatalog | None = None, public_url: str | None = None) -> None:
        super().__init__(parent)
        # Cards and connections are cached pixmaps: give a large journey room in the cache.
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 128 * 1024))
        self.doc = JourneyDocument(journey, self)
        self.scene = JourneyScene(self.doc)
        self.scene.setParent(self)
        self.view = CanvasView(self.scene)
        self.minimap = Minimap(self.view)
        self.catalog = catalog
        self.validator = LiveValidator(self.doc, self, catalog, public_url)
        self.validator.problems_changed.connect(self.scene.show_problems)
        self.lighting = PathLighting(self.scene)       # a test run lit on the canvas (a view state only)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.validator.run_now()
        self.scene.show_problems(self.validator.problems)

    @property
    def journey(self) -> Journey:
        return self.doc.journey

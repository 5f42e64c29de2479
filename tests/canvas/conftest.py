"""Fixtures for canvas tests: an editor on a journey, shown offscreen, and mouse helpers."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QStyleOptionGraphicsItem
from PySide6.QtTest import QTest

from app.canvas.editor import CanvasEditor
from app.canvas.node_item import NodeItem
from app.canvas.style import CARD_H, CARD_W
from app.examples import load_example
from app.journey.model import Journey


@pytest.fixture(autouse=True)
def _shipped_fonts(app_fonts) -> None:
    """Every Qt test renders and measures with the fonts the app ships, not the machine's."""


@pytest.fixture
def make_editor(qtbot) -> Callable[[Journey], CanvasEditor]:
    def make(journey: Journey) -> CanvasEditor:
        editor = CanvasEditor(journey)
        qtbot.addWidget(editor)
        editor.resize(1000, 700)
        editor.show()
        qtbot.waitExposed(editor)
        editor.view.set_zoom(1.0)
        editor.view.centerOn(editor.scene.journey_rect().center())
        return editor
    return make


@pytest.fixture
def cart(make_editor) -> CanvasEditor:
    return make_editor(load_example("cart_abandonment"))


def at(editor: CanvasEditor, scene_point: QPointF) -> QPoint:
    return editor.view.mapFromScene(scene_point)


def drag(editor: CanvasEditor, start: QPointF, end: QPointF, *, steps: int = 6,
         button: Qt.MouseButton = Qt.MouseButton.LeftButton,
         modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier, release: bool = True) -> None:
    """A real press-move-release on the canvas viewport, in scene coordinates."""
    viewport = editor.view.viewport()
    a, b = at(editor, start), at(editor, end)
    QTest.mousePress(viewport, button, modifiers, a)
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, a + (b - a) * (i / steps))
    if release:
        QTest.mouseRelease(viewport, button, modifiers, b)


def drop(view, mime: QMimeData, pos: QPoint) -> None:
    """The events a real drag from the palette delivers to the canvas viewport."""
    vp = view.viewport()
    action, buttons, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(vp, QDragEnterEvent(pos, action, mime, buttons, mods))
    QApplication.sendEvent(vp, QDragMoveEvent(pos, action, mime, buttons, mods))
    QApplication.sendEvent(vp, QDropEvent(QPointF(pos), action, mime, buttons, mods))


def node_of(journey: Journey, kind: str):
    return next(n for n in journey.nodes.values() if n.kind == kind)


BACKDROP = "#777777"


def render_card(item: NodeItem, scale: float, below: float = 0.0) -> QImage:
    """The item painted at `scale` on a grey backdrop, with `below` units of room under the card."""
    image = QImage(int(CARD_W * scale) + 4, int((CARD_H + below) * scale) + 4, QImage.Format.Format_ARGB32)
    image.fill(QColor(BACKDROP))
    painter = QPainter(image)
    painter.scale(scale, scale)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    return image

"""The window looks and measures the same on every machine: the app ships its fonts, and
text that grows (card titles, the subject box) is laid out from the real font, whatever it is."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFont, QFontInfo
from PySide6.QtWidgets import QApplication

from app.canvas.editor import CanvasEditor
from app.canvas.node_item import NodeItem
from app.canvas.style import CARD_H, CARD_W, fonts
from app.examples import load_example
from app.ui.template_edit import TemplateEdit
from app.ui.typography import MONO_FAMILY, UI_FAMILY, mono_font

from .conftest import kind_node

LONG_SUBJECT = ("{{ contact.first_name | default('Hi') }}, the things you left in your cart are still "
                "waiting for you at Corner Shop")

# Two families of different widths and heights, at a desktop's usual size and at a large user scale.
FONTS = [(UI_FAMILY, 9.0), (MONO_FAMILY, 11.0), (UI_FAMILY, 16.0)]


@pytest.fixture
def app_font(request: pytest.FixtureRequest) -> Iterator[QFont]:
    """The application font set to (family, points) for one test, then put back."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before = app.font()
    family, size = request.param
    font = QFont(family)
    font.setPointSizeF(size)
    app.setFont(font)
    fonts.cache_clear()                # the canvas builds its fonts from the application font
    yield font
    app.setFont(before)
    fonts.cache_clear()


def test_the_app_draws_with_its_own_fonts_not_the_machines(window):
    assert QFontInfo(QApplication.font()).family() == UI_FAMILY
    assert QFontInfo(window.inspector.font()).family() == UI_FAMILY
    assert QFontInfo(mono_font()).family() == MONO_FAMILY
    assert QFontInfo(fonts().title).family() == UI_FAMILY
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    subject = window.inspector.builder.editors[("config", "subject")].text
    assert QFontInfo(subject.font()).family() == MONO_FAMILY


@pytest.mark.parametrize("app_font", FONTS, indirect=True, ids=lambda f: f"{f[0]}-{f[1]:g}pt")
def test_card_text_stays_inside_the_card_in_any_font(app_font, qtbot):
    editor = CanvasEditor(load_example("cart_abandonment"))
    qtbot.addWidget(editor)
    card = QRectF(0, 0, CARD_W, CARD_H)
    items = [i for i in editor.scene.items() if isinstance(i, NodeItem)]
    assert len(items) >= 6
    for item in items:
        item.refresh(editor.journey.nodes[item.node_id])
        boxes = item.text_boxes()
        assert boxes[0].width() > 0, item.shown_text()
        for box in boxes:
            assert card.contains(box), (item.shown_text(), box)
        for first, second in zip(boxes, boxes[1:]):          # lines do not overlap either
            assert first.bottom() <= second.top() + 0.5, item.shown_text()


@pytest.mark.parametrize("app_font", FONTS, indirect=True, ids=lambda f: f"{f[0]}-{f[1]:g}pt")
def test_the_inspectors_subject_box_grows_until_every_line_shows_in_any_font(app_font, window, qtbot):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    editor = window.inspector.builder.editors[("config", "subject")].text
    editor.setFont(app_font)                    # another font than its own, at the user's size
    editor.set_text("Hi")
    qtbot.waitUntil(lambda: editor.verticalScrollBar().maximum() == 0)
    one_line = editor.height()
    editor.set_text(LONG_SUBJECT)
    qtbot.waitUntil(lambda: editor.height() > one_line)
    qtbot.waitUntil(lambda: editor.verticalScrollBar().maximum() == 0)
    assert not editor.horizontalScrollBar().isVisible()
    layout = editor.document().documentLayout()
    lines = sum(b.layout().lineCount() for b in _blocks(editor))
    assert 2 < lines <= 5
    text_height = sum(layout.blockBoundingRect(b).height() for b in _blocks(editor))
    assert text_height + 2 * editor.document().documentMargin() <= editor.viewport().height() + 0.5
    window.inspector.grab()                    # it paints, at that size, without complaint


def _blocks(editor: TemplateEdit):  # type: ignore[no-untyped-def]
    block = editor.document().begin()
    while block.isValid():
        yield block
        block = block.next()

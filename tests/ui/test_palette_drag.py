"""The palette stays readable while a step is dragged from it, in the light and the dark theme: the
pressed (current, selected) row and the picture that follows the pointer keep their label's contrast."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app.canvas import style
from app.ui.palette import Palette
from app.ui.theme import apply_theme

WCAG_TEXT = 4.5          # WCAG 2.1 success criterion 1.4.3: contrast of normal text


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def label_contrast(image: QImage, left: int, top: int, right: int, bottom: int) -> float:
    """The contrast between a label's background (the commonest colour of the area) and its text
    (the colour farthest from it), over the area of the label only."""
    colours = Counter(image.pixelColor(x, y).rgb() for x in range(left, right) for y in range(top, bottom)
                      if image.pixelColor(x, y).alpha() == 255)
    background = QColor.fromRgb(colours.most_common(1)[0][0])
    return max(contrast(background, QColor.fromRgb(rgb)) for rgb in colours)


@pytest.fixture(params=["light", "dark"])
def themed(request, qtbot) -> Iterator[str]:
    app = QApplication.instance()
    saved = list(style._theme)
    style._theme[:] = [style.DARK if request.param == "dark" else style.LIGHT]
    apply_theme(app)
    yield request.param
    style._theme[:] = saved
    apply_theme(app)


def _dragging(qtbot) -> tuple[Palette, int]:
    palette = Palette()
    qtbot.addWidget(palette)
    palette.resize(240, palette.height())
    palette.show()
    qtbot.waitExposed(palette)
    row = next(i for i in range(palette.count()) if palette.kind_at(i) == "send_template")
    palette.setCurrentRow(row)               # what pressing a row to drag it leaves behind
    palette.item(row).setSelected(True)
    return palette, row


def test_the_row_being_dragged_keeps_a_readable_label(themed, qtbot):
    palette, row = _dragging(qtbot)
    image = palette.grab().toImage()
    rect = palette.visualItemRect(palette.item(row))
    ratio = image.width() / palette.width()
    text_left = rect.left() + 44          # right of the 28-pixel icon and its padding
    assert label_contrast(image, int(text_left * ratio), int(rect.top() * ratio), int((rect.right() - 4) * ratio),
                          int(rect.bottom() * ratio)) >= WCAG_TEXT


def test_the_picture_that_follows_the_pointer_names_the_step_readably(themed, qtbot):
    palette, row = _dragging(qtbot)
    pixmap = palette.drag_pixmap(palette.item(row))
    image = pixmap.toImage()
    ratio = pixmap.devicePixelRatio()
    assert image.width() / ratio > 100                # the step's name, not a bare icon
    theme = style.theme()
    text_left = int(40 * ratio)                       # right of the icon
    assert label_contrast(image, text_left, 3, image.width() - 3, image.height() - 3) >= WCAG_TEXT
    card = image.pixelColor(text_left - 4, 4)
    assert card.rgb() == theme.card.rgb() and contrast(theme.card, theme.text) >= WCAG_TEXT


def test_every_row_of_the_palette_is_readable_selected_or_not(themed, qtbot):
    palette, _row = _dragging(qtbot)
    for row in range(palette.count()):
        palette.setCurrentRow(row)
        image = palette.grab().toImage()
        rect = palette.visualItemRect(palette.item(row))
        ratio = image.width() / palette.width()
        assert label_contrast(image, int((rect.left() + 44) * ratio), int(rect.top() * ratio),
                              int((rect.right() - 4) * ratio), int(rect.bottom() * ratio)) >= WCAG_TEXT, row


def test_starting_a_drag_hands_qt_the_readable_picture_and_the_kind(themed, qtbot, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QDrag

    from app.canvas.view import KIND_MIME

    started: list[QDrag] = []
    monkeypatch.setattr(QDrag, "exec", lambda drag, *a, **k: started.append(drag) or Qt.DropAction.CopyAction)
    palette, row = _dragging(qtbot)
    palette.startDrag(Qt.DropAction.CopyAction)
    [drag] = started
    assert bytes(drag.mimeData().data(KIND_MIME).data()) == b"send_template"
    image = drag.pixmap().toImage()
    ratio = drag.pixmap().devicePixelRatio()
    assert label_contrast(image, int(40 * ratio), 3, image.width() - 3, image.height() - 3) >= WCAG_TEXT
    assert 0 < drag.hotSpot().y() < image.height() / ratio

"""Toolbar and menu icons: small line drawings in resources/icons/ui, drawn in the
theme's text colour (the SVGs say `currentColor`, which Qt's renderer does not
resolve, so the colour is put in before rendering). Built once per name."""
from __future__ import annotations

import atexit
from functools import lru_cache

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.canvas.style import render_svg, theme
from app.paths import RESOURCES

UI_ICONS = RESOURCES / "icons" / "ui"


def _render(svg: bytes, colour: QColor, size: int) -> QPixmap:
    data = svg.replace(b"currentColor", colour.name().encode())
    return render_svg(QSvgRenderer(QByteArray(data)), size, ratio=2)


@lru_cache(maxsize=64)
def ui_icon(name: str) -> QIcon:
    """The named icon, with a softer variant for disabled actions."""
    svg = (UI_ICONS / f"{name}.svg").read_bytes()
    icon = QIcon()
    muted = QColor(theme().muted)
    muted.setAlpha(120)
    for size in (16, 20, 24):
        icon.addPixmap(_render(svg, theme().text, size), QIcon.Mode.Normal)
        icon.addPixmap(_render(svg, muted, size), QIcon.Mode.Disabled)
    return icon


@atexit.register
def _release() -> None:
    ui_icon.cache_clear()       # before the QApplication goes, as in app.canvas.style

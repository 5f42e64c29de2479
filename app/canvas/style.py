"""Canvas look: card geometry, theme colours, fonts and icon pixmaps, built once.

Painting reads everything from here, so no paint() builds fonts, metrics or
pixmaps; the light and dark themes differ only in this table.
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.paths import RESOURCES

# A card holds a title and a summary of up to two lines: NodeKind.summarize gives up to
# 60 characters ("Email · Thank you for your order, ‹first_name›"), which one line of a
# card narrow enough for the examples' 270-unit columns cannot hold without eliding.
CARD_W, CARD_H = 220.0, 84.0
RADIUS = 12.0
PORT_R = 6.0
CHIP = 26.0                  # the kind's icon chip
SUMMARY_LINES = 2
GRID = 20.0
LOD_FULL, LOD_TITLES = 0.55, 0.28   # below LOD_TITLES a card is a plain block
# The stats strip hangs below a card: it must end inside the 40-unit gap new steps are
# placed with (view._free_spot) and the auto-layout's ROW - CARD_H.
STATS_GAP = 4.0
STATS_LINES = 2


@dataclass(frozen=True)
class Theme:
    dark: bool
    canvas: QColor
    grid: QColor
    card: QColor
    card_border: QColor
    text: QColor
    muted: QColor
    selection: QColor
    edge: QColor
    note: QColor
    note_border: QColor
    error: QColor
    warning: QColor


LIGHT = Theme(False, QColor("#f6f7fb"), QColor("#e3e6ee"), QColor("#ffffff"), QColor("#d5d9e3"),
              QColor("#1f2937"), QColor("#5b6473"), QColor("#2f6fed"), QColor("#8a93a5"),
              QColor("#fff4b8"), QColor("#e8d67a"), QColor("#d93025"), QColor("#e08a00"))
DARK = Theme(True, QColor("#1e2129"), QColor("#2a2e38"), QColor("#2b303b"), QColor("#3d4452"),
             QColor("#eef0f4"), QColor("#a8b0bf"), QColor("#6b9bff"), QColor("#7d8799"),
             QColor("#5c5330"), QColor("#7a6e3a"), QColor("#ff6b5f"), QColor("#ffb340"))


def system_is_dark() -> bool:
    forced = os.environ.get("JOURNEY_STUDIO_THEME", "")     # "dark" / "light": for screenshots and tests
    if forced in ("dark", "light"):
        return forced == "dark"
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


_theme: list[Theme] = []


def theme() -> Theme:
    if not _theme:
        _theme.append(DARK if system_is_dark() else LIGHT)
    return _theme[0]


@dataclass(frozen=True)
class Fonts:
    title: QFont
    summary: QFont
    small: QFont
    big_title: QFont
    stats: QFont                 # the strip of numbers below a card: small, regular weight so it fits
    headline: QFont              # the same strip zoomed out: its first numbers, large enough to read
    title_metrics: QFontMetricsF
    summary_metrics: QFontMetricsF
    small_metrics: QFontMetricsF
    big_metrics: QFontMetricsF
    stats_metrics: QFontMetricsF
    headline_metrics: QFontMetricsF


@lru_cache(maxsize=1)
def fonts() -> Fonts:
    base = QGuiApplication.font()
    title = QFont(base)
    title.setPixelSize(13)
    title.setWeight(QFont.Weight.DemiBold)
    summary = QFont(base)
    summary.setPixelSize(12)
    small = QFont(base)
    small.setPixelSize(11)
    small.setWeight(QFont.Weight.DemiBold)
    big = QFont(base)
    big.setPixelSize(22)
    big.setWeight(QFont.Weight.Bold)
    stats = QFont(base)
    stats.setPixelSize(11)
    headline = QFont(base)
    headline.setPixelSize(17)      # about 9 px on screen at the zoom a six-step journey fits at
    return Fonts(title, summary, small, big, stats, headline, QFontMetricsF(title), QFontMetricsF(summary),
                 QFontMetricsF(small), QFontMetricsF(big), QFontMetricsF(stats), QFontMetricsF(headline))


def wrap_text(text: str, metrics: QFontMetricsF, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most `max_lines` lines; the last line is elided if the text
    does not fit. Done once per model change, never per paint."""
    words = text.split()
    if not words:
        return []
    lines: list[str] = []
    current = ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}" if current else word
        if not current or metrics.horizontalAdvance(candidate) <= width:
            current = candidate
            continue
        lines.append(current)
        if len(lines) == max_lines - 1:
            current = " ".join(words[i:])
            break
        current = word
    lines.append(current)
    # Eliding measures the whole line: a line of megabytes (a pasted document as a step's name) froze
    # the canvas for seconds. No glyph is narrower than half a pixel, so more never shows anyway.
    shown = int(2 * width) + 2
    return [metrics.elidedText(line[:shown], Qt.TextElideMode.ElideRight, width) for line in lines]


def balanced_wrap(text: str, metrics: QFontMetricsF, width: float) -> list[str]:
    """Two lines of even length where the text needs two ("Opened within / 24 h?", not
    "Opened within 24 / h?"); otherwise as `wrap_text` with two lines."""
    greedy = wrap_text(text, metrics, width, 2)
    words = text.split()
    if len(greedy) < 2 or len(words) < 2:
        return greedy
    splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    fitting = [pair for pair in splits if max(metrics.horizontalAdvance(p) for p in pair) <= width]
    if not fitting:
        return greedy
    return list(min(fitting, key=lambda pair: max(metrics.horizontalAdvance(p) for p in pair)))


def render_svg(renderer: QSvgRenderer, size: int, ratio: int = 1) -> QPixmap:
    """An SVG drawn onto a transparent, antialiased pixmap of `size` logical pixels."""
    pixmap = QPixmap(size * ratio, size * ratio)
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@lru_cache(maxsize=64)
def icon_pixmap(stem: str, size: int) -> QPixmap:
    """The kind's SVG icon rendered once per size (white strokes, for a coloured chip)."""
    return render_svg(QSvgRenderer(str(RESOURCES / "icons" / f"{stem}.svg")), size)


@lru_cache(maxsize=32)
def kind_icon(stem: str, colour: str, size: int = 28) -> QIcon:
    """The icon on its coloured chip, for the palette and menus."""
    pixmap = QPixmap(QSize(size, size) * 2)
    pixmap.setDevicePixelRatio(2)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.25, size * 0.25)
    inner = size * 0.64
    painter.drawPixmap(QRectF((size - inner) / 2, (size - inner) / 2, inner, inner), icon_pixmap(stem, 64),
                       QRectF(0, 0, 64, 64))
    painter.end()
    return QIcon(pixmap)


@atexit.register
def _release_cached_pixmaps() -> None:
    """Pixmaps, icons and fonts must go before the QApplication does; left to interpreter
    shutdown they are destroyed after it and the process crashes on exit."""
    icon_pixmap.cache_clear()
    kind_icon.cache_clear()
    fonts.cache_clear()

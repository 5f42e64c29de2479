"""The app's own typefaces: Inter for the interface, JetBrains Mono for templates.

They ship in `resources/fonts/` (Inter: SIL OFL 1.1; JetBrains Mono: Apache 2.0,
licences beside the files) and are registered with `QFontDatabase` at start, so
the window, the canvas cards and the editors render and measure the same on
every machine whatever fonts it happens to have installed (a machine with only
Noto Mono and Droid fallback laid a template out taller than its metrics said).
The point size still follows the desktop's, so a user's larger font setting is kept.
"""
from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

from app.paths import RESOURCES

FONTS = RESOURCES / "fonts"
UI_FAMILY = "Inter"
MONO_FAMILY = "JetBrains Mono"
_MIN_POINT_SIZE = 9.0

_registered: list[str] = []


def register_fonts() -> list[str]:
    """Registers every bundled font file once per process; returns the families found.

    Raises nothing: a missing or unreadable file leaves Qt's default in its place
    (the app still works, only its look depends on the machine again)."""
    if not _registered:
        for path in sorted(FONTS.glob("*.[ot]tf")):
            font_id = QFontDatabase.addApplicationFont(str(path))
            if font_id >= 0:
                _registered.extend(QFontDatabase.applicationFontFamilies(font_id))
        _registered[:] = list(dict.fromkeys(_registered))
    return list(_registered)


def install_app_fonts(app: QGuiApplication, point_size: float | None = None) -> QFont:
    """Makes Inter the application font (needs a QGuiApplication) and returns it.

    `point_size` defaults to the desktop's own size, at least 9 pt."""
    register_fonts()
    size = point_size if point_size is not None else max(_MIN_POINT_SIZE, app.font().pointSizeF())
    font = QFont(UI_FAMILY)
    font.setPointSizeF(size)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)   # same advances on every platform
    app.setFont(font)
    return font


def mono_font(point_size: float | None = None) -> QFont:
    """JetBrains Mono at the application font's size (templates are code-like: `{{ contact.first_name }}`)."""
    register_fonts()
    font = QFont(MONO_FAMILY)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSizeF(point_size if point_size is not None else
                       max(_MIN_POINT_SIZE, QGuiApplication.font().pointSizeF()))
    return font

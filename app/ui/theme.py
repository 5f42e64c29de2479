"""The application's look: Fusion with a light, friendly palette, or a dark one
when the system is dark; the canvas colours come from app.canvas.style."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.canvas.style import theme

_LIGHT = {"window": "#eef1f6", "base": "#ffffff", "alt": "#f5f7fa", "text": "#1f2937", "muted": "#6b7280",
          "button": "#ffffff", "highlight": "#2f6fed", "border": "#d5d9e3", "row": "#f5f7fb",
          "selected": "#e4ecfd"}
_DARK = {"window": "#23262e", "base": "#2b2f38", "alt": "#30343e", "text": "#eef0f4", "muted": "#a8b0bf",
         "button": "#343945", "highlight": "#4f7ff0", "border": "#3d4452", "row": "#30343e",
         "selected": "#34415e"}


def colours() -> dict[str, str]:
    return _DARK if theme().dark else _LIGHT


def apply_theme(app: QApplication) -> None:
    c = colours()
    app.setStyle("Fusion")
    palette = QPalette()
    role = QPalette.ColorRole
    for r, key in ((role.Window, "window"), (role.Base, "base"), (role.AlternateBase, "alt"),
                   (role.Text, "text"), (role.WindowText, "text"), (role.ButtonText, "text"),
                   (role.Button, "button"), (role.Highlight, "highlight"), (role.ToolTipBase, "base"),
                   (role.ToolTipText, "text"), (role.PlaceholderText, "muted")):
        palette.setColor(r, QColor(c[key]))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    # setColor(role, …) sets every colour group: put the disabled one back, so a disabled
    # button or field looks disabled (greyed text) instead of exactly like an enabled one.
    for r in (role.Text, role.WindowText, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, r, QColor(c["muted"]))
    app.setPalette(palette)
    app.setStyleSheet(f"""
        QLabel#heading {{ font-size: 16px; font-weight: 600; }}
        QLabel#section {{ font-weight: 600; padding-top: 10px; border-top: 1px solid {c['border']}; }}
        QLabel#help {{ color: {c['muted']}; }}
        QLabel#panelTitle {{ font-weight: 600; color: {c['muted']}; text-transform: uppercase; }}
        QFrame#row {{ background: {c['row']}; border: 1px solid {c['border']}; border-radius: 6px; }}
        QListWidget#palette, QListWidget#journeys, QListWidget#problems {{ border: none; background: {c['base']}; }}
        QListWidget#palette {{ outline: 0; }}
        QListWidget#palette::item {{ padding: 4px 6px; border-radius: 6px; }}
        QListWidget#palette::item:hover {{ background: {c['alt']}; }}
        QListWidget#problems::item {{ padding: 3px 6px; }}
        QListWidget#palette::item:selected, QListWidget#problems::item:selected {{
            background: {c['selected']}; color: {c['text']}; }}
        QSplitter::handle {{ background: {c['border']}; }}
        QStatusBar QLabel {{ padding: 0 8px; }}
        QToolButton#menuButton {{ padding: 2px 8px; }}
        QToolButton#menuButton::menu-indicator {{ image: none; width: 0px; }}
        QToolBar {{ border: none; spacing: 4px; padding: 3px 6px; }}
    """)

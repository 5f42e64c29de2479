"""The delivery items of the main window: File → Channels…, Journey → Messages with unknown fate…
(with a status-bar notice while there are any), and the inspector's "Send a test…" on send steps."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton

from .channels_page import open_channels
from .test_send_dialog import open_send_test
from .unknown_messages import UnknownFateAction

if TYPE_CHECKING:
    from .main_window import MainWindow


def _menu(window: "MainWindow", title: str) -> QMenu | None:
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text().replace("&", "") == title:
            return menu
    return None


def install_delivery_actions(window: "MainWindow") -> UnknownFateAction:
    """Adds the delivery actions to `window`'s menus (into `window.actions_` as "channels" and
    "unknown_fate") and connects the inspector's test sends; returns the unknown-fate controller."""
    engine = window.store.engine
    channels = QAction("Channels…", window)
    channels.setToolTip("Email, SMS and WhatsApp set-up, the mailbox for bounces and replies, and Test connection")
    channels.triggered.connect(lambda _=False: open_channels(window, engine))
    file_menu = _menu(window, "File")
    if file_menu is not None:
        settings = window.actions_.get("settings")
        after = next((a for a in file_menu.actions()[file_menu.actions().index(settings) + 1:]), None) \
            if settings in file_menu.actions() else None
        file_menu.insertAction(after, channels) if after is not None else file_menu.addAction(channels)
    unknown = QAction("Messages with unknown fate…", window)
    journey_menu = _menu(window, "Journey")
    if journey_menu is not None:
        journey_menu.addSeparator()
        journey_menu.addAction(unknown)
    badge = QPushButton()
    badge.setObjectName("unknownFate")
    badge.setFlat(True)
    badge.hide()
    window.statusBar().addWidget(badge)
    window.actions_["channels"], window.actions_["unknown_fate"] = channels, unknown
    window.inspector.test_send_requested.connect(lambda node_id: _send_test(window, node_id))
    return UnknownFateAction(window, engine, unknown, badge=badge)


def _send_test(window: "MainWindow", node_id: str) -> None:
    editor = window.editor
    if editor is None or node_id not in editor.journey.nodes:
        return
    try:
        open_send_test(window, window.store.engine, editor.journey, node_id)
    except Exception as exc:  # noqa: BLE001 - a journey that cannot be copied: say so, keep the window
        QMessageBox.warning(window, "Send a test", f"The test cannot be prepared.\n\n{exc}")

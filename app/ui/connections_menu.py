"""The connected shops in the main window: File → Connections… (after Channels…) and a status-bar
badge saying how they are ("Shop: live", "⚠ corner.myshopify.com: last poll failed"), read every
BADGE_MS on the background pool; a click on it opens the dialog (app/ui/connections_page.py)."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPushButton
from sqlalchemy.engine import Engine

from app.connectors.store import ShopConnection, list_connections

from .background import Background, background
from .channel_form import error_colour
from .connections_page import open_connections, status_words

BADGE_MS = 30_000


def badge_text(found: list[ShopConnection]) -> str:
    """The status bar's words for the connected shops: "" (none), "Shops: 2 live", "Shop: importing
    history", or "⚠ corner.myshopify.com: last poll failed" (the first failing one, and how many more)."""
    if not found:
        return ""
    failing = [c for c in found if c.failing]
    if failing:
        more = f" (+{len(failing) - 1} more)" if len(failing) > 1 else ""
        return f"⚠ {failing[0].address}: last poll failed{more}"
    if any(c.phase == "history" for c in found):
        return "Shops: importing history" if len(found) > 1 else "Shop: importing history"
    return f"Shops: {len(found)} live" if len(found) > 1 else "Shop: live"


class ConnectionsBadge(QPushButton):
    """The status bar's connector status, read every BADGE_MS on the background pool; a click opens the dialog."""

    def __init__(self, engine: Engine, open_dialog: Callable[[], object], pool: Background | None = None) -> None:
        super().__init__()
        self.setObjectName("connectionsBadge")
        self.setFlat(True)
        self.hide()
        self.engine = engine
        self.pool = pool or background()
        self.clicked.connect(lambda _=False: open_dialog())
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(BADGE_MS)
        QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        self.pool.run(lambda: list_connections(self.engine), self.show_connections, owner=self)

    def show_connections(self, found: list[ShopConnection]) -> None:
        text = badge_text(found)
        self.setText(text)
        self.setToolTip("\n".join(f"{c.address}: {status_words(c)}" + (f" — {c.last_error}" if c.last_error else "")
                                   for c in found))
        self.setStyleSheet(f"color: {error_colour()};" if text.startswith("⚠") else "")
        self.setVisible(bool(text))


def install_connections_action(window: Any) -> None:
    """Adds File → Connections… (after Channels…) to the main window, as `window.actions_["connections"]`,
    and the connectors' status to its status bar (`window.connections_badge`)."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu

    action = QAction("Connections…", window)
    action.setToolTip("Shops whose orders, customers and checkouts come in by themselves (Shopify, WooCommerce)")
    action.triggered.connect(lambda _=False: open_connections(window, window.store.engine))
    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu) and top.text().replace("&", "") == "File":
            actions = menu.actions()
            channels = window.actions_.get("channels")
            after = actions[actions.index(channels) + 1] if channels in actions and \
                actions.index(channels) + 1 < len(actions) else None
            menu.insertAction(after, action) if after is not None else menu.addAction(action)
    window.actions_["connections"] = action
    window.connections_badge = ConnectionsBadge(window.store.engine, action.trigger)
    window.statusBar().addPermanentWidget(window.connections_badge)

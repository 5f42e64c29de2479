"""Settings → Receiver: where the HTTP receiver listens, its token (show, copy, rotate), the public URL
with how to get one, the webhook signing secrets, and the dead-letter list with "Retry".

The app never opens a public port: the receiver listens on this computer (127.0.0.1 by default) and a
tunnel or reverse proxy the user runs makes it reachable (README, "The receiver"). Non-blocking like
the other dialogs (`open()`); the keyring and the retry run on a worker (app/ui/background.py).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QMenu,
                               QMessageBox, QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.delivery.checks import secret_state
from app.delivery.secrets import SecretsUnavailable, set_secret
from app.delivery.settings import PUBLIC_URL_KEY
from app.intake.config import (LISTEN_KEY, META_APP_SECRET, META_VERIFY_KEY, SHOPIFY_SECRET, WOOCOMMERCE_SECRET,
                               listen_address, parse_listen, receiver_token, rotate_token)
from app.store.app_settings import all_settings, set_setting

from .background import Background, background
from .channel_form import error_colour
from .dead_letters_view import DeadLettersView
from .form import form_label, help_label
from .wheel import guard_application

TUNNELS = ("Your computer usually has no address the internet can reach, and this app never opens a port to it. "
           "To let Shopify, WooCommerce, Twilio or Meta call the receiver, run a tunnel that gives it a public "
           "HTTPS address — Cloudflare Tunnel (<code>cloudflared tunnel --url http://{listen}</code>) or ngrok "
           "(<code>ngrok http {port}</code>) — or put it behind your own reverse proxy (Caddy, nginx) on a "
           "server. Paste the https:// address here. Without one, shops can still be read by polling "
           "(Settings → Connections) and delivery statuses are polled.")
SECRETS = ((SHOPIFY_SECRET, "Shopify webhook secret",
            "Shopify admin → Settings → Notifications → Webhooks: “Your webhooks will be signed with …”"),
           (WOOCOMMERCE_SECRET, "WooCommerce webhook secret",
            "WooCommerce → Settings → Advanced → Webhooks: the Secret of each webhook (use the same one)"),
           (META_APP_SECRET, "Meta app secret", "Meta for Developers → your app → App settings → Basic"))


def endpoints(public: str) -> list[tuple[str, str]]:
    """(what, URL) to paste into each platform, under the public URL (or the local address)."""
    return [("Shopify webhooks", f"{public}/hooks/shopify/<topic>  (e.g. …/hooks/shopify/checkouts/create)"),
            ("WooCommerce webhooks", f"{public}/hooks/woocommerce"),
            ("Segment-compatible tools", f"{public}/v1/batch  (write key: the token)"),
            ("Twilio status callback", f"{public}/hooks/twilio/status"),
            ("Meta WhatsApp webhook", f"{public}/hooks/meta")]


class ReceiverDialog(QDialog):
    """Edits the receiver's settings; `saved()` once they are stored."""

    saved = Signal()

    def __init__(self, engine: Engine, parent: QWidget | None = None, pool: Background | None = None) -> None:
        super().__init__(parent)
        guard_application()
        self.engine, self.pool = engine, pool or background()
        self.setWindowTitle("Receiver")
        self.setMinimumWidth(720)
        stored = all_settings(engine)
        column = QVBoxLayout(self)
        self.tabs = QTabWidget()
        column.addWidget(self.tabs)
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(help_label("Shops, trackers and message providers send events here as they happen. Every request "
                               "needs the token below (or the provider's signature), and is stored before it is "
                               "answered."))
        self.listen = QLineEdit(listen_address(engine))
        self.listen.setPlaceholderText("127.0.0.1:8765")
        form.addRow(form_label("Listens on"), self.listen)
        self.token = QLineEdit(receiver_token(engine))
        self.token.setReadOnly(True)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token = QPushButton("Show")
        self.show_token.setCheckable(True)
        self.show_token.toggled.connect(self._toggle_token)
        self.copy_token = QPushButton("Copy")
        self.copy_token.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.token.text()))
        self.rotate = QPushButton("Rotate…")
        self.rotate.clicked.connect(self._rotate)
        row = QHBoxLayout()
        row.addWidget(self.token, 1)
        for button in (self.show_token, self.copy_token, self.rotate):
            row.addWidget(button)
        form.addRow(form_label("Token"), row)
        self.public = QLineEdit(stored.get(PUBLIC_URL_KEY, ""))
        self.public.setPlaceholderText("https://journeys.example.com")
        self.public.textChanged.connect(self._show_endpoints)
        form.addRow(form_label("Public URL"), self.public)
        host_port = self.listen.text() or "127.0.0.1:8765"
        tunnels = help_label(TUNNELS.format(listen=host_port, port=host_port.rpartition(":")[2]))
        tunnels.setTextFormat(Qt.TextFormat.RichText)
        form.addRow(tunnels)
        self.endpoints = QLabel()
        self.endpoints.setObjectName("endpoints")
        self.endpoints.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.endpoints.setWordWrap(True)
        form.addRow(self.endpoints)
        self.secrets: dict[str, tuple[QLineEdit, QLabel]] = {}
        for name, title, where in SECRETS:
            field = QLineEdit()
            field.setEchoMode(QLineEdit.EchoMode.Password)
            field.setPlaceholderText("unchanged")
            state = help_label(where)
            box = QVBoxLayout()
            box.addWidget(field)
            box.addWidget(state)
            form.addRow(form_label(title), box)
            self.secrets[name] = (field, state)
        self.meta_verify = QLineEdit(stored.get(META_VERIFY_KEY, ""))
        self.meta_verify.setPlaceholderText("any text; type the same in Meta's webhook set-up")
        form.addRow(form_label("Meta verify token"), self.meta_verify)
        # In a scroll area: the wrapped help and addresses keep their full height on a small screen
        # (squeezed into a dialog the screen's height, their lines were cut off and overlapped).
        scroll = QScrollArea()
        scroll.setWidget(page)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tabs.addTab(scroll, "Receiver")
        self.dead = DeadLettersView(engine, self.pool)
        self.dead.counted.connect(lambda n: self.tabs.setTabText(1, f"Dead letters ({n})" if n else "Dead letters"))
        self.tabs.addTab(self.dead, "Dead letters")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        column.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        column.addWidget(self.buttons)
        self._show_endpoints()
        self._fit_screen(page)
        self.pool.run(lambda: {name: secret_state(name) for name, _t, _w in SECRETS}, self._secret_states, owner=self)
        self.dead.refresh()

    def _fit_screen(self, page: QWidget) -> None:
        """As tall as the page needs, at most 90 % of the screen (the page scrolls beyond)."""
        screen = self.screen().availableGeometry()
        width = max(self.minimumWidth(), min(860, screen.width() - 40))
        needed = page.heightForWidth(width - 40) if page.hasHeightForWidth() else page.sizeHint().height()
        chrome = 140                    # tabs, message line, buttons, margins
        self.resize(width, min(int(screen.height() * 0.9), max(needed, page.sizeHint().height()) + chrome))

    def _toggle_token(self, shown: bool) -> None:
        self.token.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token.setText("Hide" if shown else "Show")

    def _rotate(self) -> None:
        asked = QMessageBox.question(self, "Rotate the token?", "Every tool that sends to the receiver with the "
                                     "current token is refused from now on, until it is given the new one. Rotate?")
        if asked == QMessageBox.StandardButton.Yes:
            self.token.setText(rotate_token(self.engine))
            self._say("A new token was made; give it to the tools that send to the receiver.")

    def _show_endpoints(self) -> None:
        base = self.public.text().strip().rstrip("/") or f"http://{self.listen.text().strip() or '127.0.0.1:8765'}"
        where = "" if self.public.text().strip() else " (this computer only, until a public URL is set)"
        self.endpoints.setText(f"<b>Addresses to give each platform{where}:</b><br>" + "<br>".join(
            f"{what}: <code>{url.replace('<', '&lt;')}</code>" for what, url in endpoints(base)))

    def _secret_states(self, states: dict[str, tuple[str, str]]) -> None:
        for name, (state, words) in states.items():
            field, label = self.secrets[name]
            where = next(w for n, _t, w in SECRETS if n == name)
            label.setText(f"{words[:1].upper()}{words[1:]}. {where}.")
            field.setPlaceholderText("unchanged" if state in ("keyring", "environment") else "not set")

    def save(self) -> None:
        """Stores the address, public URL and verify token, and the secrets typed (in the keyring, on a
        worker); a value that cannot be used is said and nothing is stored."""
        listen = self.listen.text().strip()
        try:
            parse_listen(listen or "127.0.0.1:8765")
        except ValueError as exc:
            self._say(f"Nothing was saved: the address {exc}.", error=True)
            return
        public = self.public.text().strip().rstrip("/")
        if public and not public.startswith(("https://", "http://")):
            self._say("Nothing was saved: the public URL must start with https:// (what the tunnel shows).", error=True)
            return
        typed = {name: field.text() for name, (field, _l) in self.secrets.items() if field.text().strip()}
        self.buttons.setEnabled(False)
        self.pool.run(lambda: _store(self.engine, listen, public, self.meta_verify.text().strip(), typed),
                      self._stored, lambda exc: self._stored([str(exc)]), owner=self)

    def _stored(self, refused: list[str]) -> None:
        self.buttons.setEnabled(True)
        self.saved.emit()
        if not refused:
            self.accept()
            return
        self._say("The settings were saved, but not every secret: " + " ".join(refused), error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {error_colour()};" if error else "")
        self.message.setVisible(bool(text))


def _store(engine: Engine, listen: str, public: str, verify: str, typed: dict[str, str]) -> list[str]:
    set_setting(engine, LISTEN_KEY, listen or None)
    set_setting(engine, PUBLIC_URL_KEY, public or None)
    set_setting(engine, META_VERIFY_KEY, verify or None)
    refused = []
    for name, value in typed.items():
        try:
            set_secret(name, value.strip())
        except SecretsUnavailable as exc:
            refused.append(str(exc))
    return refused


def install_receiver_action(window: Any) -> QAction:
    """File → Receiver… after Channels… (into `window.actions_["receiver"]`)."""
    action = QAction("Receiver…", window)
    action.setToolTip("The HTTP receiver: its token, the public URL, webhook secrets and the dead-letter list")
    action.triggered.connect(lambda _=False: open_receiver(window, window.store.engine))
    channels = window.actions_.get("channels")
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if isinstance(menu, QMenu) and channels in menu.actions():
            following = menu.actions()[menu.actions().index(channels) + 1:]
            menu.insertAction(following[0], action) if following else menu.addAction(action)
            break
    window.actions_["receiver"] = action
    return action


def open_receiver(window: QWidget, engine: Engine) -> ReceiverDialog:
    """Shows the Receiver dialog without blocking; one at a time."""
    found: Any = window.findChild(ReceiverDialog)
    if found is not None and found.isVisible():
        found.raise_()
        found.activateWindow()
        return found
    dialog = ReceiverDialog(engine, window)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog

""""Send a test…" from a send step's inspector: the step's message, rendered for a chosen contact (or a
sample one), sent now through the real channel to an address the user types (remembered for next time),
marked [TEST], never counted, never held by quiet hours or caps.

Rendering and sending run on a worker thread (app/ui/background.py): templates are never rendered on the
GUI thread, and a slow server must not freeze the window. The journey is copied as it is on the canvas
(unsaved edits included), so the test shows what the step says now.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)
from sqlalchemy.engine import Engine

from app.delivery.base import DeliveryFailure, NotConfigured, Sent
from app.delivery.settings import load_settings
from app.delivery.test_send import (TEMPLATE_NOTE, PreparedTest, SendTestRefused, channel_word, check_recipient,
                                    prepare_test, remember_recipient, remembered_recipient, send_prepared, summary)
from app.journey.fileformat import from_document, to_document
from app.journey.model import Journey
from app.journey.node_kinds import whatsapp_template_step

from .background import Background, background
from .channel_form import error_colour, ok_colour
from .form import help_label
from .wheel import guard_application

_PLACEHOLDER = {"email": "you@shop.example", "sms": "+4915123456789", "whatsapp": "+4915123456789"}


class SendTestDialog(QDialog):
    """One step's test send; stays open to send again (another contact, another address)."""

    def __init__(self, engine: Engine, journey: Journey, node_id: str, parent: QWidget | None = None,
                 pool: Background | None = None) -> None:
        super().__init__(parent)
        guard_application()
        self.engine, self.pool = engine, pool or background()
        # A copy through the file format: later edits on the canvas do not reach the worker's copy.
        self.journey = from_document(to_document(journey), "the journey on the canvas")
        self.node = self.journey.nodes[node_id]
        self.channel = str(self.node.config.get("channel", "email"))
        self.setWindowTitle(f"Send a test — {self.node.title}")
        self.setMinimumWidth(520)
        column = QVBoxLayout(self)
        template = whatsapp_template_step(self.node.config)
        column.addWidget(help_label(
            f"Sends this {channel_word(self.channel)} step's message now"
            + (", " if template else ", marked [TEST], ") + f"through your {channel_word(self.channel)} channel. "
            "It is not counted in the statistics, and quiet hours and frequency caps do not hold it."
            + (f" {TEMPLATE_NOTE}" if template else "")))
        form = QFormLayout()
        self.to = QLineEdit(remembered_recipient(engine, self.channel))
        self.to.setObjectName("testTo")
        self.to.setPlaceholderText(f"e.g. {_PLACEHOLDER.get(self.channel, '')}")
        form.addRow("Send to" if self.channel == "email" else "Send to number", self.to)
        self.contact = QLineEdit()
        self.contact.setObjectName("testContact")
        self.contact.setPlaceholderText("a contact's id; empty: a sample contact with a cart")
        form.addRow("Render for", self.contact)
        column.addLayout(form)
        self.outcome = QLabel()
        self.outcome.setObjectName("testSendResult")
        self.outcome.setWordWrap(True)
        self.outcome.hide()
        column.addWidget(self.outcome)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.send_button = QPushButton("Send test")
        self.send_button.setDefault(True)
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.send_button.clicked.connect(self.send)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)

    def send(self) -> None:
        """Checks the address at once; renders and sends on a worker; the result shows below."""
        try:
            to = check_recipient(self.channel, self.to.text())
        except SendTestRefused as exc:
            text = str(exc).removeprefix("--to: ")
            self._show(f"✗ {text[:1].upper()}{text[1:]}", ok=False)
            return
        self.to.setText(to)
        contact = self.contact.text().strip() or None
        engine, journey, node_id = self.engine, self.journey, self.node.id
        self.send_button.setEnabled(False)
        self._show("Rendering and sending…", ok=None)

        def work() -> tuple[PreparedTest, Sent]:
            remember_recipient(engine, self.channel, to)
            prepared = prepare_test(engine, journey, node_id, to, contact)
            return prepared, send_prepared(load_settings(engine), prepared)

        self.pool.run(work, self._sent, self._failed, owner=self)

    def _sent(self, outcome: tuple[PreparedTest, Sent]) -> None:
        prepared, sent = outcome
        self.send_button.setEnabled(True)
        out = prepared.outgoing
        self._show(f"✓ Sent {summary(out)} to {out.recipient}, rendered for {prepared.contact} with {prepared.event}. "
                   f"The provider's id: {sent.provider_id or '(none given)'}.", ok=True)

    def _failed(self, exc: Exception) -> None:
        self.send_button.setEnabled(True)
        if isinstance(exc, DeliveryFailure):
            stage = "settings" if isinstance(exc, NotConfigured) else (exc.code or type(exc).__name__.lower())
            self._show(f"✗ Not sent ({stage}): {exc.text}", ok=False)
        else:
            self._show(f"✗ Not sent: {exc}", ok=False)

    def _show(self, text: str, *, ok: bool | None) -> None:
        colour = "" if ok is None else ok_colour() if ok else error_colour()
        self.outcome.setStyleSheet(f"color: {colour};" if colour else "")
        self.outcome.setText(text)
        self.outcome.show()
        # Grow to fit the wrapped words: a layout does not enlarge a shown dialog by itself, and the
        # intro above would be squeezed and cut off instead.
        self.resize(self.width(), max(self.height(), self.heightForWidth(self.width()),
                                      self.sizeHint().height()))


def open_send_test(window: QWidget, engine: Engine, journey: Journey, node_id: str) -> SendTestDialog:
    """Shows the test-send dialog for step `node_id` without blocking."""
    dialog = SendTestDialog(engine, journey, node_id, window)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog

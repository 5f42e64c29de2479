"""A message of a test run, shown as the contact would get it, in the preview's own MessageView
(email with HTML/text and desktop/mobile widths, SMS with its segment counter, WhatsApp template)."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from app.engine.test_run import TestMessage

from .message_view import MessageView

_CHANNEL = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp message"}


class MessageDialog(QDialog):
    def __init__(self, message: TestMessage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("testRunMessage")
        self.setWindowTitle(f"{_CHANNEL.get(message.channel, message.channel)} of the test run")
        # An email needs room for its HTML; a text message is a few lines: no wall of empty space.
        width, height = (680, 620) if message.channel == "email" else (560, 300)
        self.resize(width, height)
        column = QVBoxLayout(self)
        self.view = MessageView()
        self.view.show_message(message)
        column.addWidget(self.view, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)


def open_message(parent: QWidget, message: TestMessage) -> QDialog:
    """Shows `message` without blocking; returns the dialog."""
    dialog = MessageDialog(message, parent)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog

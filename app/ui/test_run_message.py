"""A message of a test run, shown as the contact would get it.

TEMPORARY (issue 11): at the merge this dialog is replaced by helper P's app/ui/message_view.MessageView,
which shows one rendered message (email / SMS with its counter / WhatsApp). Keep it small; only
`open_message(parent, message)` is called from outside (app/ui/test_run_panel.py).
"""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QPlainTextEdit, QTabWidget,
                               QTextBrowser, QVBoxLayout, QWidget)

from app.engine.test_run import TestMessage

_CHANNEL = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}


class MessageDialog(QDialog):
    def __init__(self, message: TestMessage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("testRunMessage")
        self.setWindowTitle(f"{_CHANNEL.get(message.channel, message.channel)} of the test run")
        self.resize(640, 560)
        column = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("To", QLabel(message.recipient))
        if message.subject is not None:
            subject = QLabel(message.subject)
            subject.setObjectName("heading")
            subject.setWordWrap(True)
            form.addRow("Subject", subject)
        template = message.whatsapp_template
        if template:
            form.addRow("Template", QLabel(f"{template.get('name', '')} ({template.get('language', '')})"))
        column.addLayout(form)
        tabs = QTabWidget()
        if message.html:
            browser = QTextBrowser()
            browser.setObjectName("messageHtml")
            browser.setOpenLinks(False)         # a test shows the message; it follows no link
            browser.setHtml(message.html)
            tabs.addTab(browser, "HTML")
        text = message.text
        if template and not text:
            text = "\n".join(f"{{{{{i}}}}} = {v}" for i, v in enumerate(template.get("variables", []), 1))
        if text:
            plain = QPlainTextEdit(text)
            plain.setObjectName("messageText")
            plain.setReadOnly(True)
            tabs.addTab(plain, "Text" if message.channel == "email" else f"Text · {len(text)} characters")
        column.addWidget(tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)


def open_message(parent: QWidget, message: TestMessage) -> QDialog:
    """Shows `message` without blocking; returns the dialog."""
    dialog = MessageDialog(message, parent)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog

"""One tab of Settings → Channels: a section's fields (app/delivery/setting_fields.py), its secret,
and its Test connection button with the result beside it.

Values are checked by the same code as `journeys channels set`, so the page and the CLI refuse the same
things with the same words. A secret is never shown: its field says where it comes from ("stored in
keyring", "from environment (JOURNEYS_…)", "not set") and takes a new one when typed.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from app.canvas.style import theme
from app.delivery.base import CheckResult
from app.delivery.secrets import ENVIRONMENT
from app.delivery.setting_fields import (SECRET_WORDS, SECTIONS, SettingError, SettingField, get_value, secret_for,
                                         set_value, shown)
from app.delivery.settings import DeliverySettings

from .form import help_label

STAGE_WORDS = {"dns": "Server not found", "connect": "No connection", "tls": "Encryption (TLS) failed",
               "auth": "Sign-in refused", "sender": "Sender not accepted", "settings": "Settings incomplete"}


def ok_colour() -> str:
    return "#5cc98a" if theme().dark else "#1e8e3e"


def error_colour() -> str:
    return "#ff8a8a" if theme().dark else "#c62828"


def result_text(result: CheckResult) -> str:
    """"✓ Signed in …" or "✗ Sign-in refused (auth): …"."""
    if result.ok:
        return f"✓ {result.detail}" if result.detail else "✓ Connected"
    words = STAGE_WORDS.get(result.stage, "Failed")
    return f"✗ {words} ({result.stage}): {result.detail}" if result.stage else f"✗ {result.detail}"


def _editor(f: SettingField) -> QWidget:
    if f.kind == "port":
        spin = QSpinBox()
        spin.setRange(1, 65535)
        spin.setMaximumWidth(110)
        return spin
    if f.kind == "choice":
        combo = QComboBox()
        for value, label in f.choices:
            combo.addItem(label, value)
        return combo
    line = QLineEdit()
    line.setPlaceholderText(f.placeholder)
    if f.kind in ("rate", "hours"):
        line.setMaximumWidth(110)
    return line


class SectionForm(QWidget):
    """The fields of one section (email, imap, sms, whatsapp, general) and, for a channel, its secret and
    Test connection. `test_requested(section)` when the button is pressed."""

    test_requested = Signal(str)

    def __init__(self, section: str, intro: str, testable: bool) -> None:
        super().__init__()
        self.section = section
        self.fields = SECTIONS[section]
        column = QVBoxLayout(self)
        column.setContentsMargins(14, 12, 14, 12)
        column.setSpacing(8)
        if intro:
            column.addWidget(help_label(intro))
        self.form = QFormLayout()
        self.form.setVerticalSpacing(7)
        self.form.setHorizontalSpacing(14)
        column.addLayout(self.form)
        self.editors: dict[str, QWidget] = {}
        for f in self.fields:
            editor = _editor(f)
            editor.setObjectName(f"{section}.{f.key}")
            if f.help:
                editor.setToolTip(f.help)
            self.editors[f.key] = editor
            self.form.addRow(f.label, editor)
        self.secret: QLineEdit | None = None
        self.secret_label = QLabel()
        self.secret_note = help_label("")
        self.secret_note.hide()
        if section != "general":
            self.secret = QLineEdit()
            self.secret.setObjectName(f"{section}.secret")
            self.secret.setEchoMode(QLineEdit.EchoMode.Password)
            self.secret.setPlaceholderText("checking the keyring…")
            self.form.addRow(self.secret_label, self.secret)
            self.form.addRow("", self.secret_note)
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {error_colour()};")
        self.error.hide()
        column.addWidget(self.error)
        self.test_button: QPushButton | None = None
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        if testable:
            row = QHBoxLayout()
            self.test_button = QPushButton("Test connection")
            self.test_button.setToolTip("Connects and signs in with the values on this page (saved or not)")
            self.test_button.clicked.connect(lambda: self.test_requested.emit(self.section))
            row.addWidget(self.test_button)
            row.addStretch(1)
            column.addLayout(row)
            column.addWidget(self.test_result)
        column.addStretch(1)
        provider = self.editors.get("provider")
        if isinstance(provider, QComboBox):
            provider.currentIndexChanged.connect(lambda _i: self._provider_changed())

    # --- values ---------------------------------------------------------------------------

    def load(self, settings: DeliverySettings) -> None:
        for f in self.fields:
            editor, value = self.editors[f.key], get_value(settings, f)
            if isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(value)))
            elif isinstance(editor, QLineEdit):
                editor.setText(shown(value))
        self._provider_changed()

    def text_of(self, key: str) -> str:
        editor = self.editors[key]
        if isinstance(editor, QSpinBox):
            return str(editor.value())
        if isinstance(editor, QComboBox):
            return str(editor.currentData())
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def apply(self, settings: DeliverySettings, *, mark: bool = True) -> list[SettingError]:
        """Writes every usable field's value into `settings` and returns the values that cannot be used
        (each marked on the page, with its sentence below the fields, unless not `mark`)."""
        errors = []
        for f in self.fields:
            try:
                set_value(settings, self.section, f.key, self.text_of(f.key))
                message = ""
            except SettingError as exc:
                errors.append(exc)
                message = exc.message
            if mark:
                self._mark(f.key, message)
        if mark:
            self.error.setText("\n".join(f"{self._label(e.key)}: {e.message}" for e in errors))
            self.error.setVisible(bool(errors))
        return errors

    def _label(self, key: str) -> str:
        return next((f.label for f in self.fields if f.key == key), key)

    def _mark(self, key: str, message: str) -> None:
        editor = self.editors[key]
        editor.setProperty("invalid", bool(message))
        editor.setStyleSheet(f"border: 1px solid {error_colour()};" if message else "")
        editor.setToolTip(message or next((f.help for f in self.fields if f.key == key), ""))

    def typed_secret(self) -> str | None:
        """A secret typed in this tab (to store, or to test with), else None."""
        return self.secret.text() if self.secret is not None and self.secret.text() else None

    def secret_name(self, settings: DeliverySettings) -> str | None:
        return secret_for(settings, self.section)

    def show_secret_state(self, name: str, state: str, words: str) -> None:
        """Says where the secret comes from, never what it is."""
        if self.secret is None:
            return
        self.secret_label.setText(SECRET_WORDS[name])
        placeholder = {"keyring": "stored in keyring — type to replace",
                       "environment": f"from environment ({ENVIRONMENT[name]})",
                       "missing": "not set"}.get(state, "not set")
        self.secret.setPlaceholderText(placeholder)
        if state == "unavailable":
            self.show_secret_note(f"This computer has no keyring to keep it in: set the environment variable "
                                  f"{ENVIRONMENT[name]} before starting the app (see the README, “Channels and "
                                  "secrets”).", error=True)
        elif state == "environment":
            self.show_secret_note(f"{ENVIRONMENT[name]} is set: it wins over anything stored in the keyring.")
        else:
            self.secret_note.hide()

    def show_secret_note(self, text: str, *, error: bool = False) -> None:
        self.secret_note.setText(text)
        self.secret_note.setStyleSheet(f"color: {error_colour()};" if error else "")
        self.secret_note.setVisible(bool(text))

    def show_result(self, result: CheckResult | None, text: str = "") -> None:
        """The last test's outcome beside the button (None: a test is running, `text` says so)."""
        if self.test_button is not None:
            self.test_button.setEnabled(result is not None)
        if result is None:
            self.test_result.setStyleSheet("")
            self.test_result.setText(text or "Testing…")
            return
        self.test_result.setStyleSheet(f"color: {ok_colour() if result.ok else error_colour()};")
        self.test_result.setText(result_text(result))

    def _provider_changed(self) -> None:
        """WhatsApp: only the chosen provider's fields are shown."""
        provider = self.editors.get("provider")
        if not isinstance(provider, QComboBox):
            return
        meta = provider.currentData() == "meta"
        for f in self.fields:
            if f.path[1:2] in (("meta",), ("twilio",)):
                self.form.setRowVisible(self.editors[f.key], (f.path[1] == "meta") == meta)
        self.provider_switched.emit()

    provider_switched = Signal()


def form_values(form: SectionForm) -> dict[str, Any]:
    """The typed text of every field (tests and screenshots read it)."""
    return {f.key: form.text_of(f.key) for f in form.fields}

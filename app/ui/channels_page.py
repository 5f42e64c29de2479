"""Settings → Channels: how messages leave (email over SMTP, SMS and WhatsApp through Twilio or Meta),
the mailbox where bounces and replies come back, and the public URL.

Non-blocking like the other dialogs (`open()`). Everything slow happens on a worker thread
(app/ui/background.py): reading where each secret comes from (a keyring may wait to be unlocked),
saving (a secret goes to the keyring), and each **Test connection**, which really connects and signs
in with the values on the page, saved or not, and shows ✓ or the failing stage and sentence.
"""
from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTabWidget, QVBoxLayout, QWidget
from sqlalchemy.engine import Engine

from app.delivery.base import CheckResult
from app.delivery.checks import check_channel, secret_state
from app.delivery.secrets import SecretsUnavailable, set_secret
from app.delivery.setting_fields import SECRET_WORDS
from app.delivery.settings import DeliverySettings, load_settings, save_settings

from .background import Background, background
from .channel_form import SectionForm, error_colour
from .wheel import guard_application, guard_wheel

TABS = (
    ("email", "Email", "Your email provider's SMTP server. Gmail and Microsoft 365 need an app password; Amazon "
                       "SES, Mailgun, Postmark and Brevo give SMTP credentials in their console.", True),
    ("imap", "Mailbox", "The sender's mailbox, read over IMAP: bounces become failed messages, replies become "
                        "replies, and mails to the unsubscribe address opt the contact out. Nothing is deleted.",
     True),
    ("sms", "SMS", "Text messages through Twilio's Messages API: the account SID and auth token from the Twilio "
                   "console, and a sender number or a Messaging Service.", True),
    ("whatsapp", "WhatsApp", "WhatsApp through Twilio or Meta's WhatsApp Cloud API. Outside the 24-hour window "
                             "after a customer wrote to you, only approved templates can be sent.", True),
    ("general", "General", "Public URL: where this app's receiver can be reached from the internet, if anywhere. "
                           "Without one, email, SMS and WhatsApp still go out, Twilio's statuses are fetched by "
                           "polling, and bounces, replies and unsubscribe mails are read from the mailbox. "
                           "One-click unsubscribe links, open and click tracking, and Meta's status webhooks "
                           "need one.", False),
)


class ChannelsDialog(QDialog):
    """The channels' settings; `saved()` once they are stored (and their secrets in the keyring)."""

    saved = Signal()

    def __init__(self, engine: Engine, parent: QWidget | None = None, pool: Background | None = None) -> None:
        super().__init__(parent)
        guard_application()
        self.engine = engine
        self.pool = pool or background()
        self.setWindowTitle("Channels")
        self.setMinimumWidth(620)
        self.settings = load_settings(engine)
        column = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.forms: dict[str, SectionForm] = {}
        for section, title, intro, testable in TABS:
            form = SectionForm(section, intro, testable)
            form.load(self.settings)
            form.test_requested.connect(self.test)
            form.provider_switched.connect(self._refresh_secrets)
            self.forms[section] = form
            self.tabs.addTab(form, title)
        guard_wheel(self.tabs)         # the wheel changes a port or a choice only once it has focus
        column.addWidget(self.tabs)
        self.message = QLabel()
        self.message.setObjectName("saveMessage")
        self.message.setWordWrap(True)
        self.message.hide()
        column.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        column.addWidget(self.buttons)
        self._refresh_secrets()

    # --- secrets' sources ---------------------------------------------------------------

    def _secret_names(self) -> dict[str, str]:
        """Each tab's secret, for the provider now chosen on the page."""
        current = self._from_page()
        return {section: name for section, form in self.forms.items()
                if (name := form.secret_name(current)) is not None}

    def _refresh_secrets(self) -> None:
        names = self._secret_names()
        for section, name in names.items():         # the label at once; where it comes from, once looked up
            self.forms[section].secret_label.setText(SECRET_WORDS[name])
        self.pool.run(lambda: {section: (name, *secret_state(name)) for section, name in names.items()},
                      self._show_secrets, owner=self)

    def _show_secrets(self, states: dict[str, tuple[str, str, str]]) -> None:
        for section, (name, state, words) in states.items():
            self.forms[section].show_secret_state(name, state, words)

    # --- values on the page -------------------------------------------------------------------

    def _from_page(self) -> DeliverySettings:
        """The settings as on the page (a field that cannot be used keeps its stored value), unmarked."""
        settings = copy.deepcopy(self.settings)
        for form in self.forms.values():
            form.apply(settings, mark=False)
        return settings

    def _errors(self, settings: DeliverySettings) -> dict[str, list[Any]]:
        found = {section: form.apply(settings) for section, form in self.forms.items()}
        return {section: errors for section, errors in found.items() if errors}

    # --- Test connection -------------------------------------------------------------------------

    def test(self, section: str) -> None:
        """Tests `section`'s channel with the page's values on a worker thread; the result shows beside
        the button. A value that cannot be used is said at once, without connecting."""
        form = self.forms[section]
        settings = copy.deepcopy(self.settings)
        for other in self.forms.values():
            if other is not form:
                other.apply(settings, mark=False)
        errors = form.apply(settings)
        if errors:
            form.show_result(CheckResult(False, "settings", "; ".join(str(e) for e in errors)))
            return
        secret = form.typed_secret()
        form.show_result(None, "Testing… (this may take up to half a minute)")
        # The module's check_channel, looked up when run: tests replace it to see which thread runs it.
        self.pool.run(lambda: _check(settings, section, secret), form.show_result,
                      lambda exc: form.show_result(CheckResult(False, "connect", str(exc))), owner=self)

    # --- Save -------------------------------------------------------------------------------------

    def save(self) -> None:
        """Checks every value (a bad one is marked on its tab and nothing is stored), then stores the
        settings and any secret typed, on a worker. Closes when all went in; when a secret could not
        be kept (no keyring) the settings are stored, the dialog stays open and says what to do."""
        settings = copy.deepcopy(self.settings)
        errors = self._errors(settings)
        if errors:
            first = next(iter(errors))
            self.tabs.setCurrentWidget(self.forms[first])
            self._say(f"Nothing was saved: {sum(len(e) for e in errors.values())} value(s) to correct "
                      f"(marked on the {', '.join(t for s, t, _i, _x in TABS if s in errors)} tab).", error=True)
            return
        typed = {}
        for section, form in self.forms.items():
            name, value = form.secret_name(settings), form.typed_secret()
            if name is not None and value:
                typed[section] = (name, value)
        self.buttons.setEnabled(False)
        self._say("Saving…")
        self.pool.run(lambda: _store(self.engine, settings, typed), lambda refused: self._stored(settings, refused),
                      self._not_stored, owner=self)

    def _stored(self, settings: DeliverySettings, refused: dict[str, str]) -> None:
        self.buttons.setEnabled(True)
        self.settings = settings
        for section, form in self.forms.items():
            if form.secret is not None and section not in refused:
                form.secret.clear()
        self._refresh_secrets()
        self.saved.emit()
        if not refused:
            self.accept()
            return
        for section, text in refused.items():
            self.forms[section].show_secret_note(text, error=True)
        self.tabs.setCurrentWidget(self.forms[next(iter(refused))])
        self._say("The settings were saved, but not every secret: see the message under it.", error=True)

    def _not_stored(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self._say(f"Nothing was saved: {exc}", error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {error_colour()};" if error else "")
        self.message.setVisible(bool(text))


def _check(settings: DeliverySettings, section: str, secret: str | None) -> CheckResult:
    return check_channel(settings, section, secret)


def _store(engine: Engine, settings: DeliverySettings, typed: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Stores the settings, then each typed secret in the keyring; returns, per tab, why a secret could
    not be kept (the sentence names the environment variable to use instead)."""
    save_settings(engine, settings)
    refused: dict[str, str] = {}
    done: set[str] = set()
    for section, (name, value) in typed.items():
        if name in done:
            continue
        try:
            set_secret(name, value)
            done.add(name)
        except SecretsUnavailable as exc:
            refused[section] = f"The {SECRET_WORDS[name]} was not stored: {exc}"
    return refused


def open_channels(window: QWidget, engine: Engine) -> ChannelsDialog:
    """Shows the Channels dialog without blocking; one at a time."""
    found = window.findChild(ChannelsDialog)
    if found is not None and found.isVisible():
        found.raise_()
        found.activateWindow()
        return found
    dialog = ChannelsDialog(engine, window)
    dialog.finished.connect(dialog.deleteLater)
    dialog.open()
    return dialog

"""Settings → Channels, Send a test… and the messages with unknown fate, in the real window (offscreen):
fields save and load, secrets go to the keyring and are never shown, Test connection runs off the GUI
thread and shows the failing stage, a test send goes through the channel on a worker, Resend asks first."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QPushButton

from app.delivery.base import CheckResult, Sent
from app.delivery.secrets import SMTP_PASSWORD, get_secret
from app.delivery.settings import load_settings
from app.store.tables import messages
from app.ui import channels_page, test_send_dialog
from app.ui.background import background
from app.ui.channels_page import ChannelsDialog
from app.ui.test_send_dialog import SendTestDialog
from tests.delivery.keyrings import _no_secret_variables, file_keyring, no_keyring  # noqa: F401 - fixtures

SECRET = "s3cret-never-on-screen"


def _idle(qtbot) -> None:
    qtbot.waitUntil(lambda: not background().busy(), timeout=10_000)


@pytest.fixture
def dialog(qtbot, window):
    window.actions_["channels"].trigger()            # File → Channels…: returns at once
    found = window.findChild(ChannelsDialog)
    assert found is not None and found.isVisible()
    _idle(qtbot)
    return found


def _type(dialog: ChannelsDialog, section: str, key: str, text: str) -> None:
    editor = dialog.forms[section].editors[key]
    if isinstance(editor, QLineEdit):
        editor.setText(text)
    elif hasattr(editor, "setValue"):
        editor.setValue(int(text))
    else:
        editor.setCurrentIndex(editor.findData(text))


def test_fields_save_and_load(qtbot, window, dialog, file_keyring):
    _type(dialog, "email", "host", "smtp.gmail.com")
    _type(dialog, "email", "port", "465")
    _type(dialog, "email", "security", "tls")
    _type(dialog, "email", "sender", "Corner Shop <hello@shop.example>")
    _type(dialog, "imap", "host", "imap.gmail.com")
    _type(dialog, "sms", "sender", "+1 500 555 0006")
    _type(dialog, "whatsapp", "provider", "meta")
    _type(dialog, "whatsapp", "phone_number_id", "106540352242922")
    _type(dialog, "general", "public_url", "https://shop.example/js")
    dialog.forms["email"].secret.setText(SECRET)
    with qtbot.waitSignal(dialog.finished, timeout=10_000):      # saved on a worker, then closed
        dialog.save()
    settings = load_settings(window.store.engine)
    assert (settings.email.host, settings.email.port, settings.email.security) == ("smtp.gmail.com", 465, "tls")
    assert settings.sms.twilio.sender == "+15005550006" and settings.whatsapp.provider == "meta"
    assert settings.whatsapp.meta.phone_number_id == "106540352242922" and settings.imap.host == "imap.gmail.com"
    assert settings.public_url == "https://shop.example/js"
    assert get_secret(SMTP_PASSWORD) == SECRET
    again = ChannelsDialog(window.store.engine, window)
    qtbot.addWidget(again)
    _idle(qtbot)
    email = again.forms["email"]
    assert email.text_of("host") == "smtp.gmail.com" and email.text_of("port") == "465"
    assert email.text_of("security") == "tls" and again.forms["whatsapp"].text_of("provider") == "meta"
    assert email.secret.text() == "" and email.secret.placeholderText().startswith("stored in keyring")
    assert email.secret.echoMode() == QLineEdit.EchoMode.Password
    assert not any(SECRET in label.text() for label in again.findChildren(type(again.message)))


def test_a_bad_value_is_marked_and_nothing_is_saved(qtbot, window, dialog):
    _type(dialog, "email", "host", "smtp.gmail.com")
    _type(dialog, "sms", "sender", "0151 2345678")
    dialog.save()
    assert dialog.isVisible() and "Nothing was saved" in dialog.message.text() and "SMS" in dialog.message.text()
    assert dialog.tabs.currentWidget() is dialog.forms["sms"]
    assert dialog.forms["sms"].error.isVisibleTo(dialog) and "Sender number" in dialog.forms["sms"].error.text()
    assert dialog.forms["sms"].editors["sender"].property("invalid") is True
    assert load_settings(window.store.engine).email.host == ""


def test_without_a_keyring_the_password_is_not_kept_and_the_variable_is_named(qtbot, window, dialog, no_keyring):
    _idle(qtbot)
    email = dialog.forms["email"]
    assert "JOURNEYS_SMTP_PASSWORD" in email.secret_note.text() and email.secret_note.isVisibleTo(dialog)
    _type(dialog, "email", "host", "smtp.gmail.com")
    email.secret.setText(SECRET)
    dialog.save()
    qtbot.waitUntil(lambda: "not every secret" in dialog.message.text(), timeout=10_000)
    assert dialog.isVisible() and "JOURNEYS_SMTP_PASSWORD" in email.secret_note.text()
    assert load_settings(window.store.engine).email.host == "smtp.gmail.com"      # the rest was saved
    assert SECRET not in email.secret_note.text() + dialog.message.text()


def test_test_connection_runs_off_the_gui_thread_and_shows_the_settings_stage(qtbot, dialog, monkeypatch):
    threads: list[threading.Thread] = []
    release = threading.Event()
    real = channels_page.check_channel

    def watched(settings, name, secret=None):
        threads.append(threading.current_thread())
        release.wait(10)              # a slow server: the window must go on meanwhile
        return real(settings, name, secret)

    monkeypatch.setattr(channels_page, "check_channel", watched)
    email = dialog.forms["email"]
    qtbot.mouseClick(email.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)
    assert email.test_result.text().startswith("Testing") and not email.test_button.isEnabled()
    _type(dialog, "email", "username", "still typing")        # the GUI answers while the test waits
    release.set()
    qtbot.waitUntil(lambda: email.test_button.isEnabled(), timeout=10_000)
    assert threads[0] is not threading.main_thread()
    assert email.test_result.text().startswith("✗ Settings incomplete (settings): No SMTP server is set")


def test_test_connection_shows_success_and_each_stage(qtbot, dialog, monkeypatch):
    answers = iter([CheckResult(True, "", "Signed in to smtp.gmail.com."),
                    CheckResult(False, "auth", "535 5.7.8 Username and Password not accepted.")])
    monkeypatch.setattr(channels_page, "check_channel", lambda settings, name, secret=None: next(answers))
    email = dialog.forms["email"]
    _type(dialog, "email", "host", "smtp.gmail.com")
    email.test_button.click()
    qtbot.waitUntil(lambda: email.test_result.text().startswith("✓"), timeout=10_000)
    assert "Signed in" in email.test_result.text()
    email.test_button.click()
    qtbot.waitUntil(lambda: email.test_result.text().startswith("✗"), timeout=10_000)
    assert "Sign-in refused (auth)" in email.test_result.text()


def test_a_value_that_cannot_be_used_is_said_without_connecting(qtbot, dialog, monkeypatch):
    monkeypatch.setattr(channels_page, "check_channel", lambda *a, **k: pytest.fail("must not connect"))
    _type(dialog, "sms", "account_sid", "AC123")
    dialog.forms["sms"].test_button.click()
    assert "account_sid" in dialog.forms["sms"].test_result.text() and "(settings)" in dialog.forms["sms"].test_result.text()


def test_whatsapp_shows_the_chosen_providers_fields(qtbot, dialog):
    form = dialog.forms["whatsapp"]
    _type(dialog, "whatsapp", "provider", "meta")
    assert form.form.isRowVisible(form.editors["phone_number_id"]) and not form.form.isRowVisible(form.editors["account_sid"])
    _idle(qtbot)
    assert form.secret_label.text() == "Meta access token"
    _type(dialog, "whatsapp", "provider", "twilio")
    assert form.form.isRowVisible(form.editors["account_sid"])


# --- Send a test… ------------------------------------------------------------------------------------------------

def _send_step(window):
    return next(n for n in window.editor.journey.nodes.values() if n.kind == "send_template"
                and n.config["channel"] == "email")


def test_send_a_test_from_the_inspector_on_a_worker(qtbot, window, monkeypatch):
    node = _send_step(window)
    window.inspector.show_target(node.id)
    button = window.inspector.findChild(QPushButton, "sendTest")
    assert button is not None and button.isVisibleTo(window.inspector)
    undo_before = window.editor.doc.undo_stack.count()
    button.click()
    dialog = window.findChild(SendTestDialog)
    assert dialog is not None and dialog.isVisible()
    threads: list[threading.Thread] = []

    def fake_send(settings, prepared):
        threads.append(threading.current_thread())
        assert prepared.outgoing.test and prepared.outgoing.subject.startswith("[TEST] ")
        return Sent("<abc@shop.example>")

    monkeypatch.setattr(test_send_dialog, "send_prepared", fake_send)
    dialog.to.setText("not an address")
    dialog.send()
    assert "email address" in dialog.outcome.text() and not threads
    dialog.to.setText("Me@Shop.Example")
    dialog.send()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("✓"), timeout=10_000)
    assert threads and threads[0] is not threading.main_thread()
    assert "<abc@shop.example>" in dialog.outcome.text() and "sample contact" in dialog.outcome.text()
    assert window.editor.doc.undo_stack.count() == undo_before            # a test send is no journey edit
    again = SendTestDialog(window.store.engine, window.editor.journey, node.id, window)
    qtbot.addWidget(again)
    assert again.to.text() == "Me@shop.example"                          # remembered


def test_a_failed_test_send_says_the_stage(qtbot, window):
    node = _send_step(window)
    dialog = SendTestDialog(window.store.engine, window.editor.journey, node.id, window)
    qtbot.addWidget(dialog)
    dialog.to.setText("me@shop.example")
    dialog.send()                     # no channel is set up
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("✗"), timeout=10_000)
    assert "Not sent (settings)" in dialog.outcome.text() and "No SMTP server is set" in dialog.outcome.text()
    dialog.contact.setText("nobody-by-this-id")
    dialog.send()
    qtbot.waitUntil(lambda: "nobody-by-this-id" in dialog.outcome.text(), timeout=10_000)


def test_a_whatsapp_template_test_says_what_went_and_that_it_cannot_be_marked(qtbot, window, monkeypatch):
    node = _send_step(window)
    node.config.update(channel="whatsapp", wa_mode="template", wa_template="order_update", wa_language="en_US",
                       wa_variables=[{"value": "{{ contact.first_name }}"}, {"value": "{{ event.order_id }}"}])
    dialog = SendTestDialog(window.store.engine, window.editor.journey, node.id, window)
    qtbot.addWidget(dialog)
    dialog.show()
    intro = dialog.findChild(QLabel, "help")
    assert "cannot carry [TEST]" in intro.text() and "marked [TEST]" not in intro.text()
    monkeypatch.setattr(test_send_dialog, "send_prepared", lambda settings, prepared: Sent("wamid.T1"))
    dialog.to.setText("+4915123456789")
    dialog.send()
    qtbot.waitUntil(lambda: dialog.outcome.text().startswith("✓"), timeout=10_000)
    text = dialog.outcome.text()
    assert "the WhatsApp template order_update (en_US) with {{1}} = Alex, {{2}} = SAMPLE-1001" in text
    assert "“”" not in text and "wamid.T1" in text
    qtbot.wait(50)
    for label in (intro, dialog.outcome):           # the dialog grew: no line of either is cut off
        assert label.height() >= label.heightForWidth(label.width())


# --- Messages with unknown fate -----------------------------------------------------------------------------

def _unknown(window, key: str) -> int:
    from datetime import datetime, timezone

    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with window.store.engine.begin() as conn:
        return int(conn.execute(messages.insert().values(
            idempotency_key=key, channel="email", recipient="ann@example.com", subject="Your cart", status="unknown",
            created_at=now, scheduled_at=now, error="no answer after DATA")).inserted_primary_key[0])


def _status(window, mid: int) -> str:
    from sqlalchemy import select

    with window.store.engine.connect() as conn:
        return conn.execute(select(messages.c.status).where(messages.c.id == mid)).scalar_one()


def test_the_unknown_fate_list_resends_after_asking(qtbot, window, monkeypatch):
    first, second = _unknown(window, "k1"), _unknown(window, "k2")
    window.unknown_fate.refresh()
    qtbot.waitUntil(lambda: window.unknown_fate.count == 2, timeout=10_000)
    assert "(2)" in window.actions_["unknown_fate"].text()
    badge = window.findChild(QPushButton, "unknownFate")
    assert badge.isVisibleTo(window) and "2 messages with unknown fate" in badge.text()
    window.actions_["unknown_fate"].trigger()
    from app.ui.unknown_messages import UnknownMessagesDialog

    dialog = window.findChild(UnknownMessagesDialog)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
    asked: list[str] = []

    def answer(reply):
        def question(parent, title, text, *args):
            asked.append(text)
            return reply
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    dialog.findChild(QPushButton, f"resend:{first}").click()
    assert "twice" in asked[-1] and _status(window, first) == "unknown"
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    dialog.findChild(QPushButton, f"resend:{first}").click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=10_000)
    assert _status(window, first) == "queued" and _status(window, second) == "unknown"
    dialog.reject()
    qtbot.waitUntil(lambda: window.unknown_fate.count == 1, timeout=10_000)


def test_a_refresh_asked_while_a_count_is_under_way_counts_again(qtbot, window):
    """The count started before a message's fate became unknown must not be the last word until the
    next half-minute round: a refresh asked meanwhile counts again once it finishes."""
    from PySide6.QtGui import QAction

    from app.ui.unknown_messages import UnknownFateAction

    class HeldPool:
        def __init__(self) -> None:
            self.waiting: list = []

        def run(self, work, done, failed, owner=None) -> None:  # noqa: ANN001
            self.waiting.append((work, done))

        def finish_one(self) -> None:
            work, done = self.waiting.pop(0)
            done(work())

    pool = HeldPool()
    fate = UnknownFateAction(window, window.store.engine, QAction(window), pool)
    assert len(pool.waiting) == 1                          # the first count, still under way
    _unknown(window, "k1")
    fate.refresh()                                         # asked while counting: not dropped
    pool.finish_one()                                      # the first count (it may have seen nothing)
    assert len(pool.waiting) == 1
    pool.finish_one()
    assert fate.count == 1 and not pool.waiting
    fate.timer.stop()

"""File → Receiver…: the token shown only on request, copied and rotated; the public URL with the
addresses to give each platform; secrets kept in the keyring; the dead-letter list with Retry."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit, QMessageBox

from app.delivery.secrets import get_secret
from app.intake.apply import apply_pending
from app.intake.config import SHOPIFY_SECRET, receiver_token
from app.intake.inbox import InboxRow, write_rows
from app.engine.engine import JourneyEngine
from app.store.app_settings import all_settings
from app.ui.background import background
from app.ui.receiver_page import ReceiverDialog
from tests.delivery.keyrings import _no_secret_variables, file_keyring  # noqa: F401 - fixtures


def _idle(qtbot) -> None:
    qtbot.waitUntil(lambda: not background().busy(), timeout=10_000)


@pytest.fixture
def dialog(qtbot, window) -> ReceiverDialog:
    window.actions_["receiver"].trigger()
    found = window.findChild(ReceiverDialog)
    assert found is not None and found.isVisible()
    _idle(qtbot)
    return found


def test_the_token_is_hidden_until_shown_copied_whole_and_rotated_after_asking(qtbot, window, dialog,
                                                                           monkeypatch) -> None:
    engine = window.store.engine
    assert dialog.token.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.token.text() == receiver_token(engine)
    dialog.show_token.click()
    assert dialog.token.echoMode() == QLineEdit.EchoMode.Normal and dialog.show_token.text() == "Hide"
    dialog.copy_token.click()
    assert QGuiApplication.clipboard().text() == receiver_token(engine)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    dialog.rotate.click()
    assert dialog.token.text() == receiver_token(engine)                  # not asked for: unchanged
    old = receiver_token(engine)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.rotate.click()
    assert receiver_token(engine) != old and dialog.token.text() == receiver_token(engine)


def test_public_url_and_secret_are_saved_and_the_addresses_follow_the_url(qtbot, window, dialog, file_keyring) -> None:
    assert "http://127.0.0.1:8765/hooks/woocommerce" in dialog.endpoints.text()
    dialog.public.setText("https://shop-events.trycloudflare.com/")
    assert "https://shop-events.trycloudflare.com/hooks/shopify/" in dialog.endpoints.text()
    dialog.secrets[SHOPIFY_SECRET][0].setText("shpss_from_the_admin")
    dialog.meta_verify.setText("verify-me")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.save()
    stored = all_settings(window.store.engine)
    assert stored["public_url"] == "https://shop-events.trycloudflare.com"
    assert stored["receiver.meta_verify_token"] == "verify-me"
    assert get_secret(SHOPIFY_SECRET) == "shpss_from_the_admin"


def test_a_bad_address_or_url_is_said_and_nothing_is_saved(qtbot, window, dialog) -> None:
    dialog.listen.setText("localhost")
    dialog.save()
    assert dialog.isVisible() and "HOST:PORT" in dialog.message.text()
    dialog.listen.setText("127.0.0.1:8765")
    dialog.public.setText("ftp://example.com")
    dialog.save()
    assert dialog.isVisible() and "https://" in dialog.message.text()
    assert "public_url" not in all_settings(window.store.engine)


def test_dead_letters_are_listed_with_their_reason_and_retried(qtbot, window) -> None:
    engine = window.store.engine
    write_rows(engine, [InboxRow("twilio", "status", "twilio:SMlate:delivered",
                                 json.dumps({"MessageSid": "SMlate", "MessageStatus": "delivered"}))],
               datetime.now(timezone.utc))
    apply_pending(JourneyEngine(engine))
    window.actions_["receiver"].trigger()
    dialog = window.findChild(ReceiverDialog)
    _idle(qtbot)
    assert dialog.tabs.tabText(1) == "Dead letters (1)"
    assert dialog.dead.table.topLevelItemCount() == 1
    assert "SMlate" in dialog.dead.detail.text() and "did not send" in dialog.dead.detail.text()
    dialog.dead.retry_button.click()
    _idle(qtbot)
    qtbot.waitUntil(lambda: dialog.dead.status.text().startswith("Retried 1"), timeout=10_000)
    assert "1 still set aside" in dialog.dead.status.text()      # the message is still unknown: kept, not lost
    assert dialog.dead.table.topLevelItemCount() == 1

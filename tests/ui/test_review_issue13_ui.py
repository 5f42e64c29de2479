"""Review of issue 13's windows as a shop owner sees them: nothing clipped on a small screen, the
connections findable under Settings, times in the user's own zone, a removal asked before it is done."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QScrollArea

from app.ui.background import background


def _idle(qtbot) -> None:
    qtbot.waitUntil(lambda: not background().busy(), timeout=20_000)


def _clipped(widget) -> list[str]:
    """The word-wrapped labels shown shorter than their text needs (lines cut off or overlapping)."""
    cut = []
    for label in widget.findChildren(QLabel):
        if label.isVisibleTo(widget) and label.wordWrap() and label.text() and label.width() > 0 \
                and label.height() < label.heightForWidth(label.width()):
            cut.append(label.text()[:60])
    return cut


def test_the_receiver_page_shows_every_line_of_its_help_and_addresses(qtbot, window):
    """On a small screen the Receiver page squeezed its wrapped texts into each other: the tunnel help,
    all the platform addresses but the first, and the secrets' hints were cut off. Now it scrolls."""
    from app.ui.receiver_page import ReceiverDialog

    window.actions_["receiver"].trigger()
    dialog = window.findChild(ReceiverDialog)
    _idle(qtbot)
    qtbot.waitUntil(lambda: "Meta WhatsApp webhook" in dialog.endpoints.text())
    qtbot.wait(50)
    page = dialog.tabs.widget(0)
    assert _clipped(page) == []
    screen = dialog.screen().availableGeometry()
    assert dialog.height() <= screen.height()              # fits the screen; the page scrolls instead
    assert isinstance(page, QScrollArea) or page.findChild(QScrollArea) is not None


def test_connections_are_found_under_settings_as_the_issue_says(qtbot, window):
    """Issue 13 and the README send the user to "Settings → Connections"; the app had them only under
    File. The Settings dialog now opens them (and the Receiver) too."""
    from app.ui.connections_page import ConnectionsDialog
    from app.ui.receiver_page import ReceiverDialog

    from app.ui.settings_dialog import SettingsDialog

    window.actions_["settings"].trigger()
    _idle(qtbot)
    settings = [d for d in window.findChildren(SettingsDialog) if d.isVisible()][-1]
    assert settings.connections_button is not None and settings.connections_button.text() == "Connections…"
    settings.connections_button.click()
    _idle(qtbot)
    assert window.findChild(ConnectionsDialog) is not None and window.findChild(ConnectionsDialog).isVisible()
    settings.receiver_button.click()
    _idle(qtbot)
    assert window.findChild(ReceiverDialog) is not None and window.findChild(ReceiverDialog).isVisible()


def test_removing_a_shop_asks_first_and_cancel_keeps_it(qtbot, window):
    """One click on Remove disconnected the shop at once and threw its token away; now it asks."""
    from datetime import datetime, timezone

    from PySide6.QtWidgets import QMessageBox

    from app.connectors.store import list_connections, save_connection
    from app.ui.connections_page import ConnectionsDialog

    db = window.store.engine
    save_connection(db, "shopify", "corner-shop.myshopify.com", datetime.now(timezone.utc))
    window.actions_["connections"].trigger()
    dialog = window.findChild(ConnectionsDialog)
    _idle(qtbot)
    dialog.remove_button.click()
    box = dialog.remove_box
    assert box.isVisible() and "corner-shop.myshopify.com" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    _idle(qtbot)
    assert [c.address for c in list_connections(db)] == ["corner-shop.myshopify.com"]
    dialog.remove_button.click()
    next(b for b in dialog.remove_box.buttons() if b.text() == "Disconnect").click()
    _idle(qtbot)
    qtbot.waitUntil(lambda: list_connections(db) == [], timeout=10_000)
    qtbot.waitUntil(lambda: "Removed corner-shop.myshopify.com" in dialog.said.text(), timeout=10_000)


def test_dead_letters_say_when_they_came_in_the_users_own_time_zone(qtbot, window, monkeypatch):
    """The list said UTC ("16:44 UTC") while the rest of the window says local times: a shop owner in
    New York read a webhook of 11:44 as one from the afternoon."""
    import json
    import time
    from datetime import datetime, timezone

    from app.engine.engine import JourneyEngine
    from app.intake.apply import apply_pending
    from app.intake.inbox import InboxRow, write_rows
    from app.ui.receiver_page import ReceiverDialog

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        came = datetime(2026, 11, 30, 16, 44, tzinfo=timezone.utc)
        write_rows(window.store.engine, [InboxRow("twilio", "status", "twilio:SMlate:delivered",
                                                  json.dumps({"MessageSid": "SMlate", "MessageStatus": "delivered"}))],
                   came)
        apply_pending(JourneyEngine(window.store.engine))
        window.actions_["receiver"].trigger()
        dialog = window.findChild(ReceiverDialog)
        _idle(qtbot)
        qtbot.waitUntil(lambda: dialog.dead.table.topLevelItemCount() == 1)
        assert dialog.dead.table.topLevelItem(0).text(0) == "2026-11-30 11:44 EST"
        assert "(receiver)" not in dialog.dead.detail.text() and "received over HTTP" in dialog.dead.detail.text()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_yes_whose_install_failed_is_asked_again_next_time(qtbot, window, store, tmp_path, monkeypatch):
    """"Keep running" remembered "yes" before the install ran; when the install failed, the question was
    never put again — every later close left the journeys stopped, silently."""
    from PySide6.QtWidgets import QPushButton

    from app.engine.engine import JourneyEngine
    from app.ui.background_service import BackgroundService
    from app.ui.engine_host import EngineHost
    from app.ui.main_window import MainWindow

    monkeypatch.setattr(EngineHost, "LEASE_SECONDS", 1.5)
    monkeypatch.setattr(EngineHost, "HEARTBEAT_SECONDS", 0.1)
    script = tmp_path / "systemctl"
    script.write_text("#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setenv("JOURNEYS_SYSTEMCTL", str(script))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr("app.ui.background_service.platform_key", lambda choice=None: "linux")
    JourneyEngine(store.engine).activate(store.find("Cart abandonment").id)
    window.start_engine()
    qtbot.waitUntil(window.host.runs_engine, timeout=10_000)
    window.close()
    next(b for b in window.keep_running_box.findChildren(QPushButton)
         if b.text() == "Keep running in the background").click()
    service = window.background_service
    qtbot.waitUntil(lambda: service.failure_box is not None and service.failure_box.isVisible(), timeout=10_000)
    service.failure_box.close()
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert BackgroundService(store.engine).asked() is None          # not installed: not answered for good
    again = MainWindow(store)
    qtbot.addWidget(again)
    again.show()
    again.start_engine()
    qtbot.waitUntil(again.host.runs_engine, timeout=10_000)
    again.close()
    assert again.isVisible() and again.keep_running_box.isVisible()     # asked again
    next(b for b in again.keep_running_box.findChildren(QPushButton) if b.text() == "Only while the app is open").click()
    qtbot.waitUntil(lambda: not again.isVisible(), timeout=10_000)


def test_a_slow_test_answers_for_the_form_it_was_asked_for_not_the_one_shown_now(qtbot, window):
    """Test connection on Shopify, then switch to WooCommerce while the shop is slow: Shopify's "✓ Connected
    to Corner Shop" appeared under the WooCommerce form. While a test runs, Test is greyed out."""
    from app.ui.connections_page import ConnectionsDialog
    from tests.connectors.fake_shopify import TOKEN, FakeShopify

    server = FakeShopify()
    with server:
        server.hold_at = 1
        window.actions_["connections"].trigger()
        dialog = window.findChild(ConnectionsDialog)
        _idle(qtbot)
        form = dialog.form()
        form.address.setText(server.url)
        form.fields["token"].setText(TOKEN)
        dialog.test_button.click()
        assert server.held.wait(20)
        assert not dialog.test_button.isEnabled()
        dialog.platform.setCurrentIndex(1)              # WooCommerce, while Shopify is still answering
        server.release.set()
        _idle(qtbot)
        qtbot.wait(50)
        assert not dialog.said.isVisible() or "Corner Shop" not in dialog.said.text()
        assert dialog.test_button.isEnabled()


def test_the_engine_label_keeps_its_since_visible_when_another_window_runs_it(qtbot, window):
    """"Engine: running in another Journey Studio window (pid 123456 on workstation-of-the-shop-owner.local)
    since …" was cut off at the window's edge before its "since" on a 1280-pixel screen; the process
    and host are in the tooltip."""
    from datetime import datetime, timedelta, timezone

    from app.store.lease import LeaseHolder

    now = datetime.now(timezone.utc)
    holder = LeaseHolder("a", "app", "workstation-of-the-shop-owner.local", 123456, now - timedelta(hours=2), now,
                         now + timedelta(seconds=30))
    label = window.engine_status
    label.show_elsewhere(holder)
    assert "since" in label.text() and "123456" not in label.text()
    assert "123456" in label.toolTip() and "workstation-of-the-shop-owner.local" in label.toolTip()
    assert label.sizeHint().width() <= 480


def test_poll_now_on_a_big_shop_ends_when_the_dialog_closes(qtbot, window, monkeypatch):
    """"Poll now" on a big shop's first import ran to its end on the app's two-thread worker pool —
    keeping Quit waiting (the pool is waited for) and other slow work queued — and could run beside
    the scheduler's poll of the same shop. It now stops after the page in hand once the dialog closes,
    and a shop already being polled is not polled twice."""
    from datetime import datetime, timedelta, timezone

    from app.connectors import jobs
    from app.connectors.store import save_connection
    from app.engine.engine import JourneyEngine
    from app.ui.connections_page import ConnectionsDialog
    from tests.connectors.fake_shopify import START, TOKEN, FakeShopify, order
    from tests.connectors.helpers import stored_events

    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    server = FakeShopify()
    with server:
        server.orders += [order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 201)]
        db = window.store.engine
        cid = save_connection(db, "shopify", server.url, datetime.now(timezone.utc))
        with jobs._claim(cid):                                 # the scheduler is polling it right now
            assert jobs.poll_now(JourneyEngine(db), cid) is None
        server.hold_at = 3                                      # customers, orders page 1, then this one waits
        window.actions_["connections"].trigger()
        dialog = window.findChild(ConnectionsDialog)
        _idle(qtbot)
        dialog.poll_selected()
        assert server.held.wait(20)
        dialog.close()
        server.release.set()
        _idle(qtbot)
        asked = [q for q in server.graphql if q["field"] == "orders"]
        assert len(asked) <= 3 and len(stored_events(db, "order_placed")) <= 20

"""File → Connections… (Settings → Connections) in the real window, offscreen: the shops' status, last
poll and last error; Test connection really calls the local Shopify-shaped server; Save connection
tests, keeps the token in the keyring and lists the shop; nothing is saved when the shop refuses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import keyring
import pytest

from app.connectors.store import list_connections, record_poll, save_connection, set_phase
from app.delivery.secrets import SERVICE
from app.ui.background import background
from app.ui.connections_page import ConnectionsDialog
from tests.connectors.conftest import _no_shop_variables, shopify, woo  # noqa: F401 - fixtures
from tests.connectors.fake_shopify import TOKEN
from tests.connectors.fake_woo import KEY, SECRET
from tests.delivery.keyrings import _no_secret_variables, file_keyring, no_keyring  # noqa: F401 - fixtures


def _idle(qtbot) -> None:
    qtbot.waitUntil(lambda: not background().busy(), timeout=20_000)


@pytest.fixture
def dialog(qtbot, window):
    window.actions_["connections"].trigger()          # File → Connections…: returns at once
    found = window.findChild(ConnectionsDialog)
    assert found is not None and found.isVisible()
    _idle(qtbot)
    return found


def _cells(dialog: ConnectionsDialog) -> list[list[str]]:
    return [[dialog.table.item(r, c).text() for c in range(dialog.table.columnCount())]
            for r in range(dialog.table.rowCount())]


def test_the_list_shows_status_last_poll_and_last_error(qtbot, window, dialog):
    db = window.store.engine
    now = datetime.now(timezone.utc)
    live = save_connection(db, "shopify", "corner.myshopify.com", now)
    set_phase(db, live, "live")
    record_poll(db, live, now - timedelta(seconds=30))
    save_connection(db, "woocommerce", "https://shop.example", now)
    failing = save_connection(db, "shopify", "other.myshopify.com", now)
    record_poll(db, failing, now - timedelta(minutes=3), error="other.myshopify.com refused the Admin API access "
                                                                "token (HTTP 401)")
    dialog.refresh()
    _idle(qtbot)
    rows = {r[0]: r for r in _cells(dialog)}
    assert rows["corner.myshopify.com"][1:3] == ["Live", "30 s ago"]
    assert rows["https://shop.example"][1:3] == ["Importing history", "never"]
    assert rows["other.myshopify.com"][1] == "Failing" and "HTTP 401" in rows["other.myshopify.com"][4]
    assert not dialog.empty.isVisible()


def test_test_connection_really_calls_the_shop(qtbot, dialog, shopify):
    form = dialog.form()
    form.address.setText(shopify.url)
    form.fields["token"].setText("shpat_wrong")
    dialog.test()
    _idle(qtbot)
    assert dialog.said.text().startswith("✗") and "refused the Admin API access token" in dialog.said.text()
    form.fields["token"].setText(TOKEN)
    dialog.test()
    _idle(qtbot)
    assert dialog.said.text() == "✓ Connected to Corner Shop (corner.myshopify.com)"
    assert any(r.headers.get("x-shopify-access-token") == TOKEN for r in shopify.requests)


def test_save_connection_tests_then_keeps_the_token_in_the_keyring(qtbot, window, dialog, woo, file_keyring):
    dialog.platform.setCurrentIndex(dialog.platform.findData("woocommerce"))
    form = dialog.form()
    assert form.kind == "woocommerce" and dialog.forms.currentWidget() is form
    form.address.setText(woo.url)
    form.fields["key"].setText(KEY)
    form.fields["secret"].setText("cs_wrong")
    dialog.save()
    _idle(qtbot)
    assert dialog.said.text().startswith("✗ Not saved") and list_connections(window.store.engine) == []
    form.fields["secret"].setText(SECRET)
    with qtbot.waitSignal(dialog.saved, timeout=20_000) as saved:
        dialog.save()
    _idle(qtbot)
    assert saved.args == [f"woocommerce:{woo.url}"]
    assert keyring.get_password(SERVICE, f"woocommerce:{woo.url}:secret") == SECRET
    assert form.fields["secret"].text() == "" and "Saved" in dialog.said.text()
    assert [r[:2] for r in _cells(dialog)] == [[woo.url, "Importing history"]]


def test_poll_now_brings_the_history_in(qtbot, window, dialog, shopify, monkeypatch):
    from tests.connectors.fake_shopify import START, order

    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    shopify.orders.append(order(1, "ann@example.com", "19.90", START))
    save_connection(window.store.engine, "shopify", shopify.url, datetime.now(timezone.utc))
    dialog.refresh()
    _idle(qtbot)
    dialog.poll_selected()
    _idle(qtbot)
    assert "1 new event(s)" in dialog.said.text() and "history" in dialog.said.text()
    _idle(qtbot)
    assert _cells(dialog)[0][1:4] == ["Live", "0 s ago", "1"]


def test_the_status_bar_says_how_the_shops_are_and_opens_the_dialog(qtbot, window):
    badge = window.connections_badge
    _idle(qtbot)
    assert not badge.isVisible() and badge.text() == ""            # no shop: nothing said
    db = window.store.engine
    now = datetime.now(timezone.utc)
    live = save_connection(db, "shopify", "corner.myshopify.com", now)
    set_phase(db, live, "live")
    badge.refresh()
    _idle(qtbot)
    assert badge.text() == "Shop: live"
    other = save_connection(db, "woocommerce", "https://shop.example", now)
    record_poll(db, other, now, error="https://shop.example refused the REST API keys (HTTP 401)")
    badge.refresh()
    _idle(qtbot)
    assert badge.text() == "⚠ https://shop.example: last poll failed" and "HTTP 401" in badge.toolTip()
    badge.click()
    found = window.findChild(ConnectionsDialog)
    assert found is not None and found.isVisible()
    _idle(qtbot)

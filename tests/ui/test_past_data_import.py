"""File → Import events / Import orders: the dialog says what the file is and offers "past data:
update customers, start nothing", checked when every event read is more than a day old; checked,
the active journeys are left untouched."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.paths import RESOURCES
from app.store.tables import contacts, events, runs

from .test_data_import import _choose, _confirm

SHOPIFY = RESOURCES / "samples" / "shopify_orders_export.csv"
SHOTS = Path(os.environ.get("JOURNEYS_SHOTS", "/tmp/journeys-shots"))


def _count(window, table) -> int:
    with window.store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _activate(window, qtbot) -> None:
    journey_id = window.session.journey_id
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: window.store.get(journey_id).status == "active", timeout=5000)


def test_past_events_are_offered_as_history_and_start_nothing(window, qtbot, monkeypatch):
    _activate(window, qtbot)
    _choose(monkeypatch, RESOURCES / "sample_events.jsonl")
    window.actions_["import_events"].trigger()
    dialog, offered = _confirm(window, qtbot)
    assert offered and "Events, one JSON object per line" in dialog.found.text()
    qtbot.waitUntil(lambda: "past data: customers updated, no journey started" in window.statusBar().currentMessage(),
                    timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    assert _count(window, runs) == 0 and _count(window, events) > 0
    with window.store.engine.connect() as conn:
        assert conn.execute(select(contacts.c.lifetime_spend).where(contacts.c.id == "c024")).scalar() > 0


def test_recent_events_are_offered_live(window, qtbot, monkeypatch, tmp_path):
    _activate(window, qtbot)
    path = tmp_path / "today.jsonl"
    now = datetime.now(timezone.utc)
    path.write_text(json.dumps({"type": "track", "event": "Cart Abandoned", "userId": "ann",
                                "timestamp": (now - timedelta(minutes=5)).isoformat(),
                                "properties": {"cart_url": "https://shop.example/c"}}) + "\n", encoding="utf-8")
    _choose(monkeypatch, path)
    window.actions_["import_events"].trigger()
    dialog, offered = _confirm(window, qtbot)
    assert not offered and "Segment track and identify calls" in dialog.found.text()
    qtbot.waitUntil(lambda: _count(window, runs) == 1, timeout=10000)      # Segment's name, our trigger
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)


def test_a_file_mixing_old_and_new_events_is_offered_as_past_data(window, qtbot, monkeypatch, tmp_path):
    """Replaying a backlog must not start journeys by default, even when its last events are recent."""
    _activate(window, qtbot)
    now = datetime.now(timezone.utc)
    path = tmp_path / "backlog.jsonl"
    path.write_text("".join(json.dumps({"contact": "ann", "type": "cart_abandoned", "at": at.isoformat()}) + "\n"
                            for at in (now - timedelta(days=3), now - timedelta(minutes=5))), encoding="utf-8")
    _choose(monkeypatch, path)
    window.actions_["import_events"].trigger()
    from app.ui.import_choice import ImportChoiceDialog

    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(ImportChoiceDialog)), timeout=10000)
    dialog = next(d for d in window.findChildren(ImportChoiceDialog) if d.isVisible())
    assert dialog.history.isChecked()
    assert any("1 of the 2 events read is more than a day old" in label.text()
               for label in dialog.findChildren(type(dialog.found)))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "past data" in window.statusBar().currentMessage(), timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    assert _count(window, runs) == 0


def test_a_shopify_order_export_imports_from_the_file_menu(window, qtbot, monkeypatch):
    _activate(window, qtbot)
    _choose(monkeypatch, SHOPIFY)
    window.actions_["import_orders"].trigger()
    dialog, offered = _confirm(window, qtbot)
    assert offered
    assert dialog.found.text() == "Shopify order export: the 4 orders from 03 Sep 2026 to 02 Nov 2026"
    qtbot.waitUntil(lambda: "Imported orders from shopify_orders_export.csv: 4 new"
                    in window.statusBar().currentMessage(), timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    with window.store.engine.connect() as conn:
        spend = conn.execute(select(contacts.c.lifetime_spend).where(contacts.c.id == "ada@example.com")).scalar()
    assert float(spend) == 81.73 and _count(window, runs) == 0


def test_a_file_that_is_no_order_export_is_refused_with_a_reason(window, qtbot, monkeypatch, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("First Name,Email\nAnn,ann@example.com\n", encoding="utf-8")
    warnings = _choose(monkeypatch, path)
    window.actions_["import_orders"].trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=10000)
    assert "customers.csv was not imported: not a Shopify or WooCommerce order export" in warnings[0]
    assert _count(window, contacts) == 0


@pytest.fixture(params=["light", "dark"])
def theme(request, qtbot):
    from PySide6.QtWidgets import QApplication

    from app.canvas import style
    from app.ui.theme import apply_theme

    app = QApplication.instance()
    saved = list(style._theme)
    style._theme[:] = [style.DARK if request.param == "dark" else style.LIGHT]
    apply_theme(app)
    yield request.param
    style._theme[:] = saved
    apply_theme(app)


def test_the_dialog_renders_in_both_themes(qtbot, theme):
    """Rendered to PNG for a look (JOURNEYS_SHOTS, default /tmp/journeys-shots)."""
    from app.engine.peek import peek_orders
    from app.ui.import_choice import ImportChoiceDialog

    dialog = ImportChoiceDialog("Import orders", SHOPIFY.name, peek_orders(SHOPIFY), "order")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert dialog.grab().save(str(SHOTS / f"import-orders-{theme}.png"))
    assert dialog.history.isChecked()

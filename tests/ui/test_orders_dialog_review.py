"""File → Import orders, as a shop owner uses it (review of issue 12 §3): unchecking "Past data" so that
today's buyers are thanked must not thank a year of customers now."""
from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from app.engine.simulator import install_journey
from app.paths import RESOURCES
from app.store.tables import contacts, runs

from .test_data_import import _choose, _confirm

SHOTS = Path(os.environ.get("JOURNEYS_SHOTS", "/tmp/journeys-shots"))
HEAD = next(csv.reader(io.StringIO((RESOURCES / "samples" / "shopify_orders_export.csv").read_text("utf-8-sig"))))


def _order(name: str, email: str, placed: datetime, total: str) -> list[str]:
    cells = {"Name": name, "Email": email, "Financial Status": "paid", "Currency": "USD", "Total": total,
             "Created at": placed.strftime("%Y-%m-%d %H:%M:%S +0000"), "Lineitem name": "Mug",
             "Lineitem quantity": "1"}
    return [cells.get(h, "") for h in HEAD]


def _thanks_journey(window) -> str:
    from tests.engine.helpers import chain, send_node, simple_journey

    thanks = simple_journey("Thanks", event="order_placed")
    chain(thanks, thanks.trigger(), send_node(thanks, subject="Thanks"))
    return install_journey(window.store.engine, thanks, datetime.now(timezone.utc))


def test_unchecking_past_data_thanks_today_s_buyers_only(window, qtbot, monkeypatch, tmp_path):
    thanks = _thanks_journey(window)
    now = datetime.now(timezone.utc)
    path = tmp_path / "orders_export.csv"
    text = io.StringIO()
    csv.writer(text).writerows([HEAD, _order("#1", "old@example.com", now - timedelta(days=200), "30.00"),
                                _order("#2", "new@example.com", now - timedelta(hours=2), "12.00")])
    path.write_text(text.getvalue(), encoding="utf-8")
    _choose(monkeypatch, path)
    window.actions_["import_orders"].trigger()
    dialog, offered = _confirm(window, qtbot, history=False)
    assert offered                       # one of the two is more than a day old: offered as past data
    SHOTS.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SHOTS / "import-orders-mixed.png"))
    qtbot.waitUntil(lambda: "Imported orders from orders_export.csv: 2 new" in window.statusBar().currentMessage(),
                    timeout=10000)
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    with window.store.engine.connect() as conn:
        entered = conn.execute(select(runs.c.contact_id).where(runs.c.journey_id == thanks)).scalars().all()
        spend = dict(conn.execute(select(contacts.c.id, contacts.c.lifetime_spend)).all())
    assert entered == ["new@example.com"]        # the order of 200 days ago thanks nobody now
    assert (float(spend["old@example.com"]), float(spend["new@example.com"])) == (30.0, 12.0)

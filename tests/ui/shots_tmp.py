import os
from datetime import timedelta
from sqlalchemy import update, select
from PySide6.QtWidgets import QPushButton
from app.store.tables import messages
from app.store.app_settings import set_business_timezone
from tests.ui.test_timeline_ui import _simulate, _select

OUT = "/tmp/rc/shots/" + os.environ.get("JOURNEY_STUDIO_THEME", "light")


def test_shots(store, db_path, window, qtbot):
    set_business_timezone(store.engine, "Europe/Berlin")
    _simulate(db_path)
    with store.engine.begin() as conn:
        m = conn.execute(select(messages.c.id).where(messages.c.recipient == "+15550000008")).scalar()
        conn.execute(update(messages).where(messages.c.id == m).values(status="failed", failed_at=None, error="Attempt to send to unsubscribed recipient", error_code="21610"))
    window.actions_["contacts"].trigger()
    d = window.contacts_dialog
    qtbot.waitUntil(lambda: d.list.count() > 0, timeout=5000)
    d.focus_contact("c009")
    qtbot.waitUntil(lambda: "Sent the SMS" in [r[3] for r in d.timeline.figures()], timeout=5000)
    for w, h in ((1280, 720), (1920, 1080)):
        d.resize(w, h); qtbot.wait(100)
        d.grab().save(f"{OUT}-contacts-{w}.png")
    d.focus_contact("c002")
    qtbot.waitUntil(lambda: d.pane.figures()["heading"].endswith("c002") and d.timeline.tree.topLevelItemCount() > 0, timeout=5000)
    d.resize(1280, 720); qtbot.wait(100)
    d.grab().save(f"{OUT}-c002.png")
    d.tabs.setCurrentIndex(1); qtbot.wait(50)
    d.grab().save(f"{OUT}-c002-details.png")
    b = _select(window, qtbot, "Opened within 24 h?")
    window.show_step_people(b.id, "no")
    s = window.step_people_dialog
    qtbot.waitUntil(lambda: s.table.rowCount() > 0, timeout=5000)
    s.grab().save(f"{OUT}-went.png")
    window.resize(1280, 720); qtbot.wait(100)
    window.grab().save(f"{OUT}-main.png")

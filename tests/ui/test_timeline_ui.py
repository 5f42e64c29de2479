"""The Contacts window's timeline and "Who is here?" / "Who went this way?" on a step (issue 11, section 3),
driven as a user would, after the engine ran the sample data on the window's own database."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.engine.importers import parse_contacts, parse_events, read_text
from app.engine.simulator import simulate
from app.journey.fileformat import load
from app.paths import RESOURCES

CART = RESOURCES / "examples" / "cart_abandonment.json"


def _simulate(db_path, until=None):
    from app.journey.schema import parse_datetime

    contacts, _ = parse_contacts(read_text(RESOURCES / "sample_contacts.csv"))
    events, _ = parse_events(read_text(RESOURCES / "sample_events.jsonl"))
    simulate(load(CART), contacts, events, db_url=f"sqlite:///{db_path}", keep_log=False,
             until=parse_datetime(until) if until else None)


@pytest.fixture
def ran(store, db_path):
    _simulate(db_path)


@pytest.fixture
def ran_partly(store, db_path):
    _simulate(db_path, "2026-03-02T11:40:00Z")     # c002 abandoned a cart at 11:20: waiting an hour


def _node(window, title):
    return next(n for n in window.editor.journey.nodes.values() if n.title == title)


def _select(window, qtbot, title):
    node = _node(window, title)
    window.editor.scene.select_only([window.editor.scene.item_for_node[node.id]])
    qtbot.waitUntil(lambda: window.inspector.findChild(QPushButton, "people:here") is not None, timeout=5000)
    return node


def test_a_contacts_timeline_after_the_sample_data_has_run(ran, window, qtbot):
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    dialog.search.setText("arjun")
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Arjun Patel · c009", timeout=5000)
    assert dialog.tabs.currentWidget() is dialog.timeline          # the story first
    view = dialog.timeline
    qtbot.waitUntil(lambda: view.tree.topLevelItemCount() > 0, timeout=5000)
    rows = view.figures()
    assert view.zones.text() == "Times in the contact's zone, Asia/Kolkata, and the business's, UTC"
    assert rows[0][2:4] == ["Cart abandonment › Discount SMS", "Completed the journey"]   # newest first
    words = [r[3] for r in rows]
    assert "No: not opened within 24 hours" in words
    assert any(w.startswith("Exited: re-triggered") for w in words)
    email = next(r for r in rows if r[2] == "Cart abandonment › Cart reminder email" and r[3] == "Sent the email")
    assert email[:2] == ["Tue 3 Mar 13:00", "Tue 3 Mar 07:30"]
    assert email[4] == ["Email to arjun.patel@example.com · “Arjun, your cart misses you”", "Queued", "Sent"]
    view.order.setCurrentIndex(1)                                   # oldest first
    qtbot.waitUntil(lambda: view.tree.topLevelItemCount() > 0 and view.figures()[0][3].startswith("Consent"),
                    timeout=5000)
    assert view.figures()[-1][3] == "Completed the journey"


def test_the_timeline_pages_as_it_is_scrolled(ran, window, qtbot, monkeypatch):
    monkeypatch.setattr("app.ui.timeline_view.PAGE", 4)
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    dialog.focus_contact("c009")
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Arjun Patel · c009", timeout=5000)
    view = dialog.timeline
    qtbot.waitUntil(lambda: view.tree.topLevelItemCount() == 4 and view.more.isVisible(), timeout=5000)
    assert view.status.text() == "4 entries, more below"
    while view.more.isVisible():
        count = view.tree.topLevelItemCount()
        qtbot.mouseClick(view.more, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: view.tree.topLevelItemCount() > count, timeout=5000)
    ats = [e.cursor for e in view.entries]
    assert ats == sorted(ats, reverse=True) and len(set(ats)) == len(ats) > 12


def test_who_is_here_on_a_wait_step_opens_the_timeline(ran_partly, window, qtbot):
    wait = _select(window, qtbot, "Wait 1 hour")
    window.inspector.findChild(QPushButton, "people:here").click()
    dialog = window.step_people_dialog
    assert dialog.node.id == wait.id and dialog.mode.currentText() == "Waiting here now"
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=5000)
    assert [dialog.table.item(0, c).text() for c in range(4)] == ["Mon 2 Mar 12:20", "c002", "Lucas Martin",
                                                                  "lucas.martin@example.com"]
    assert dialog.status.text() == "1 contact"
    dialog.open_row(0)
    contacts = window.contacts_dialog
    qtbot.waitUntil(lambda: contacts.pane.figures()["heading"] == "Lucas Martin · c002", timeout=5000)
    qtbot.waitUntil(lambda: contacts.timeline.tree.topLevelItemCount() > 0, timeout=5000)
    assert contacts.timeline.figures()[0][2:4] == ["Cart abandonment › Wait 1 hour",
                                                   "Waiting 1 hour, until 13:20 Mon"]     # Europe/Paris


def test_nobody_here_and_who_went_each_way_of_a_branch(ran, window, qtbot):
    branch = _select(window, qtbot, "Opened within 24 h?")
    window.show_step_people(branch.id, "here")
    dialog = window.step_people_dialog
    qtbot.waitUntil(lambda: dialog.status.text() == "Nobody is here now", timeout=5000)
    assert [dialog.mode.itemText(i) for i in range(dialog.mode.count())] == [
        "Waiting here now", "Went “Yes”", "Went “No”"]
    dialog.mode.setCurrentIndex(2)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 6, timeout=5000)
    ids = [dialog.table.item(r, 1).text() for r in range(6)]
    assert "c009" in ids and dialog.table.horizontalHeaderItem(0).text() == "When (business time)"
    window.inspector.findChild(QPushButton, "people:went").click()   # a new window on the first way out
    went = window.step_people_dialog
    assert went is not dialog and went.mode.currentText() == "Went “Yes”"
    qtbot.waitUntil(lambda: went.table.rowCount() == 2, timeout=5000)


def test_the_canvas_menu_offers_who_is_here_for_one_step(window, qtbot):
    wait = _select(window, qtbot, "Wait 1 hour")
    asked = []
    window.editor.view.people_requested.connect(lambda node_id, mode: asked.append((node_id, mode)))
    menu = window.editor.view.context_menu()
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert actions["Who went this way?"].isEnabled()
    actions["Who is here?"].trigger()
    assert asked == [(wait.id, "here")]
    window.editor.scene.clearSelection()
    assert "Who is here?" not in [a.text() for a in window.editor.view.context_menu().actions()]


def test_the_timeline_opens_on_the_contact_asked_for_among_many_like_it(window, qtbot):
    """Opening a timeline (from "Who is here?") shows that very contact: ids and emails with `_` or `%`
    are found as typed, and an exact id comes first even when 300 others contain it."""
    from app.engine.importers import import_contacts, parse_contacts
    from app.store.contacts import find_contacts
    from datetime import datetime, timezone

    lines = ["id,email,first_name"] + [f"acus_{i:03d},a{i}@example.com,Ann" for i in range(300)]
    lines += ["cus_42,jo_ann@example.com,Jo", "cus42,joann@example.com,Joe", "p100%,pct@example.com,Pat"]
    rows, _ = parse_contacts("\n".join(lines) + "\n")
    import_contacts(window.store.engine, rows, datetime(2026, 3, 2, tzinfo=timezone.utc), "many.csv")
    db = window.store.engine
    assert [c.id for c in find_contacts(db, "jo_ann")] == ["cus_42"]
    assert [c.id for c in find_contacts(db, "100%")] == ["p100%"]
    assert find_contacts(db, "cus_42")[0].id == "cus_42"
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    dialog.focus_contact("cus_42")
    qtbot.waitUntil(lambda: dialog.timeline.contact_id == "cus_42", timeout=5000)
    assert dialog.pane.figures()["heading"] == "Jo · cus_42"
    dialog.focus_contact("p100%")
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Pat · p100%", timeout=5000)


def test_each_message_status_is_a_line_with_its_time_in_both_zones(ran, window, qtbot):
    """A message's status history, one status a line with the contact's and the business's time (on one
    line it was cut off at the window's edge), a failure in the alarm colour with the provider's reason."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from app.store.app_settings import set_business_timezone
    from app.store.tables import messages

    db = window.store.engine
    set_business_timezone(db, "Europe/Berlin")
    with db.begin() as conn:
        sms = conn.execute(select(messages).where(messages.c.recipient == "+15550000008")).one()
        conn.execute(update(messages).where(messages.c.id == sms.id).values(
            status="failed", failed_at=sms.sent_at + timedelta(minutes=3), error_code="21610",
            error="Attempt to send to unsubscribed recipient"))
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    dialog.focus_contact("c009")
    view = dialog.timeline
    qtbot.waitUntil(lambda: "Sent the SMS" in [r[3] for r in view.figures()], timeout=5000)
    item = next(view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())
                if view.tree.topLevelItem(i).text(3) == "Sent the SMS")
    lines = [[item.child(k).text(c) for c in range(4)] for k in range(item.childCount())]
    assert lines == [["", "", "", "SMS to +15550000008"],
                     ["Wed 4 Mar 13:00", "Wed 4 Mar 08:30", "", "Queued"],
                     ["Wed 4 Mar 13:00", "Wed 4 Mar 08:30", "", "Sent"],
                     ["Wed 4 Mar 13:03", "Wed 4 Mar 08:33", "", "Failed"],
                     ["", "", "", "Provider: 21610 Attempt to send to unsubscribed recipient"]]
    assert item.child(3).foreground(3).color() == item.child(4).foreground(3).color() != item.child(2).foreground(3).color()


def test_the_zones_line_never_shows_the_previous_contacts_zone(ran, window, qtbot):
    """While another contact's timeline is read, the line naming the zones is not the previous one's."""
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    dialog.focus_contact("c001")
    view = dialog.timeline
    qtbot.waitUntil(lambda: "Europe/London" in view.zones.text(), timeout=5000)
    view.show_contact("c009")                  # asked: the answer comes later, from the worker
    assert "Europe/London" not in view.zones.text()
    qtbot.waitUntil(lambda: "Asia/Kolkata" in view.zones.text(), timeout=5000)


def test_a_timeline_asked_for_a_contact_no_longer_there_shows_no_one_else(ran, window, qtbot):
    """Opening c00 (gone meanwhile) never shows c001, which merely contains it."""
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    dialog.focus_contact("c00")
    qtbot.waitUntil(lambda: dialog.timeline.status.text() == "No such contact", timeout=5000)
    assert dialog.pane.figures()["heading"] == "No contact 'c00'"
    assert dialog.timeline.contact_id == "c00" and dialog.timeline.tree.topLevelItemCount() == 0


def test_the_timeline_is_read_again_when_the_window_is_opened_again(ran, window, qtbot):
    """What happened since the Contacts window was last open shows when it is opened again (and when
    "Open timeline" asks for the contact already shown), as the details do."""
    from datetime import datetime, timezone

    from app.engine.engine import JourneyEngine
    from app.engine.ingest import EventIn

    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    dialog.focus_contact("c002")
    view = dialog.timeline
    qtbot.waitUntil(lambda: bool(view.figures()) and view.figures()[0][3].startswith("Converted"), timeout=5000)
    dialog.hide()
    at = datetime(2026, 3, 20, 9, tzinfo=timezone.utc)
    JourneyEngine(window.store.engine).ingest([EventIn("c002", "product_viewed", at, {"product": "Teapot"})])
    window.actions_["contacts"].trigger()
    qtbot.waitUntil(lambda: bool(view.figures()) and view.figures()[0][3] == "Event: product viewed (Teapot)", timeout=5000)
    JourneyEngine(window.store.engine).ingest([EventIn("c002", "product_viewed", at.replace(day=21), {"product": "Mug"})])
    dialog.focus_contact("c002")
    qtbot.waitUntil(lambda: bool(view.figures()) and view.figures()[0][3] == "Event: product viewed (Mug)", timeout=5000)


def test_a_contact_without_a_zone_is_said_to_be_in_the_business_zone(window, qtbot):
    from datetime import datetime, timezone

    from app.engine.importers import import_contacts, parse_contacts
    from app.store.app_settings import set_business_timezone

    db = window.store.engine
    set_business_timezone(db, "Europe/Berlin")
    rows, _ = parse_contacts("id,email,subscribed\nnz1,nz1@example.com,email\n")
    import_contacts(db, rows, datetime(2026, 3, 2, tzinfo=timezone.utc), "nz.csv")
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    dialog.focus_contact("nz1")
    qtbot.waitUntil(lambda: dialog.timeline.tree.topLevelItemCount() > 0, timeout=5000)
    assert dialog.timeline.zones.text() == "Times in the business's zone, Europe/Berlin (the contact has no time zone)"

"""File → Contacts: find a contact and read its consent per channel and the history of every change."""
from __future__ import annotations

from datetime import datetime, timezone

from app.engine.engine import JourneyEngine
from app.engine.importers import import_contacts, parse_contacts
from app.engine.ingest import EventIn
from app.engine.stats import NodeStats
from app.ui.numbers import step_rows

PEOPLE = """id,email,phone,first_name,last_name,tags,unsubscribed,subscribed
c1,emma@example.com,+15550001,Emma,Wilson,vip,,sms
c2,lucas@example.com,+15550002,Lucas,Martin,,email,
c3,mia@example.com,+15550003,Mia,Schneider,,,
"""
T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def _seed(window) -> None:
    db = window.store.engine
    rows, _ = parse_contacts(PEOPLE)
    import_contacts(db, rows, T0, "people.csv")
    JourneyEngine(db).ingest([
        EventIn("c1", "unsubscribed", T0.replace(hour=10), {"channel": "sms"}),
        EventIn("c1", "subscribed", T0.replace(hour=11), {"source": "checkout"}),    # no channel: email only
    ])


def _open(window, qtbot):
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.list.count() > 0, timeout=5000)
    return dialog


def test_the_contacts_dialog_lists_searches_and_shows_consent_with_its_history(window, qtbot):
    _seed(window)
    dialog = _open(window, qtbot)
    assert dialog.list.count() == 3 and dialog.count.text() == "3 contacts"
    qtbot.keyClicks(dialog.search, "lucas")
    qtbot.waitUntil(lambda: dialog.list.count() == 1, timeout=5000)
    assert dialog.pane.figures()["heading"] == "Lucas Martin · c2"
    assert dialog.pane.figures()["consent"][0][:2] == ["Email", "Opted out"]

    dialog.search.setText("emma wil")                # every word must match: id, email, phone or name
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Emma Wilson · c1", timeout=5000)
    shown = dialog.pane.figures()
    assert [row[:2] for row in shown["consent"]] == [["Email", "Subscribed"], ["SMS", "Opted out"],
                                                      ["WhatsApp", "Never asked"]]
    assert shown["consent"][0][3].startswith("Event subscribed #") and shown["consent"][0][3].endswith("(checkout)")
    assert shown["consent"][2][2:4] == ["", ""]
    assert [row[1:3] for row in shown["history"]] == [["Email", "Never asked → Subscribed"],
                                                      ["SMS", "Subscribed → Opted out"],
                                                      ["SMS", "Never asked → Subscribed"]]
    assert shown["history"][2][3] == "Import of people.csv, line 2"

    dialog.search.setText("nobody-by-that-name")
    qtbot.waitUntil(lambda: dialog.count.text() == "No contacts match", timeout=5000)
    assert dialog.pane.figures()["heading"] == "Choose a contact on the left"


def test_a_contact_without_recorded_consent_says_never_asked(window, qtbot):
    _seed(window)
    dialog = _open(window, qtbot)
    dialog.search.setText("c3")
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Mia Schneider · c3", timeout=5000)
    shown = dialog.pane.figures()
    assert {row[1] for row in shown["consent"]} == {"Never asked"}
    assert shown["history"] == [["No consent recorded yet", "", "", ""]]


def test_with_no_contacts_the_dialog_says_how_to_add_them(window, qtbot):
    window.actions_["contacts"].trigger()
    dialog = window.contacts_dialog
    qtbot.waitUntil(lambda: dialog.count.text().startswith("No contacts yet"), timeout=5000)


def test_skips_for_consent_are_shown_in_words():
    rows = dict(step_rows("send_template", NodeStats(entered=4, skipped={"no_consent": 2, "unsubscribed": 1})))
    assert rows["Skipped"] == "2 no consent given, 1 opted out"


def test_consent_changed_in_the_app_is_recorded_and_an_opt_in_is_confirmed(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    _seed(window)
    dialog = _open(window, qtbot)
    dialog.search.setText("c3")
    qtbot.waitUntil(lambda: dialog.pane.figures()["heading"] == "Mia Schneider · c3", timeout=5000)
    dialog.pane.button("whatsapp", "unsubscribed").click()          # opting out needs no confirmation
    qtbot.waitUntil(lambda: dialog.pane.figures()["consent"][2][1] == "Opted out", timeout=5000)
    assert dialog.pane.figures()["history"][0][1:] == ["WhatsApp", "Never asked → Opted out", "Changed in the app"]

    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, **k: asked.append(text) or answer[0])
    dialog.pane.button("whatsapp", "subscribed").click()            # "Opt back in…", refused
    qtbot.wait(100)
    assert "opted out of WhatsApp" in asked[0] and "only when they asked you to" in asked[0]
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)
    assert dialog.pane.figures()["consent"][2][1] == "Opted out"

    answer[0] = QMessageBox.StandardButton.Yes
    dialog.pane.button("whatsapp", "subscribed").click()
    qtbot.waitUntil(lambda: dialog.pane.figures()["consent"][2][1] == "Subscribed", timeout=5000)
    assert dialog.pane.figures()["history"][0][2] == "Opted out → Subscribed"

"""Activating, pausing and stopping a journey from the window, and its numbers on the canvas."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.canvas.commands import SetValue
from app.engine.importers import import_contacts, parse_contacts
from app.engine.ingest import EventIn

from .conftest import kind_node

SHOPPERS = "id,email,first_name,timezone\nann,ann@example.com,Ann,Europe/London\nbo,bo@example.com,Bo,UTC\n"


@pytest.fixture
def journey_id(window) -> str:
    return window.session.journey_id


def _status(window, journey_id: str) -> str:
    return window.store.get(journey_id).status


def _settle(window, qtbot) -> None:
    """Polls now and waits until the worker has answered."""
    window.run_controls.poll()
    qtbot.waitUntil(lambda: not window.host.busy(), timeout=5000)


def test_activating_starts_the_journey_and_its_steps_show_their_numbers(window, qtbot, journey_id):
    controls, actions = window.run_controls, window.actions_
    _settle(window, qtbot)
    assert controls.label.text() == "Draft: not running"
    assert actions["activate"].isEnabled() and not actions["pause"].isEnabled()
    trigger, wait = kind_node(window, "trigger"), kind_node(window, "wait")
    assert window.editor.scene.item_for_node[trigger.id].stats_text() == ""     # never ran: a clean canvas
    assert window.inspector.numbers.figures() == {}                              # and no empty figures

    actions["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    _settle(window, qtbot)
    assert controls.label.text() == "Active · version 1"
    assert actions["pause"].isEnabled() and actions["stop"].isEnabled() and not actions["activate"].isEnabled()
    listed = window.journeys.list
    rows = [listed.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(listed.count())]
    assert next(r.status for r in rows if r.id == journey_id) == "active"      # the list says so too

    engine = window.host.engine
    import_contacts(engine.db, parse_contacts(SHOPPERS)[0], datetime.now(timezone.utc))
    engine.ingest([EventIn(c, "cart_abandoned", datetime.now(timezone.utc), {"cart_url": "https://shop.example/c"})
                   for c in ("ann", "bo")])
    _settle(window, qtbot)
    items = window.editor.scene.item_for_node
    assert items[trigger.id].stats_text() == "2 entered"
    assert "2 waiting" in items[wait.id].stats_text()


def test_a_journey_with_errors_does_not_start(window, qtbot, journey_id, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **_: shown.append(args[2]))
    email = kind_node(window, "send_template")
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, email.id, ("config", "subject"), "", "subject"))
    window.actions_["activate"].trigger()
    _settle(window, qtbot)
    assert len(shown) == 1 and "Subject is empty" in shown[0]
    assert _status(window, journey_id) == "draft"
    assert any("Subject is empty" in window.problems.item(i).text() for i in range(window.problems.count()))


def test_pause_resume_and_stop(window, qtbot, journey_id, monkeypatch):
    actions, controls = window.actions_, window.run_controls
    actions["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    engine = window.host.engine
    import_contacts(engine.db, parse_contacts(SHOPPERS)[0], datetime.now(timezone.utc))
    engine.ingest([EventIn("ann", "cart_abandoned", datetime.now(timezone.utc))])

    _settle(window, qtbot)
    actions["pause"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "paused", timeout=5000)
    _settle(window, qtbot)
    assert controls.label.text() == "Paused · version 1" and actions["activate"].text() == "Resume"
    assert not actions["pause"].isEnabled() and actions["stop"].isEnabled()

    asked = []

    def answer(parent, title, text, *args, **kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    actions["stop"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "stopped", timeout=5000)
    _settle(window, qtbot)
    assert "1 contact in it will leave now" in asked[0]
    assert controls.label.text() == "Stopped" and actions["activate"].text() == "Activate"
    assert "1 contact left it" in window.statusBar().currentMessage()


def test_edits_to_an_active_journey_go_live_when_published(window, qtbot, journey_id):
    actions, controls = window.actions_, window.run_controls
    actions["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    email = kind_node(window, "send_template")
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, email.id, ("config", "subject"), "A little something for you", "subject"))
    assert window.session.save()
    _settle(window, qtbot)
    assert controls.label.text() == "Active · version 1 · edits not live yet"
    assert actions["activate"].text() == "Publish changes" and actions["activate"].isEnabled()

    actions["activate"].trigger()
    qtbot.waitUntil(lambda: window.store.get(journey_id).published_version == 2, timeout=5000)
    _settle(window, qtbot)
    assert controls.label.text() == "Active · version 2"


def test_the_live_engine_runs_under_the_window_and_stops_with_it(window, qtbot):
    window.start_engine()
    qtbot.waitUntil(lambda: window.host.live is not None, timeout=10_000)     # once the engine lease is taken
    assert sorted(window.host.live.job_ids()) == ["connectors", "intake", "mailbox", "outbox", "scan", "statuses",
                                                  "tick"]
    live = window.host.live
    window.close()
    assert not live.scheduler.running


def test_the_numbers_on_the_steps_count_the_chosen_period(window, qtbot, journey_id):
    from app.engine.clock import VirtualClock
    from app.engine.engine import JourneyEngine

    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    now = datetime.now(timezone.utc)
    import_contacts(window.store.engine, parse_contacts(SHOPPERS)[0], now)
    # Bo's cart was abandoned ten days ago (an engine on a clock set back then), Ann's now.
    then = now - timedelta(days=10)
    JourneyEngine(window.store.engine, VirtualClock(then)).ingest([EventIn("bo", "cart_abandoned", then)])
    window.host.engine.ingest([EventIn("ann", "cart_abandoned", now)])
    trigger = window.editor.scene.item_for_node[kind_node(window, "trigger").id]
    _settle(window, qtbot)
    assert window.run_controls.range.isVisibleTo(window) and trigger.stats_text() == "2 entered"

    window.run_controls.range.setCurrentIndex(window.run_controls.range.findText("Numbers: last 7 days"))
    _settle(window, qtbot)
    assert trigger.stats_text() == "1 entered"
    window.run_controls.range.setCurrentIndex(window.run_controls.range.findText("Numbers: all time"))
    _settle(window, qtbot)
    assert trigger.stats_text() == "2 entered"


def test_the_inspector_shows_every_figure_of_the_selected_step(window, qtbot, journey_id):
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    inspector = window.inspector
    _settle(window, qtbot)
    assert inspector.numbers.figures()["Entered"] == "0"                  # the journey's own figures
    engine = window.host.engine
    import_contacts(engine.db, parse_contacts(SHOPPERS)[0], datetime.now(timezone.utc))
    engine.ingest([EventIn(c, "cart_abandoned", datetime.now(timezone.utc)) for c in ("ann", "bo")])
    _settle(window, qtbot)
    assert inspector.numbers.figures()["In the journey now"] == "2"

    wait = kind_node(window, "wait")
    window.editor.view.select_ids([wait.id])
    figures = inspector.numbers.figures()
    assert figures["Entered"] == "2" and figures["Waiting now"] == "2"
    assert inspector.numbers.title.text() == "Performance · all time"
    name_editor = inspector.builder.editors[("name",)]
    name_editor.setFocus()
    _settle(window, qtbot)                          # a poll while editing: figures refresh, the form stays
    assert inspector.builder.editors[("name",)] is name_editor

    email = kind_node(window, "send_template")
    window.editor.view.select_ids([email.id])
    assert {"Sent", "Delivered", "Opened", "Clicked", "Failed", "Converted", "Revenue"} <= set(
        inspector.numbers.figures())
    window.editor.view.select_ids([])
    note = next(iter(window.editor.journey.notes))
    window.editor.view.select_ids([note])
    assert inspector.numbers is None                                       # a sticky note has no numbers


def test_the_engine_refuses_an_email_without_a_sender_and_the_app_shows_why(window, qtbot, journey_id, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **_: shown.append(args[2]))
    email = kind_node(window, "send_template")
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, email.id, ("config", "sender"), "", "from"))
    assert not any(p.severity == "error" for p in window.editor.validator.wait())    # fine for a draft
    window.actions_["activate"].trigger()
    _settle(window, qtbot)
    assert len(shown) == 1 and "The email has no sender (From)" in shown[0]
    assert _status(window, journey_id) == "draft" and window.store.versions(journey_id) == []
    assert any("The email has no sender" in window.problems.item(i).text() for i in range(window.problems.count()))


def test_publishing_changes_with_an_error_keeps_the_running_version(window, qtbot, journey_id, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **_: shown.append(args[2]))
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: _status(window, journey_id) == "active", timeout=5000)
    _settle(window, qtbot)
    trigger = kind_node(window, "trigger")
    window.editor.view.select_ids([trigger.id])
    window.editor.view.delete_selection()                    # the draft loses its trigger
    assert window.session.save()
    _settle(window, qtbot)
    assert window.actions_["activate"].text() == "Publish changes"
    window.actions_["activate"].trigger()
    _settle(window, qtbot)
    assert len(shown) == 1 and "The journey has no trigger" in shown[0]
    assert window.store.versions(journey_id) == [1] and _status(window, journey_id) == "active"

"""Journey → Test run…: the user sets up a test contact and a script, runs it, and sees the path lit on the
canvas (reached steps with their time and reason, taken connections, unreached steps dimmed) and the story
beside it; clearing returns the canvas to normal. run_test itself is the engine's (app/engine/test_run.py):
here it is replaced by real TestRun values (tests/ui/sample_runs.py), except in the last test, which runs
the real one once it exists."""
from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.canvas.lighting import DIM, PathBadge, marks_for, when_words
from app.engine.stats import JourneyStats, NodeStats
from app.engine.test_run import StoryEntry, Then, TestRun, TestRunError, TestScript, run_test
from app.journey.fileformat import to_document
from app.ui import test_run_panel
from app.ui.test_run_message import MessageDialog
from app.ui.test_run_dock import open_test_run
from app.ui.test_run_panel import TestRunPanel
from app.ui.test_run_script import ThenRow
from app.ui.test_run_story import OPEN_COLUMN, span_words

from .sample_runs import (E_EMAIL_STATUS, E_NO, E_TRIGGER_WAIT, E_WAIT_EMAIL, E_YES, EMAIL, SMS, STATUS, TAG,
                          TRIGGER, WAIT, opened_run, ordered_run, skipped_run)


class FakeRunTest:
    """Stands in for run_test: records each script and the thread it ran on, returns a made-up run."""

    def __init__(self, run: TestRun | Exception) -> None:
        self.result = run
        self.scripts: list[TestScript] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, journey: Any, script: TestScript, *, live_db: Any = None) -> TestRun:
        self.scripts.append(script)
        self.threads.append(threading.current_thread())
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def _panel(window, qtbot) -> TestRunPanel:
    window.actions_["test_run"].trigger()
    panel = window.test_run
    assert panel.dock is not None and panel.dock.isVisible()
    return panel


def _run(panel: TestRunPanel, qtbot, fake: FakeRunTest, monkeypatch) -> None:
    monkeypatch.setattr(test_run_panel, "run_test", fake)
    calls = len(fake.scripts)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(fake.scripts) > calls and not panel.running, timeout=5000)


def _badge(window, node_id: str) -> PathBadge | None:
    item = window.editor.scene.item_for_node[node_id]
    return next((c for c in item.childItems() if isinstance(c, PathBadge)), None)


def test_the_cart_journey_where_the_contact_opens_the_email_lights_the_yes_branch(window, qtbot, monkeypatch):
    panel = _panel(window, qtbot)
    assert panel.trigger.event_type.currentData() == "cart_abandoned"      # the journey's own trigger
    qtbot.mouseClick(panel.script.add_button, Qt.MouseButton.LeftButton)   # "opens the email 2 hours later"
    fake = FakeRunTest(opened_run())
    _run(panel, qtbot, fake, monkeypatch)

    script = fake.scripts[0]
    assert script.then == (Then("opened", timedelta(hours=2), channel="email"),)
    assert script.event_type == "cart_abandoned" and script.at.tzinfo is not None
    assert script.contact.first_name == "Emma" and script.contact.consent["email"] == "subscribed"
    assert fake.threads[0] is not threading.main_thread()          # never on the GUI thread

    lighting = window.editor.lighting
    assert [lighting.state_of(n) for n in (TRIGGER, WAIT, EMAIL, STATUS, TAG)] == ["reached"] * 5
    assert lighting.state_of(SMS) == "dimmed"
    assert window.editor.scene.item_for_node[SMS].opacity() == pytest.approx(DIM)
    assert set(lighting.lit_edges()) == {E_TRIGGER_WAIT, E_WAIT_EMAIL, E_EMAIL_STATUS, E_YES}
    assert window.editor.scene.item_for_edge[E_NO].opacity() == pytest.approx(DIM)
    status = _badge(window, STATUS).texts()
    assert status[0] == "4" and "Yes: opened 2 h after it was sent" in status
    # each reached step shows when, in the contact's time and the business's
    assert _badge(window, EMAIL).texts()[1] == "Tue 1 Dec 11:00 · 12:00 business"
    assert "Yes: opened 2 h after it was sent" in "\n".join(panel.story.lines())
    assert panel.result.text().startswith("✓ Completed · 5 steps · 3 h of journey time")
    banner = window.editor.view.findChild(type(panel.result), "testRunBanner")
    assert banner.isVisible() and "5 of 6 steps reached" in banner.text()


def test_the_contact_who_orders_on_day_2_exits_with_the_reason_shown(window, qtbot, monkeypatch):
    panel = _panel(window, qtbot)
    row = panel.script.add(Then("ordered", timedelta(days=1), amount=Decimal("40.00")))
    assert row.then() == Then("ordered", timedelta(days=1), amount=Decimal("40.00"))
    fake = FakeRunTest(ordered_run())
    _run(panel, qtbot, fake, monkeypatch)

    assert fake.scripts[0].then == (Then("ordered", timedelta(days=1), amount=Decimal("40.00")),)
    assert "Exited: placed an order (exit condition)" in panel.result.text()
    assert "Exited: placed an order (exit condition)" in _badge(window, STATUS).texts()
    assert _badge(window, STATUS).mark.tone == "info"
    assert "Deferred: quiet hours until 08:00 Wed" in _badge(window, EMAIL).texts()
    assert _badge(window, EMAIL).mark.tone == "warn"
    lighting = window.editor.lighting
    assert lighting.state_of(TAG) == lighting.state_of(SMS) == "dimmed"       # neither branch was taken
    assert E_YES not in lighting.lit_edges() and E_NO not in lighting.lit_edges()
    assert any("The contact | Places an order for 40.00" in line for line in panel.story.lines())


def test_unreached_steps_are_dimmed_and_skips_say_why(window, qtbot):
    panel = _panel(window, qtbot)
    panel.show_run(skipped_run())
    lighting = window.editor.lighting
    assert lighting.state_of(TAG) == "dimmed" and lighting.state_of(SMS) == "reached"
    assert window.editor.scene.item_for_node[TAG].opacity() == pytest.approx(DIM)
    assert window.editor.scene.item_for_node[SMS].opacity() == 1.0
    assert E_NO in lighting.lit_edges() and E_YES not in lighting.lit_edges()
    email = _badge(window, EMAIL)
    assert "Skipped: opted out of email" in email.texts() and email.mark.tone == "warn"
    assert _badge(window, TAG) is None
    assert "Skipped: opted out of email" in window.editor.scene.item_for_node[EMAIL].toolTip()


def test_clearing_returns_the_canvas_to_normal_and_lighting_never_edits_the_journey(window, qtbot, monkeypatch):
    editor = window.editor
    stats = JourneyStats()
    stats.nodes[EMAIL] = NodeStats(entered=3, sent=3)
    editor.scene.show_stats(stats)
    strip = editor.scene.item_for_node[EMAIL].stats_text()
    before, undo_count = to_document(editor.journey), editor.doc.undo_stack.count()
    panel = _panel(window, qtbot)
    panel.show_run(opened_run())
    assert editor.scene.item_for_node[EMAIL].stats_text() == ""       # the badge takes the numbers' place
    assert to_document(editor.journey) == before and editor.doc.undo_stack.count() == undo_count
    assert not window.session.dirty

    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    assert all(editor.lighting.state_of(n) == "normal" for n in editor.journey.nodes)
    assert all(item.opacity() == 1.0 and not any(isinstance(c, PathBadge) for c in item.childItems())
               for item in editor.scene.item_for_node.values())
    assert all(e.opacity() == 1.0 and not e.lit for e in editor.scene.item_for_edge.values())
    assert editor.scene.item_for_node[EMAIL].stats_text() == strip
    assert "Test run" not in editor.scene.item_for_node[EMAIL].toolTip()
    assert panel.story.topLevelItemCount() == 0
    assert not editor.view.findChild(type(panel.result), "testRunBanner").isVisible()
    assert to_document(editor.journey) == before and editor.doc.undo_stack.count() == undo_count
    # a second run lights again; closing the dock ends the test the same way
    panel.show_run(ordered_run())
    panel.dock.close()
    assert editor.lighting.state_of(EMAIL) == "normal"


def test_a_story_line_selects_its_step_and_a_sent_line_opens_the_message(window, qtbot):
    panel = _panel(window, qtbot)
    panel.show_run(opened_run())
    rows = [panel.story.topLevelItem(i) for i in range(panel.story.topLevelItemCount())]
    wait_row = next(r for r in rows if r.text(1) == window.editor.journey.nodes[WAIT].title)
    rect = panel.story.visualItemRect(wait_row)
    qtbot.mouseClick(panel.story.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.editor.scene.selected_ids()[0] == [WAIT]
    sent_row = next(r for r in rows if r.text(OPEN_COLUMN))
    rect = panel.story.visualRect(panel.story.indexFromItem(sent_row, OPEN_COLUMN))
    qtbot.mouseClick(panel.story.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.editor.scene.selected_ids()[0] == [EMAIL]
    dialog = panel.findChild(MessageDialog)
    assert dialog is not None and dialog.isVisible()
    assert "Emma, your cart misses you" in dialog.view.header.text()
    dialog.close()


def test_editing_the_script_runs_it_again_at_once_and_only_the_newest_answer_shows(window, qtbot, monkeypatch):
    panel = _panel(window, qtbot)
    fake = FakeRunTest(opened_run())
    _run(panel, qtbot, fake, monkeypatch)
    fake.result = ordered_run()
    panel.script.add(Then("ordered", timedelta(days=1), amount=Decimal("40.00")))
    qtbot.waitUntil(lambda: len(fake.scripts) == 2 and not panel.running, timeout=5000)
    assert fake.scripts[1].then[-1].action == "ordered"
    qtbot.waitUntil(lambda: "Exited" in panel.result.text(), timeout=5000)
    # an answer that comes back after a newer run was started is dropped
    old = panel._ticket
    panel._ran(old - 1, opened_run())
    assert "Exited" in panel.result.text() and window.editor.lighting.state_of(TAG) == "dimmed"
    # an edit on the canvas runs it again too
    calls = len(fake.scripts)
    window.editor.view.select_ids([TAG])
    window.editor.view.delete_selection()
    qtbot.waitUntil(lambda: len(fake.scripts) > calls and not panel.running, timeout=5000)


def test_a_test_that_cannot_run_says_why_and_unlights_the_old_path(window, qtbot, monkeypatch):
    panel = _panel(window, qtbot)
    _run(panel, qtbot, FakeRunTest(opened_run()), monkeypatch)
    fake = FakeRunTest(TestRunError("The journey has errors: Cart reminder email has no sender."))
    _run(panel, qtbot, fake, monkeypatch)
    assert "Cannot run the test: The journey has errors" in panel.result.text()
    assert window.editor.lighting.state_of(EMAIL) == "normal"
    panel.contact.use_store()                        # nobody chosen yet
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.result.text().startswith("Choose a contact from the list")


def test_a_contact_from_the_store_is_tested_by_id(window, qtbot, monkeypatch):
    from app.engine.importers import import_contacts, parse_contacts
    from datetime import datetime, timezone

    rows, _ = parse_contacts("id,email,first_name,last_name,timezone\nc7,lea@example.com,Lea,Fischer,Europe/Berlin\n")
    import_contacts(window.store.engine, rows, datetime(2026, 3, 2, tzinfo=timezone.utc), "people.csv")
    panel = _panel(window, qtbot)
    qtbot.mouseClick(panel.contact.store_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(panel.contact.search, "fisch")
    qtbot.waitUntil(lambda: panel.contact.chosen_id() == "c7", timeout=5000)
    fake = FakeRunTest(opened_run())
    _run(panel, qtbot, fake, monkeypatch)
    assert fake.scripts[0].live_contact_id == "c7" and fake.scripts[0].contact.id == "c7"


@pytest.mark.parametrize("then", [
    Then("opened", timedelta(hours=2), channel="email"), Then("clicked", timedelta(minutes=30), channel="sms"),
    Then("replied", timedelta(days=1), channel="whatsapp"), Then("ordered", timedelta(days=3), amount=Decimal("40.00")),
    Then("unsubscribed", timedelta(days=1), channel="sms"), Then("unsubscribed", timedelta(hours=5)),
    Then("product_viewed", timedelta(0)), Then("checkout_started", timedelta(hours=1))])
def test_each_script_row_gives_back_what_it_shows(qtbot, then):
    row = ThenRow(then)
    qtbot.addWidget(row)
    assert row.then() == then


def test_times_say_the_business_time_only_when_it_differs():
    def entry(local: str, business: str) -> StoryEntry:
        return StoryEntry(opened_run().entries[0].at, None, "entered", "", local=local, business=business)
    assert when_words(entry("Tue 1 Dec 10:00", "Tue 1 Dec 11:00"), False) == "Tue 1 Dec 10:00 · 11:00 business"
    assert when_words(entry("Tue 1 Dec 23:30", "Wed 2 Dec 00:30"), False) == \
        "Tue 1 Dec 23:30 · Wed 00:30 business"
    assert when_words(entry("Tue 1 Dec 10:00", "Tue 1 Dec 10:00"), True) == "Tue 1 Dec 10:00"
    marks = marks_for(opened_run())
    assert [marks[n].order for n in (TRIGGER, WAIT, EMAIL, STATUS, TAG)] == [1, 2, 3, 4, 5]
    assert span_words(timedelta(days=3, hours=2, minutes=5)) == "3 days 2 h" and span_words(timedelta(0)) == "0 min"


def test_no_journey_open_no_test_run(window, qtbot):
    window.close_editor()
    assert not window.actions_["test_run"].isEnabled()
    assert open_test_run(window) is None


def test_the_real_test_run_lights_the_yes_branch(window, qtbot):
    """The panel runs app/engine/test_run.run_test for real: the contact who opens the email 2 hours
    later lights the yes branch, and the SMS of the no branch stays dim."""
    journey = window.editor.journey
    panel = _panel(window, qtbot)
    qtbot.mouseClick(panel.script.add_button, Qt.MouseButton.LeftButton)     # opens the email 2 hours later
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.last is not None, timeout=10_000)
    lighting = window.editor.lighting
    assert lighting.state_of(STATUS) == "reached" and E_YES in lighting.lit_edges()
    assert E_NO not in lighting.lit_edges() and lighting.state_of(SMS) == "dimmed"


def _with(run: TestRun, node_id: str, action: str, words: str, **kw: Any) -> TestRun:
    last = run.entries[-1]
    entry = StoryEntry(last.at, node_id, action, words, local=last.local, business=last.business, **kw)
    return TestRun(run.journey_id, [*run.entries, entry], run.reached, run.taken, run.end, run.contact_zone,
                   run.business_zone, run.elapsed)


@pytest.mark.parametrize("action, words, kw, tone", [
    ("exited", "Exited: an error at this step (ValueError: bad total)", {"reason": "error"}, "bad"),
    ("failed", "Failed: the template cannot be rendered", {}, "bad"),
    ("exited", "Exited: goal reached", {"reason": "goal"}, "info"),
    ("exited", "Exited: unsubscribed from everything", {"reason": "unsubscribed"}, "info"),
    ("skipped", "Skipped: no phone number", {"reason": "no_address"}, "warn"),
    ("deferred", "Deferred: frequency cap until 14:00 Wed", {"reason": "frequency_cap"}, "warn"),
])
def test_an_exit_or_a_problem_at_a_step_is_shown_there_with_its_reason(window, qtbot, action, words, kw, tone):
    panel = _panel(window, qtbot)
    panel.show_run(_with(opened_run(), STATUS, action, words, **kw))
    badge = _badge(window, STATUS)
    assert words in badge.texts() and badge.mark.tone == tone
    assert any(words in line for line in panel.story.lines())


def test_a_no_branch_is_marked_apart_from_a_yes(window, qtbot):
    panel = _panel(window, qtbot)
    panel.show_run(skipped_run())
    assert _badge(window, STATUS).mark.tone == "warn" and "No: no email was sent" in _badge(window, STATUS).texts()
    panel.show_run(opened_run())
    assert _badge(window, STATUS).mark.tone == "ok"


def test_a_run_still_waiting_at_the_end_says_so(window, qtbot):
    panel = _panel(window, qtbot)
    run = ordered_run()
    waiting = TestRun(run.journey_id, run.entries[:5], run.reached, run.taken,
                      "still waiting at “Opened within 24 h?” after 365 days", run.contact_zone, run.business_zone)
    panel.show_run(waiting)
    assert "Still waiting at “Opened within 24 h?”" in panel.result.text()
    assert _badge(window, STATUS).texts()[-1] == "Waits up to 24 h for the email to be opened"


def test_a_step_added_while_the_path_is_lit_is_dimmed_and_no_edit_is_recorded_by_the_lighting(window, qtbot):
    panel = _panel(window, qtbot)
    panel.show_run(opened_run())
    count = window.editor.doc.undo_stack.count()
    new_id = window.editor.view.add_node("wait")
    assert window.editor.doc.undo_stack.count() == count + 1          # the user's edit, nothing more
    assert window.editor.lighting.state_of(new_id) == "dimmed"
    assert window.editor.scene.item_for_node[new_id].opacity() == pytest.approx(DIM)
    panel.clear()
    assert window.editor.scene.item_for_node[new_id].opacity() == 1.0


def test_opening_another_journey_starts_the_test_afresh(window, qtbot, store):
    panel = _panel(window, qtbot)
    panel.show_run(opened_run())
    other = store.find("Welcome series")
    assert window.open_journey(other.id)
    assert panel.editor is window.editor and panel.last is None and panel.story.topLevelItemCount() == 0
    assert all(window.editor.lighting.state_of(n) == "normal" for n in window.editor.journey.nodes)
    trigger = next(n for n in window.editor.journey.nodes.values() if n.kind == "trigger")
    assert panel.trigger.event_type.currentData() == trigger.config["event"]

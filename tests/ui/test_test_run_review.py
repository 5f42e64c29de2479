"""Review of the test-run UI (issue 11) with the real engine: what a shop owner sees on the canvas and in
the panel after real runs of the examples."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QLabel

from app.canvas.lighting import PathBadge
from app.engine.test_run import Then
from app.ui.test_run_panel import TestRunPanel


def _panel(window) -> TestRunPanel:
    window.actions_["test_run"].trigger()
    return window.test_run


def _run(panel: TestRunPanel, qtbot, thens=(), at=datetime(2026, 3, 2, 10, 0), zone: str | None = None) -> None:
    panel.script.set_script(tuple(thens))
    if zone is not None:
        panel.contact.zone.set_value(zone)
    panel.trigger.at.setDateTime(QDateTime(at))
    panel.last = None
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running and (panel.last is not None or "Cannot" in panel.result.text()),
                    timeout=10_000)


def _badge(window, title: str) -> PathBadge:
    node = next(n for n in window.editor.journey.nodes.values() if n.title == title)
    item = window.editor.scene.item_for_node[node.id]
    return next(c for c in item.childItems() if isinstance(c, PathBadge))


def test_a_branch_decided_a_day_later_shows_when_it_was_decided(window, qtbot):
    """The contact reaches "Opened within 24 h?" on Monday; the "No" is decided on Tuesday: the badge
    must not put Tuesday's answer beside Monday's time alone."""
    panel = _panel(window)
    _run(panel, qtbot)
    badge = _badge(window, "Opened within 24 h?")
    assert badge.texts()[1:] == ["Mon 2 Mar 11:00 → Tue 3 Mar 11:00", "No: not opened within 24 hours"]


def test_an_exit_a_day_later_shows_when_the_contact_left(window, qtbot):
    panel = _panel(window)
    _run(panel, qtbot, [Then("ordered", timedelta(days=1), amount=Decimal("40"))])
    badge = _badge(window, "Opened within 24 h?")
    assert badge.texts()[1] == "Mon 2 Mar 11:00 → Tue 3 Mar 10:00"
    assert badge.texts()[2].startswith("Exited: exit condition met")


def test_a_step_where_everything_happened_at_once_shows_one_time(window, qtbot):
    panel = _panel(window)
    _run(panel, qtbot, [Then("opened", timedelta(hours=2), channel="email")])
    assert _badge(window, "Cart reminder email").texts()[1] == "Mon 2 Mar 11:00"
    assert _badge(window, "Opened within 24 h?").texts()[1] == "Mon 2 Mar 11:00 → Mon 2 Mar 13:00"


def test_the_business_time_on_another_day_fits_the_badge(window, qtbot):
    """New York at 21:30 is 02:30 the next day in UTC (the business's zone here): the badge says
    "Tue 02:30 business" in full, not an elided "Tue 3 Mar 02:30 bu…"."""
    panel = _panel(window)
    _run(panel, qtbot, at=datetime(2026, 3, 2, 21, 30), zone="America/New_York")
    assert _badge(window, "Wait 1 hour").texts()[1] == "Mon 2 Mar 21:30 · Tue 02:30 business"
    assert _badge(window, "Cart reminder email").texts()[2] == "Deferred: quiet hours until 08:00 Tue"


def test_a_draft_with_errors_names_each_step_that_needs_fixing(window, qtbot):
    """Deleting the email while lit leaves three steps cut off and a branch checking nothing: the panel
    says which steps (not "this step" three times) and the canvas is no longer lit."""
    panel = _panel(window)
    _run(panel, qtbot)
    editor = window.editor
    email = next(n for n in editor.journey.nodes.values() if n.title == "Cart reminder email")
    editor.scene.select_only([editor.scene.item_for_node[email.id]])
    editor.view.delete_selection()
    qtbot.waitUntil(lambda: not panel.running and "cannot run yet" in panel.result.text(), timeout=10_000)
    text = panel.result.text()
    assert "this step" not in text
    for title in ("Opened within 24 h?", "Tag +cart-engaged", "Discount SMS"):
        assert title in text
    assert text.lower().count("no path from the trigger reaches") == 1
    assert not editor.lighting.active and panel.story.topLevelItemCount() == 0


def _import_sample_contacts(window) -> None:
    from app.engine.file_import import import_contacts_file
    from app.paths import RESOURCES

    import_contacts_file(window.store.engine, RESOURCES / "sample_contacts.csv", datetime(2026, 3, 1, tzinfo=UTC))


def test_a_contact_from_the_store_is_named_on_the_canvas_by_name_not_id(window, qtbot):
    _import_sample_contacts(window)
    panel = _panel(window)
    panel.contact.use_store("lucas")
    qtbot.waitUntil(lambda: panel.contact.chosen_id() == "c002", timeout=5000)
    _run(panel, qtbot)
    banner = window.editor.view.findChild(QLabel, "testRunBanner")
    assert banner.text().startswith("TEST RUN · Lucas Martin · ")
    assert "c002" not in banner.text()
    assert any("lucas.martin@example.com" in line for line in panel.story.lines())


def test_the_trigger_time_of_a_stored_contact_is_in_the_contacts_own_zone(window, qtbot):
    """Emma (c001) lives in London, the business in Berlin: "At 22:00" is 22:00 for Emma, as the README
    says and as for a described contact, not 22:00 Berlin shown as 21:00 in her story."""
    from app.store.app_settings import set_business_timezone

    set_business_timezone(window.store.engine, "Europe/Berlin")
    _import_sample_contacts(window)
    panel = _panel(window)
    panel.contact.use_store("c001")
    qtbot.waitUntil(lambda: panel.contact.chosen_id() == "c001" and panel.contact.zone_name() != "", timeout=5000)
    assert panel.trigger.zone_note.text() == "Europe/London"
    _run(panel, qtbot, at=datetime(2026, 3, 2, 22, 0))
    assert panel.story.lines()[0].startswith("Mon 2 Mar 22:00 | ")
    assert panel.last is not None and panel.last.contact_zone == "Europe/London"


def test_with_the_whole_journey_in_view_each_badge_still_says_when_and_what(window, qtbot):
    """The first view of a run is the whole journey fitted (about half size): there each badge shows
    the time of what happened as well as what happened, not the words alone."""
    from app.canvas.style import LOD_FULL

    panel = _panel(window)
    _run(panel, qtbot, [Then("opened", timedelta(hours=2), channel="email")])
    assert window.editor.view.zoom() < LOD_FULL          # fitted at 1400×900: the zoomed-out badges show
    when, what = _badge(window, "Opened within 24 h?").zoomed_out_texts()
    assert when == "Mon 2 Mar 13:00" and what.startswith("Yes: opened within 24 h")
    assert _badge(window, "Wait 1 hour").zoomed_out_texts()[0] == "Mon 2 Mar 10:00"
    assert _badge(window, "When cart abandoned").zoomed_out_texts() == ["Mon 2 Mar 10:00"]


def test_opening_the_panel_warms_the_engine_up_quietly_on_a_worker(window, qtbot, monkeypatch):
    """The first run paid the engine's start-up (imports, templates, the first throwaway database: about
    a second) while later ones take a tenth: opening the panel pays it on a worker, showing nothing and
    reading nothing from the live store."""
    import threading

    from app.ui import test_run_panel

    calls: list[tuple[object, threading.Thread]] = []
    real = test_run_panel.run_test

    def recording(journey, script, *, live_db=None):
        calls.append((live_db, threading.current_thread()))
        return real(journey, script, live_db=live_db)

    monkeypatch.setattr(test_run_panel, "run_test", recording)
    panel = _panel(window)
    before = panel.result.text()
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10_000)
    qtbot.wait(200)
    assert calls[0][0] is None and calls[0][1] is not threading.main_thread()
    assert panel.last is None and not window.editor.lighting.active and panel.result.text() == before
    panel.dock.hide()
    window.actions_["test_run"].trigger()
    qtbot.wait(200)
    assert len(calls) == 1                     # once per session


def test_a_journey_started_by_time_shows_its_trigger_not_another_journeys_event(window, qtbot, store):
    """Post-purchase (order placed), then Win-back (no order for 60 days): the event field must not
    keep saying "Order placed"; back on the cart journey it is its event again, and choosable."""
    panel = _panel(window)
    for name in ("Post-purchase", "Win-back"):
        assert window.open_journey(store.find(name).id)
    combo = panel.trigger.event_type
    assert "No order for 60 days" in combo.currentText() and not combo.isEnabled()
    _run(panel, qtbot)
    assert panel.story.lines()[0].endswith("No order for 60 days (the trigger)")
    assert window.open_journey(store.find("Cart abandonment").id)
    assert combo.currentData() == "cart_abandoned" and combo.isEnabled() and combo.findData("") < 0


def test_the_event_follows_an_edit_of_the_trigger(window, qtbot):
    """The trigger is changed to "Checkout started" on the canvas while the panel is open: the test
    runs with that event rather than failing with "starts on checkout started, not on cart abandoned"."""
    from app.canvas.commands import SetValue

    panel = _panel(window)
    _run(panel, qtbot)
    doc = window.editor.doc
    trigger = next(n for n in doc.journey.nodes.values() if n.kind == "trigger")
    doc.undo_stack.push(SetValue(doc, trigger.id, ("config", "event"), "checkout_started", "event"))
    assert panel.trigger.event_type.currentData() == "checkout_started"
    qtbot.waitUntil(lambda: not panel.running and panel.last is not None
                    and panel.story.lines()[0].endswith("(the trigger)")
                    and "heckout" in panel.story.lines()[0], timeout=10_000)
    assert "Cannot" not in panel.result.text()


def test_a_removed_script_line_is_gone_at_once(window, qtbot):
    panel = _panel(window)
    panel.script.set_script((Then("ordered", timedelta(days=2), amount=Decimal("40")),))
    row = panel.script.rows[0]
    qtbot.waitUntil(row.isVisible)
    panel.script.set_script(())
    assert not row.isVisible() and panel.script.nothing.isVisible()


def test_the_story_colours_a_no_branch_as_the_canvas_does(window, qtbot):
    from app.canvas.lighting import path_colours

    panel = _panel(window)
    _run(panel, qtbot)
    row = next(i for i, line in enumerate(panel.story.lines()) if "No: not opened" in line)
    assert panel.story.tone_of(row) == path_colours().warn
    assert _badge(window, "Opened within 24 h?").mark.tone == "warn"


def test_an_sms_of_the_run_opens_in_a_window_sized_for_a_text(window, qtbot):
    from app.ui.test_run_message import MessageDialog

    panel = _panel(window)
    _run(panel, qtbot)
    rows = [i for i, e in enumerate(panel.story.entries) if e.message is not None]
    channels = [panel.story.entries[i].message.channel for i in rows]
    assert channels == ["email", "sms"]
    for row in rows:
        panel.story.message_requested.emit(row)
    email, sms = window.findChildren(MessageDialog)[-2:]
    assert sms.windowTitle() == "SMS of the test run"
    assert sms.height() <= 320 < email.height()

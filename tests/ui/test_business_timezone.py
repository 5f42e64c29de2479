"""Issue 8 §7 in the app: the business's time zone is asked once, kept in the database,
editable under File → Settings, and a journey may choose its own in the journey settings."""
from __future__ import annotations

from app.store.app_settings import business_timezone, set_business_timezone
from app.ui import launch
from app.ui.settings_dialog import SettingsDialog, guess_local_zone


def test_first_start_asks_without_blocking_and_stores_the_choice(qtbot, window):
    dialog = window.ask_business_timezone()           # returns at once: the dialog does not block
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    assert dialog.zone.value() == guess_local_zone()  # a sensible suggestion
    dialog.zone.lineEdit().setText("asia/tokyo")      # typed, any case
    dialog.save()
    assert business_timezone(window.store.engine) == "Asia/Tokyo"
    assert not dialog.isVisible()
    assert window.ask_business_timezone() is None     # set: not asked again


def test_a_name_that_is_no_time_zone_is_refused_and_nothing_is_stored(qtbot, window):
    dialog = window.open_settings()
    dialog.zone.lineEdit().setText("Mars/Olympus")
    dialog.zone.lineEdit().editingFinished.emit()     # focus leaves the field for the Save button…
    dialog.save()                                     # …which must not save the previous choice instead
    assert dialog.isVisible() and "not a time zone" in dialog.error.text()
    assert business_timezone(window.store.engine) is None
    dialog.zone.lineEdit().setText("America/Chicago")
    dialog.save()
    assert business_timezone(window.store.engine) == "America/Chicago" and not dialog.isVisible()


def test_settings_are_in_the_file_menu_and_show_the_stored_zone(qtbot, window):
    set_business_timezone(window.store.engine, "Europe/Lisbon")
    action = window.actions_["settings"]
    action.trigger()
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None and dialog.zone.value() == "Europe/Lisbon"
    dialog.reject()


def test_start_up_never_asks_offscreen(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not launch._may_ask()


def test_the_journey_settings_choose_a_zone_of_their_own_as_an_undoable_edit(qtbot, window):
    set_business_timezone(window.store.engine, "Europe/Berlin")
    window.open_settings().save()                      # as after the dialog: the label names the zone
    inspector = window.inspector
    inspector.show_target("")
    picker = inspector.builder.editors[("settings", "timezone")].combo
    assert picker.currentText() == "Business time zone (Europe/Berlin)"
    picker.lineEdit().setText("Australia/Sydney")
    picker.commit_text()
    journey = window.editor.journey
    assert journey.settings["timezone"] == "Australia/Sydney"
    picker = inspector.builder.editors[("settings", "timezone")].combo
    picker.lineEdit().setText("Sydney, Australia")     # not a zone name: refused, nothing changes
    picker.commit_text()
    assert journey.settings["timezone"] == "Australia/Sydney"
    assert picker.property("invalid") is True
    window.editor.doc.undo_stack.undo()
    assert journey.settings["timezone"] == ""


def test_activating_without_a_business_zone_says_contacts_are_judged_in_utc(qtbot, window):
    journey_id = window.session.journey_id
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    window.actions_["activate"].trigger()
    qtbot.waitUntil(lambda: window.store.get(journey_id).status == "active", timeout=5000)
    qtbot.waitUntil(lambda: any("is active" in m for m in messages), timeout=5000)
    assert any("No business time zone is set" in m for m in messages)

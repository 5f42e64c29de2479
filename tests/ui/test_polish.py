"""What a user sees around the canvas: whole choice texts, list buttons that say what
they add, toolbar icons, a problems panel sized to its content, status wording and
empty states."""
from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLabel, QPushButton, QToolBar, QToolButton

from app.canvas.commands import delete_items
from app.journey import schema as S
from app.journey.schema import Field
from app.ui.combo import WrappingComboBox
from app.ui.form import item_noun
from app.ui.main_window import problem_count

from .conftest import kind_node


def _buttons(window) -> list[str]:
    return [b.text() for b in window.inspector.widget().findChildren(QPushButton)]


def test_a_long_choice_wraps_in_the_inspector_instead_of_being_cut(window, qtbot):
    doc = window.editor.doc
    from app.canvas.commands import SetValue
    doc.undo_stack.push(SetValue(doc, "", ("settings", "retrigger"), "restart", "re-trigger"))
    combo = window.inspector.builder.editors[("settings", "retrigger")].combo
    assert isinstance(combo, WrappingComboBox)
    assert combo.currentText() == "Exit the current run (re-triggered) and start a new one"
    qtbot.waitUntil(lambda: combo.height() >= combo.heightForWidth(combo.width()))
    assert combo.lines() == 2
    page = window.inspector.widget()
    right = combo.mapTo(page, QPoint(combo.width(), 0)).x()
    assert right <= window.inspector.viewport().width()          # not wider than the panel either
    short = window.inspector.builder.editors[("settings", "entry", "mode")].combo
    assert short.lines() == 1 and short.height() < combo.height()


def test_short_field_labels_stay_on_one_line(window):
    trigger = kind_node(window, "trigger")
    window.editor.view.select_ids([trigger.id])
    label = next(lbl for lbl in window.inspector.widget().findChildren(QLabel) if lbl.text() == "Only contacts tagged")
    assert not label.wordWrap()


def test_list_add_buttons_name_what_they_add(window):
    buttons = _buttons(window)                                   # the journey's settings
    assert "+ Add exit event" in buttons and "+ Add condition" in buttons
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    combo = window.inspector.builder.editors[("config", "recipients")].combo
    combo.activated.emit(combo.findData("matching"))
    assert "+ Add term" in _buttons(window)
    assert item_noun(Field("follow_ups", S.LIST, "Follow-ups", fields=(Field("x", S.TEXT, "X"),))) == "follow up"
    assert item_noun(Field("events", S.LIST, "Events", fields=(Field("event", S.EVENT, "Event"),))) == "event"


def test_toolbar_actions_have_icons_and_tooltips(window):
    toolbar = window.findChild(QToolBar, "mainToolbar")
    actions = [a for a in toolbar.actions() if not a.isSeparator()]
    assert len(actions) >= 9
    for action in actions:
        assert not action.icon().isNull(), action.text()
        button = toolbar.widgetForAction(action)
        assert isinstance(button, QToolButton)
        assert button.toolTip() or action.toolTip()
    window.editor.view.add_node("wait")
    assert window.actions_["undo"].toolTip() == "Undo Add Wait"
    zoom_in = toolbar.widgetForAction(window.actions_["zoom_in"])
    assert "Ctrl" in window.actions_["zoom_in"].toolTip() and zoom_in.text() == "Zoom in"


def test_problems_panel_is_one_slim_line_when_all_is_well_and_grows_with_problems(window, qtbot):
    panel = window.problems
    window.editor.validator.public_url = None     # judged as a file: no "opens not measured" warning
    window.editor.validator.wait()
    window._show_problems()
    slim = panel.height()
    assert slim <= panel.fontMetrics().height() + 24
    journey = window.editor.journey
    status = kind_node(window, "message_status")
    delete_items(window.editor.doc, [], [e.id for e in journey.edges.values() if e.source == status.id], [], "Delete")
    window.editor.validator.wait()
    window._show_problems()
    assert panel.count() >= 3
    assert panel.height() > 2 * slim
    assert window.problem_label.text().endswith("warnings") or "error" in window.problem_label.text()


def test_status_bar_counts_in_words_and_clears_when_nothing_is_open(window):
    assert problem_count(0, 0) == "No problems"
    assert problem_count(1, 0) == "1 error"
    assert problem_count(2, 1) == "2 errors, 1 warning"
    assert window.zoom_label.text().startswith("Zoom")
    window.close_editor()
    assert window.zoom_label.text() == window.problem_label.text() == window.save_label.text() == ""
    assert not window.problems.isVisible()
    assert window.journeys.current_id() == ""
    for key in ("layout", "note", "save", "fit", "insert:wait"):      # nothing for them to act on
        assert not window.actions_[key].isEnabled(), key
    assert window.actions_["new"].isEnabled() and window.actions_["import"].isEnabled()
    window.open_journey(window.store.find("Win-back").id)
    assert window.actions_["layout"].isEnabled() and window.actions_["insert:wait"].isEnabled()


def test_an_empty_journey_library_says_how_to_start(window, store):
    window.close_editor()
    for row in store.list():
        store.delete(row.id)
    window.refresh_list()
    image = window.journeys.list.viewport().grab().toImage()
    background = image.pixelColor(image.width() - 2, image.height() - 2)
    text = sum(1 for x in range(0, image.width(), 2) for y in range(0, 120, 2) if image.pixelColor(x, y) != background)
    assert text > 30, "the empty list shows no hint"


def test_palette_items_explain_themselves(window):
    from app.journey.registry import get_kind
    palette = window.step_palette
    for row in range(palette.count()):
        tip = palette.item(row).toolTip()
        assert get_kind(palette.kind_at(row)).description in tip and "double-click" in tip


def test_a_subject_that_wraps_grows_its_box_instead_of_scrolling(window, qtbot):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    editor = window.inspector.builder.editors[("config", "subject")].text
    two_lines = editor.height()
    editor.set_text("{{ contact.first_name | default('Hi') }}, the things you left in your cart are still "
                    "waiting for you at Corner Shop")
    qtbot.waitUntil(lambda: editor.height() > two_lines)
    qtbot.waitUntil(lambda: editor.verticalScrollBar().maximum() == 0)


def test_an_unset_date_says_so_and_its_calendar_opens_on_this_month(qtbot):
    from PySide6.QtCore import QDate

    from app.ui.editors import DateTimeEditor

    editor = DateTimeEditor(Field("until", S.DATETIME, "Until"))
    qtbot.addWidget(editor)
    editor.set_value("")
    assert editor.edit.text() == "Not set: pick a date" and editor.edit.font().italic()
    assert not editor.clear.isEnabled()                      # nothing to clear
    calendar = editor.edit.calendarWidget()
    calendar.window().show()
    today = QDate.currentDate()
    assert (calendar.yearShown(), calendar.monthShown()) == (today.year(), today.month())   # not January 2000
    calendar.window().hide()
    editor.set_value("2026-12-24T09:00:00+00:00")
    assert editor.clear.isEnabled() and not editor.edit.font().italic()

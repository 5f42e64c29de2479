"""The inspector edits the selected step through undoable commands."""
from __future__ import annotations

from PySide6.QtTest import QTest

from .conftest import kind_node


def test_typing_a_subject_is_one_undo_step_and_undo_restores_it(window, qtbot):
    send = kind_node(window, "send_template")
    original = send.config["subject"]
    window.editor.view.select_ids([send.id])
    editor = window.inspector.builder.editors[("config", "subject")]
    text = editor.text
    text.setFocus()
    text.selectAll()
    depth = window.editor.doc.undo_stack.count()

    QTest.keyClicks(text, "Your cart is waiting")

    assert send.config["subject"] == "Your cart is waiting"
    assert window.editor.doc.undo_stack.count() == depth + 1           # typing merged into one step
    assert window.actions_["undo"].text() == "Undo Change subject"
    assert "Your cart is waiting" in window.editor.scene.item_for_node[send.id].toolTip()

    window.actions_["undo"].trigger()

    assert send.config["subject"] == original
    assert text.toPlainText() == original                            # the editor follows the undo
    assert window.inspector.target == send.id


def test_choosing_a_channel_shows_that_channels_fields(window):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    combo = window.inspector.builder.editors[("config", "channel")].combo
    combo.activated.emit(combo.findData("sms"))
    assert send.config["channel"] == "sms"
    editors = window.inspector.builder.editors
    assert ("config", "message") in editors and ("config", "subject") not in editors
    window.editor.doc.undo_stack.undo()
    assert ("config", "subject") in window.inspector.builder.editors


def test_nothing_selected_shows_the_journey_settings(window):
    window.editor.scene.clearSelection()
    editors = window.inspector.builder.editors
    assert ("settings", "retrigger") in editors and ("name",) in editors
    box = editors[("settings", "frequency_cap", "enabled")].box
    box.click()
    assert window.editor.journey.settings["frequency_cap"]["enabled"] is True
    assert ("settings", "frequency_cap", "messages") in window.inspector.builder.editors
    window.editor.doc.undo_stack.undo()
    assert window.editor.journey.settings["frequency_cap"]["enabled"] is False


def test_adding_a_list_row_and_marking_an_end(window):
    trigger = kind_node(window, "trigger")
    window.editor.view.select_ids([trigger.id])
    from PySide6.QtWidgets import QPushButton
    add = next(b for b in window.inspector.widget().findChildren(QPushButton) if b.text() == "+ Add condition")
    add.click()
    assert len(trigger.config["conditions"]) == 1
    assert ("config", "conditions", 0, "field") in window.inspector.builder.editors
    tag = kind_node(window, "tag")
    window.editor.view.select_ids([tag.id])
    assert tag.ends == ("next",)
    from PySide6.QtWidgets import QCheckBox
    ends = next(b for b in window.inspector.widget().findChildren(QCheckBox) if "ends" in b.text())
    ends.click()
    assert tag.ends == ()


def test_template_editor_suggests_variables(window, qtbot):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    text = window.inspector.builder.editors[("config", "subject")].text
    text.setFocus()
    text.selectAll()
    QTest.keyClicks(text, "Hi {{ first")
    assert text.completer.completionPrefix() == "first"
    assert text.completer.currentCompletion() == "contact.first_name"
    text.completer.activated.emit("contact.first_name")
    assert send.config["subject"] == "Hi {{ contact.first_name }}"


def test_double_clicking_a_step_puts_the_cursor_in_the_inspector(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    tag = kind_node(window, "tag")
    view = window.editor.view
    view.set_zoom(1.0)
    centre = window.editor.scene.item_for_node[tag.id].sceneBoundingRect().center()
    view.centerOn(centre)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(centre))
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(centre))
    assert window.inspector.target == tag.id
    assert QApplication.focusWidget() is window.inspector.builder.editors[("name",)].line


def test_several_selected_items_are_described_not_edited(window):
    trigger, wait = kind_node(window, "trigger"), kind_node(window, "wait")
    window.editor.view.select_ids([trigger.id, wait.id])
    assert window.inspector.builder is None
    from PySide6.QtWidgets import QLabel
    assert any(label.text() == "2 items selected" for label in window.inspector.widget().findChildren(QLabel))
    window.editor.scene.clearSelection()
    assert ("settings", "retrigger") in window.inspector.builder.editors


def test_the_figures_of_an_sms_step_and_a_branch_say_what_is_true(window):
    from app.engine.stats import JourneyStats, NodeStats

    journey = window.editor.journey
    sms = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "sms")
    branch = kind_node(window, "message_status")
    stats = JourneyStats()
    stats.nodes[sms.id] = NodeStats(entered=12, sent=10, delivered=9, converted=2, revenue=64.0)
    stats.nodes[branch.id] = NodeStats(entered=9, branched={"yes": 3, "no": 4}, branch_reasons={"no_message": 1},
                                       waiting=1, left={"journey_stopped": 1})
    window.inspector.set_stats(stats)

    window.editor.view.select_ids([sms.id])
    figures = window.inspector.numbers.figures()
    assert "Opened" not in figures and "Clicked" not in figures
    assert (figures["Delivered"], figures["Converted"], figures["Revenue"]) == ("9 · 90%", "2", "64.00")

    window.editor.view.select_ids([branch.id])
    figures = window.inspector.numbers.figures()
    assert (figures["Yes"], figures["No"]) == ("3", "4 (1 no message sent)")
    assert figures["Waiting now"] == "1" and figures["Left here"] == "1 journey stopped"
    assert not any("no_message" in text or "_" in label for label, text in figures.items())

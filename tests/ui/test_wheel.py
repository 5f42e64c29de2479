"""Scrolling never edits: the wheel over the settings panel scrolls it; a field changes only when it
has focus. Driven with real QWheelEvents sent to the widget under the pointer."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDateTimeEdit, QDial, QDoubleSpinBox,
                               QScrollArea, QSlider, QSpinBox, QVBoxLayout, QWidget)

from app.ui.wheel import guard_wheel

from .conftest import kind_node

DOWN, UP = -120, 120


def wheel(widget: QWidget, delta: int = DOWN) -> None:
    """One notch of the wheel over the middle of `widget`, as Qt delivers it to the widget under the pointer."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def _settings_panel(window):
    """The journey settings in a panel short enough to scroll, not yet scrolled, focus on the canvas."""
    window.editor.scene.clearSelection()
    inspector = window.inspector
    inspector.setFixedHeight(320)
    QApplication.processEvents()
    bar = inspector.verticalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(0)
    window.editor.view.setFocus()
    return inspector, bar


def test_the_wheel_over_an_unfocused_spin_box_scrolls_the_panel_and_leaves_the_value(window, qtbot):
    inspector, bar = _settings_panel(window)
    spin = inspector.builder.editors[("settings", "conversion_window")].amount
    assert spin.value() == 5 and not spin.hasFocus()
    depth = window.editor.doc.undo_stack.count()

    for _ in range(4):
        wheel(spin)

    assert spin.value() == 5
    assert window.editor.journey.settings["conversion_window"] == {"amount": 5, "unit": "days"}
    assert window.editor.doc.undo_stack.count() == depth              # no edit happened
    assert bar.value() > 0                                            # the panel scrolled instead


def test_the_wheel_over_the_entry_rule_does_not_flip_it(window, qtbot):
    inspector, bar = _settings_panel(window)
    combo = inspector.builder.editors[("settings", "entry", "mode")].combo
    before = window.editor.journey.settings["entry"]["mode"]
    wheel(combo)
    wheel(combo, UP)
    wheel(combo)
    assert window.editor.journey.settings["entry"]["mode"] == before
    assert combo.currentData() == before and bar.value() > 0


def test_a_focused_field_takes_the_wheel(window, qtbot):
    inspector, _bar = _settings_panel(window)
    spin = inspector.builder.editors[("settings", "conversion_window")].amount
    window.activateWindow()
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    wheel(spin, UP)
    assert window.editor.journey.settings["conversion_window"]["amount"] == 6
    window.editor.doc.undo_stack.undo()
    assert window.editor.journey.settings["conversion_window"]["amount"] == 5


def test_every_field_of_every_step_ignores_the_wheel_without_focus(window, qtbot):
    """Spin boxes, double spin boxes, date-time and time edits, plain and editable combos, in every kind's form."""
    doc = window.editor.doc
    journey = window.editor.journey
    seen: set[type] = set()
    for node in list(journey.nodes.values()):
        window.editor.view.select_ids([node.id])
        QApplication.processEvents()
        before = doc.undo_stack.count()
        config = repr(node.config)
        for editor in list(window.inspector.builder.editors.values()):
            for field in editor.findChildren(QWidget):
                if isinstance(field, (QAbstractSpinBox, QComboBox, QSlider)) and field.window() is window:
                    seen.add(next(t for t in (QSpinBox, QDoubleSpinBox, QAbstractSpinBox, QComboBox, QSlider)
                                  if isinstance(field, t)))
                    wheel(field)
                    wheel(field, UP)
                    wheel(field, UP)
        assert doc.undo_stack.count() == before and repr(node.config) == config, node.kind
    assert {QSpinBox, QComboBox} <= seen


def test_a_trigger_spend_amount_and_a_send_date_ignore_the_wheel(window, qtbot):
    doc = window.editor.doc
    trigger, send = kind_node(window, "trigger"), kind_node(window, "send_template")
    from app.canvas.commands import SetValue

    doc.undo_stack.push(SetValue(doc, trigger.id, ("config", "mode"), "spend", "starts"))
    window.editor.view.select_ids([trigger.id])
    amount = window.inspector.builder.editors[("config", "threshold")].spin
    assert isinstance(amount, QDoubleSpinBox)
    value = amount.value()
    wheel(amount)
    assert amount.value() == value and trigger.config["threshold"] == value

    doc.undo_stack.push(SetValue(doc, send.id, ("config", "timing"), "scheduled", "when"))
    doc.undo_stack.push(SetValue(doc, send.id, ("config", "send_at"), "2030-05-01T10:00:00+00:00", "send at"))
    window.editor.view.select_ids([send.id])
    edit = window.inspector.builder.editors[("config", "send_at")].edit
    assert isinstance(edit, QDateTimeEdit)
    shown = edit.dateTime()
    wheel(edit)
    assert edit.dateTime() == shown and send.config["send_at"] == "2030-05-01T10:00:00+00:00"


@pytest.mark.parametrize("make", [QSpinBox, QDoubleSpinBox, QDateTimeEdit, QSlider, QDial,
                                  lambda: _editable_combo()])
def test_guard_wheel_covers_every_wheel_sensitive_widget(qtbot, make):
    area = QScrollArea()
    qtbot.addWidget(area)
    page = QWidget()
    column = QVBoxLayout(page)
    field = make()
    if isinstance(field, (QSlider, QDial)):
        field.setRange(0, 100)
        field.setValue(50)
    column.addWidget(field)
    column.addSpacing(2000)
    area.setWidget(page)
    area.resize(300, 200)
    guard_wheel(page)
    area.show()
    before = _value(field)
    wheel(field)
    wheel(field)
    assert _value(field) == before
    assert area.verticalScrollBar().value() > 0
    assert field.focusPolicy() != Qt.FocusPolicy.WheelFocus        # the wheel does not arm it either
    inner = field.lineEdit() if isinstance(field, (QAbstractSpinBox, QComboBox)) else None
    if inner is not None:                                            # the wheel over its text part: the same
        area.verticalScrollBar().setValue(0)
        wheel(inner)
        assert _value(field) == before and area.verticalScrollBar().value() > 0


def _editable_combo() -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.addItems(["one", "two", "three"])
    combo.setCurrentIndex(1)
    return combo


def _value(field: QWidget) -> object:
    if isinstance(field, QDateTimeEdit):
        return field.dateTime()
    if isinstance(field, QComboBox):
        return field.currentIndex()
    return field.value()     # type: ignore[attr-defined]


def test_the_wheel_over_the_time_zone_in_file_settings_does_not_change_it(window, qtbot):
    """File → Settings: the business's time zone is an editable combo; rolling the wheel over it
    (without clicking it) must not pick another zone."""
    from app.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.store.engine, window)
    qtbot.addWidget(dialog)
    dialog.show()
    window.editor.view.setFocus()
    picker = dialog.zone
    before = picker.currentIndex()
    for target in (picker, picker.lineEdit()):
        wheel(target)
        wheel(target, UP)
        wheel(target)
    assert picker.currentIndex() == before
    assert picker.focusPolicy() != Qt.FocusPolicy.WheelFocus


def test_a_field_added_to_any_window_later_ignores_the_wheel_without_focus(window, qtbot):
    """Not only the forms built so far: a field created afterwards, anywhere in the app (a dialog,
    the status bar, a row added with "+ Add …"), passes the wheel on while it has no focus."""
    area = QScrollArea()
    qtbot.addWidget(area)
    page = QWidget()
    column = QVBoxLayout(page)
    spin, combo = QSpinBox(), _editable_combo()
    spin.setValue(7)
    column.addWidget(spin)
    column.addWidget(combo)
    column.addSpacing(2000)
    area.setWidget(page)
    area.resize(300, 200)
    area.show()
    window.editor.view.setFocus()
    wheel(spin)
    wheel(combo)
    wheel(combo.lineEdit())
    assert spin.value() == 7 and combo.currentIndex() == 1
    assert area.verticalScrollBar().value() > 0
    assert spin.focusPolicy() != Qt.FocusPolicy.WheelFocus


def test_every_field_of_the_journey_settings_ignores_the_wheel_even_in_rows_added_later(window, qtbot):
    """Entry, re-trigger, goal and conversion windows, quiet hours (time edits), frequency cap, time
    zone, consent — and the fields of exit conditions and goal conditions added with "+ Add …"."""
    from PySide6.QtWidgets import QPushButton

    window.editor.scene.clearSelection()
    QApplication.processEvents()
    doc = window.editor.doc
    for _ in range(3):                   # each "+ Add" rebuilds the form: press the next one afresh
        buttons = [b for b in window.inspector.findChildren(QPushButton) if b.text().startswith("+ Add")]
        assert buttons
        buttons[_ % len(buttons)].click()
        QApplication.processEvents()
    settings = repr(window.editor.journey.settings)
    index = doc.undo_stack.index()
    window.editor.view.setFocus()
    fields = [w for w in window.inspector.findChildren(QWidget)
              if isinstance(w, (QAbstractSpinBox, QComboBox, QSlider)) and w.window() is window]
    assert any(isinstance(w, QDateTimeEdit) for w in fields)            # quiet hours' time edits
    for field in fields:
        for delta in (DOWN, UP, UP):
            wheel(field, delta)
    assert repr(window.editor.journey.settings) == settings and doc.undo_stack.index() == index

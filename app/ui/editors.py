"""One editor widget per field type of the config schema.

Every editor reports user edits through `edited(value)` with a plain JSON value
and accepts model values through `set_value` without reporting them back, so
an undo updates the inspector without starting a new edit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Sequence

from PySide6.QtCore import QDate, QDateTime, QEvent, QObject, QSignalBlocker, Qt, QTime, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QCompleter, QDateTimeEdit, QDoubleSpinBox, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QTimeEdit, QToolButton,
                               QVBoxLayout, QWidget)

from app.journey import schema as S
from app.journey.node_kinds import KNOWN_EVENTS
from app.journey.schema import Field, is_finite_number, parse_datetime, timezone_names
from app.journey.snippets import Snippet
from app.journey.variables import VariableSuggestions

from .combo import WrappingComboBox
from .snippet_menu import insert_button
from .template_edit import TemplateEdit

# Types whose edits arrive keystroke by keystroke: consecutive edits merge into one undo step.
MERGEABLE = {S.TEXT, S.MULTILINE, S.TEMPLATE, S.INT, S.NUMBER, S.TAGS, S.EVENT}


class Editor(QWidget):
    edited = Signal(object)

    def set_value(self, value: Any) -> None:
        raise NotImplementedError


def _combo(editable: bool = False) -> QComboBox:
    """A combo box that may be narrower than its longest choice: the inspector is narrow."""
    combo = QComboBox()
    combo.setEditable(editable)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(6)
    return combo


def _row(parent: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(6)
    return layout


class LineEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        self.line = QLineEdit()
        self.line.setPlaceholderText(f.help)
        _row(self).addWidget(self.line)
        self.line.textEdited.connect(self.edited.emit)

    def set_value(self, value: Any) -> None:
        if self.line.text() != value:
            self.line.setText(value)


class TagsEditor(LineEditor):
    """Tags as comma-separated text."""

    def __init__(self, f: Field) -> None:
        super().__init__(f)
        self.line.setPlaceholderText("e.g. vip, newsletter")
        self.line.textEdited.disconnect()
        self.line.textEdited.connect(lambda text: self.edited.emit(self.parse(text)))

    @staticmethod
    def parse(text: str) -> list[str]:
        return [t.strip() for t in text.split(",") if t.strip()]

    def set_value(self, value: Any) -> None:
        if self.parse(self.line.text()) != value:
            self.line.setText(", ".join(value))


class TextEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        self.text = QPlainTextEdit()
        self.text.setFixedHeight(80)
        self.text.setTabChangesFocus(True)
        _row(self).addWidget(self.text)
        self.text.textChanged.connect(lambda: self.edited.emit(self.text.toPlainText()))

    def set_value(self, value: Any) -> None:
        if self.text.toPlainText() != value:
            with QSignalBlocker(self.text):
                self.text.setPlainText(value)


class TemplateEditor(Editor):
    inserted = Signal(str, str)     # the whole text and the block's name after Insert ▸ …: one undo step

    def __init__(self, f: Field, suggestions: list[str] | VariableSuggestions | None = None) -> None:
        super().__init__()
        short = f.name in ("subject", "message")
        self.text = TemplateEdit(2 if short else 6, grow_to=5 if short else 0, suggestions=suggestions)
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.setSpacing(4)
        self.column.addWidget(self.text)
        self.text.edited.connect(self.edited.emit)
        self.text.block_inserted.connect(self.inserted.emit)
        self.insert: QPushButton | None = None

    def set_snippets(self, snippets: list[Snippet]) -> None:
        """Offers `snippets` under the text (Insert ▸ Cart items block); none: no button."""
        if snippets and self.insert is None:
            self.insert = insert_button(self.text, snippets)
            self.column.addWidget(self.insert, 0, Qt.AlignmentFlag.AlignLeft)

    def set_value(self, value: Any) -> None:
        self.text.set_text(value)


class NumberEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        self.whole = f.type == S.INT
        low = f.minimum if f.minimum is not None else -1_000_000
        # The box stays as wide as before: no field needs more than a billion typed here (the schema's
        # maximum, e.g. 999,999,999,999.99 for an amount, is what validation holds a file to).
        high = min(f.maximum, 1_000_000_000) if f.maximum is not None else 1_000_000_000
        self.spin: QSpinBox | QDoubleSpinBox
        if self.whole:
            self.spin = QSpinBox()
            self.spin.setRange(int(low), int(high))
        else:
            self.spin = decimal = QDoubleSpinBox()
            decimal.setDecimals(2)
            decimal.setRange(float(low), float(high))
        if f.suffix:
            self.spin.setSuffix(f" {f.suffix}")
        layout = _row(self)
        layout.addWidget(self.spin, 1)
        for preset in f.presets:
            button = QPushButton(str(preset))
            button.setFixedWidth(40)
            button.clicked.connect(lambda _=False, v=preset: self.spin.setValue(v))
            layout.addWidget(button)
        self.spin.valueChanged.connect(lambda v: self.edited.emit(int(v) if self.whole else float(v)))

    def set_value(self, value: Any) -> None:
        if self.spin.value() != value:
            with QSignalBlocker(self.spin):
                self.spin.setValue(_within(self.spin, value))


def _within(spin: QSpinBox | QDoubleSpinBox, value: Any) -> Any:
    """`value` held to the box's range: Qt's spin boxes take 32-bit ints and raise OverflowError past
    them. A value out of range (from a file) shows as the nearest bound; validation names the field."""
    if not is_finite_number(value):
        return spin.minimum()
    return min(max(value, spin.minimum()), spin.maximum())


class BoolEditor(Editor):
    """A check box whose label wraps: settings labels are long and the inspector narrow."""

    def __init__(self, f: Field) -> None:
        super().__init__()
        self.box = QCheckBox()
        self.label = QLabel(f.label)
        self.label.setWordWrap(True)
        self.label.mousePressEvent = lambda _event: self.box.click()  # type: ignore[method-assign]
        layout = _row(self)
        layout.addWidget(self.box, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        self.box.toggled.connect(self.edited.emit)

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.box):
            self.box.setChecked(bool(value))


class ChoiceEditor(Editor):
    def __init__(self, f: Field, options: list[tuple[str, str]] | None = None) -> None:
        super().__init__()
        self.combo = WrappingComboBox()
        for value, label in options if options is not None else [(c.value, c.label) for c in f.choices]:
            self.combo.addItem(label, value)
        _row(self).addWidget(self.combo)
        self.combo.activated.connect(lambda i: self.edited.emit(self.combo.itemData(i)))

    def set_value(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0:        # a reference to something gone: show it rather than hide it
            self.combo.addItem(f"(missing: {value})", value)
            index = self.combo.count() - 1
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(index)


class EventEditor(Editor):
    """Known events by name, or any custom event name typed in."""

    def __init__(self, f: Field) -> None:
        super().__init__()
        self.combo = _combo(True)
        known = f.choices or KNOWN_EVENTS
        self.labels = {c.label: c.value for c in known}
        for c in known:
            self.combo.addItem(c.label, c.value)
        line = QLineEdit()
        self.combo.setLineEdit(line)
        line.setPlaceholderText("event name, e.g. order_placed")
        _row(self).addWidget(self.combo)
        line.textEdited.connect(lambda t: self.edited.emit(self.labels.get(t, t.strip())))
        self.combo.activated.connect(lambda i: self.edited.emit(self.combo.itemData(i)))

    def set_value(self, value: Any) -> None:
        label = next((lbl for lbl, v in self.labels.items() if v == value), value)
        if self.combo.currentText() != label:
            with QSignalBlocker(self.combo):
                self.combo.setEditText(label)


class TimeEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        self.edit = QTimeEdit()
        self.edit.setDisplayFormat("HH:mm")
        _row(self).addWidget(self.edit)
        self.edit.timeChanged.connect(lambda t: self.edited.emit(t.toString("HH:mm")))

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.edit):
            self.edit.setTime(QTime.fromString(value, "HH:mm"))


class WeekdaysEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        layout = _row(self)
        layout.setSpacing(3)
        self.buttons: dict[str, QToolButton] = {}
        for day in S.WEEKDAY_NAMES:
            button = QToolButton()
            button.setText(day[:2].capitalize())
            button.setCheckable(True)
            button.setFixedWidth(32)
            button.toggled.connect(lambda _=False: self.edited.emit(self.value()))
            layout.addWidget(button)
            self.buttons[day] = button
        layout.addStretch(1)

    def value(self) -> list[str]:
        return [d for d, b in self.buttons.items() if b.isChecked()]

    def set_value(self, value: Any) -> None:
        for day, button in self.buttons.items():
            with QSignalBlocker(button):
                button.setChecked(day in value)


class ZonePicker(QComboBox):
    """An editable list of every IANA time zone: type any part of a name ("berl") to find it.

    `special` items come first (a value such as "" with its label). Typed text that names no zone
    is refused: a red frame and a tooltip say so, the text stays to be corrected and the value stays
    the last valid choice; `picked` reports each valid choice, `refused` each refusal.
    """

    picked = Signal(str)
    refused = Signal(str)      # the typed text, which names no zone

    def __init__(self, special: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__()
        self.setEditable(True)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(6)
        for value, label in special:
            self.addItem(label, value)
        for name in sorted(timezone_names()):
            self.addItem(name, name)
        self._lower = {name.lower(): name for name in timezone_names()}
        completer = self.completer()
        assert completer is not None       # an editable combo always has one
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self._value: str | None = None
        self.activated.connect(lambda i: self._choose(self.itemData(i)))
        line = self.lineEdit()
        assert line is not None
        line.editingFinished.connect(self.commit_text)

    def value(self) -> str | None:
        return self._value

    def set_value(self, value: str) -> None:
        with QSignalBlocker(self):
            self._value = value
            index = self.findData(value)
            if index >= 0:
                self.setCurrentIndex(index)
            else:
                self.setEditText(value)
            self._mark(True)

    def _choose(self, value: Any) -> None:
        if isinstance(value, str) and (value == "" or value in timezone_names() or self.findData(value) >= 0):
            self.set_value(value)
            self.picked.emit(value)

    def commit_text(self) -> bool:
        """Takes typed text as a choice when it names a zone (any case), else restores the last one
        and says so; returns whether the text was taken."""
        text = self.currentText().strip()
        index = self.findText(text, Qt.MatchFlag.MatchFixedString)     # a special item's label, any case
        if index >= 0:
            self._choose(self.itemData(index))
        elif text.lower() in self._lower:
            self._choose(self._lower[text.lower()])
        elif text:        # kept on screen to be corrected; the value stays the last valid choice
            self._mark(False, text)
            self.refused.emit(text)
            return False
        return True

    def _mark(self, valid: bool, text: str = "") -> None:
        self.setProperty("invalid", not valid)
        self.setStyleSheet("" if valid else "QComboBox { border: 1px solid #d64545; }")
        self.setToolTip("" if valid else f"“{text}” is not a time zone: pick one from the list, e.g. Europe/Berlin")


class TimezoneEditor(Editor):
    """A time zone picker; the field's `choices` name its special values ("" = the business's zone)."""

    business_zone = ""     # shown beside the label of "" ("The business's time zone (Europe/Berlin)")

    def __init__(self, f: Field) -> None:
        super().__init__()
        special = [(c.value, f"{c.label} ({self.business_zone})" if c.value == "" and self.business_zone
                    else c.label) for c in f.choices]
        self.combo = ZonePicker(special)
        _row(self).addWidget(self.combo)
        self.combo.picked.connect(self.edited.emit)

    def set_value(self, value: Any) -> None:
        self.combo.set_value(str(value or ""))


class DateTimeEditor(Editor):
    """A date and time in the computer's time zone, stored as ISO-8601 with its offset."""

    def __init__(self, f: Field) -> None:
        super().__init__()
        self.edit = QDateTimeEdit()
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("dd MMM yyyy  HH:mm")
        self.unset = QDateTime.fromSecsSinceEpoch(946684800)      # 2000-01-01: shown as "Not set"
        self.edit.setMinimumDateTime(self.unset)
        self.edit.setSpecialValueText("Not set: pick a date")
        self.clear = QToolButton()
        self.clear.setText("Clear")
        layout = _row(self)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.clear)
        self.clear.clicked.connect(self._clear)
        self.edit.dateTimeChanged.connect(self._changed)
        # Unset, the popup would open on January 2000 (the "not set" sentinel): open it on this month.
        self.edit.calendarWidget().installEventFilter(self)
        self._show_unset(True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Show and self.edit.dateTime() == self.unset:
            today = QDate.currentDate()
            self.edit.calendarWidget().setCurrentPage(today.year(), today.month())
        return False

    def _clear(self) -> None:
        self.set_value("")
        self.edited.emit("")

    def _show_unset(self, unset: bool) -> None:
        self.clear.setEnabled(not unset)
        font = self.edit.font()
        font.setItalic(unset)
        self.edit.setFont(font)

    def _changed(self, value: QDateTime) -> None:
        self._show_unset(value == self.unset)
        if value == self.unset:
            self.edited.emit("")
            return
        moment = datetime.fromtimestamp(value.toSecsSinceEpoch()).astimezone()   # in the computer's zone
        self.edited.emit(moment.replace(microsecond=0).isoformat())

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.edit):
            if not value:
                self.edit.setDateTime(self.unset)
                self._show_unset(True)
                return
            try:
                moment = parse_datetime(value).astimezone()
            except (ValueError, OverflowError):   # year 9999 at -14:00 is past year 9999 here; validation says so
                return
            self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(moment.timestamp())))
            self._show_unset(False)


class DurationEditor(Editor):
    def __init__(self, f: Field) -> None:
        super().__init__()
        amount_field = next(x for x in f.fields if x.name == "amount")
        self.amount = QSpinBox()
        self.amount.setRange(int(amount_field.minimum or 0), 100_000)
        self.unit = _combo()
        for choice in next(x for x in f.fields if x.name == "unit").choices:
            self.unit.addItem(choice.label, choice.value)
        layout = _row(self)
        layout.addWidget(self.amount, 1)
        layout.addWidget(self.unit, 1)
        self.amount.valueChanged.connect(lambda _v: self.edited.emit(self.value()))
        self.unit.activated.connect(lambda _i: self.edited.emit(self.value()))

    def value(self) -> dict[str, Any]:
        return {"amount": self.amount.value(), "unit": self.unit.currentData()}

    def set_value(self, value: Any) -> None:
        with QSignalBlocker(self.amount), QSignalBlocker(self.unit):
            self.amount.setValue(_within(self.amount, value["amount"]))
            self.unit.setCurrentIndex(self.unit.findData(value["unit"]))


EditorFactory = Callable[[Field], Editor]
FACTORIES: dict[str, EditorFactory] = {
    S.TEXT: LineEditor, S.MULTILINE: TextEditor, S.TEMPLATE: TemplateEditor, S.INT: NumberEditor,
    S.NUMBER: NumberEditor, S.BOOL: BoolEditor, S.CHOICE: ChoiceEditor, S.EVENT: EventEditor,
    S.TIME: TimeEditor, S.WEEKDAYS: WeekdaysEditor, S.TIMEZONE: TimezoneEditor, S.DATETIME: DateTimeEditor,
    S.TAGS: TagsEditor, S.DURATION: DurationEditor,
}

"""The script of a test run: what the contact does after the trigger, as editable rows
("opens the email 2 hours later", "orders 3 days later for 40.00", "does nothing").

Each row gives one `Then` (app/engine/test_run.py); the rows are the script in order. No rows means
the contact does nothing after the trigger.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from app.engine.test_run import Then

# (action, words): the message reactions first, then the contact's own events.
ACTIONS = (("opened", "opens"), ("clicked", "clicks in"), ("replied", "replies to"),
           ("ordered", "orders"), ("unsubscribed", "unsubscribes from"),
           ("product_viewed", "views a product"), ("subscribed", "subscribes"))
ON_MESSAGE = frozenset({"opened", "clicked", "replied"})         # `after` counts from the latest message
CHANNELS = (("email", "the email"), ("sms", "the SMS"), ("whatsapp", "the WhatsApp"))
UNSUBSCRIBE = (("", "everything"), ("email", "email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"))
UNITS = (("minutes", "minutes"), ("hours", "hours"), ("days", "days"))
_UNIT_DELTA = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1), "days": timedelta(days=1)}


def _combo(pairs: tuple[tuple[str, str], ...], name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for value, label in pairs:
        combo.addItem(label, value)
    return combo


class ThenRow(QWidget):
    """One thing the contact does: [opens ▾][the email ▾] [2][hours ▾] later [×]."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, then: Then | None = None) -> None:
        super().__init__()
        self.setObjectName("thenRow")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.action = _combo(ACTIONS, "thenAction")
        self.channel = _combo(CHANNELS, "thenChannel")
        self.unsubscribe = _combo(UNSUBSCRIBE, "thenUnsubscribe")
        self.amount = QDoubleSpinBox()
        self.amount.setObjectName("thenAmount")
        self.amount.setRange(0, 1_000_000)
        self.amount.setDecimals(2)
        self.amount.setPrefix("for ")
        self.amount.setValue(40.0)
        self.after = QSpinBox()
        self.after.setObjectName("thenAfter")
        self.after.setRange(0, 999)
        self.after.setValue(2)
        self.unit = _combo(UNITS, "thenUnit")
        self.unit.setCurrentIndex(1)
        self.later = QLabel("later")
        self.later.setObjectName("help")
        remove = QToolButton()
        remove.setText("×")
        remove.setObjectName("thenRemove")
        remove.setToolTip("Remove this line")
        remove.setAutoRaise(True)
        remove.clicked.connect(lambda: self.remove_requested.emit(self))
        # Widths fixed so every row lines up and fits the panel whatever the choice.
        for w, width in ((self.action, 118), (self.channel, 104), (self.unsubscribe, 104), (self.amount, 104),
                         (self.after, 50), (self.unit, 82)):
            w.setFixedWidth(width)
            row.addWidget(w)
        row.addWidget(self.later)
        row.addStretch(1)
        row.addWidget(remove)
        if then is not None:
            self.set_then(then)
        self._show_fields()
        self.action.currentIndexChanged.connect(self._show_fields)
        for combo in (self.action, self.channel, self.unsubscribe, self.unit):
            combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.amount.valueChanged.connect(lambda _v: self.changed.emit())
        self.after.valueChanged.connect(lambda _v: self.changed.emit())

    def _show_fields(self) -> None:
        action = self.action.currentData()
        self.channel.setVisible(action in ON_MESSAGE)
        self.unsubscribe.setVisible(action == "unsubscribed")
        self.amount.setVisible(action == "ordered")
        tip = ("Counted from the latest message sent on that channel" if action in ON_MESSAGE
               else "Counted from the trigger event")
        for w in (self.after, self.unit, self.later):
            w.setToolTip(tip)

    def set_then(self, then: Then) -> None:
        index = self.action.findData(then.action)
        if index < 0:                      # another event type: offered as it is
            self.action.addItem(then.action.replace("_", " "), then.action)
            index = self.action.count() - 1
        self.action.setCurrentIndex(index)
        combo = self.unsubscribe if then.action == "unsubscribed" else self.channel
        combo.setCurrentIndex(max(0, combo.findData(then.channel or ("" if combo is self.unsubscribe else "email"))))
        if then.amount is not None:
            self.amount.setValue(float(then.amount))
        seconds = int(then.after.total_seconds())
        for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
            if seconds % size == 0 and (seconds or unit == "hours"):
                self.after.setValue(seconds // size)
                self.unit.setCurrentIndex(self.unit.findData(unit))
                break
        self._show_fields()

    def then(self) -> Then:
        action = str(self.action.currentData())
        after = self.after.value() * _UNIT_DELTA[str(self.unit.currentData())]
        if action in ON_MESSAGE:
            return Then(action, after, channel=str(self.channel.currentData()))
        if action == "ordered":
            return Then(action, after, amount=Decimal(f"{self.amount.value():.2f}"))
        if action == "unsubscribed":
            return Then(action, after, channel=str(self.unsubscribe.currentData()) or None)
        return Then(action, after)


class ScriptEditor(QWidget):
    """The rows, with "+ Add what they do"; says "They do nothing after the trigger" when empty."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ThenRow] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.nothing = QLabel("They do nothing after the trigger.")
        self.nothing.setObjectName("help")
        column.addWidget(self.nothing)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(4)
        column.addLayout(self._rows)
        self.add_button = QPushButton("+ Add what they do")
        self.add_button.setObjectName("thenAdd")
        self.add_button.clicked.connect(lambda: self.add(Then("opened", timedelta(hours=2), channel="email")))
        column.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)

    def add(self, then: Then) -> ThenRow:
        row = ThenRow(then)
        row.changed.connect(self.changed.emit)
        row.remove_requested.connect(self.remove)
        self.rows.append(row)
        self._rows.addWidget(row)
        self.nothing.setVisible(False)
        self.changed.emit()
        return row

    def remove(self, row: ThenRow) -> None:
        self.rows.remove(row)
        self._rows.removeWidget(row)
        row.hide()             # gone at once, not when the event loop gets to deleting it
        row.deleteLater()
        self.nothing.setVisible(not self.rows)
        self.changed.emit()

    def set_script(self, thens: tuple[Then, ...]) -> None:
        for row in list(self.rows):
            self.remove(row)
        for then in thens:
            if then.action != "nothing":
                self.add(then)

    def script(self) -> tuple[Then, ...]:
        return tuple(row.then() for row in self.rows)

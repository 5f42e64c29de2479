"""Before an events or orders import: what the file is, and whether it is past data.

"Past data: update customers, start nothing" (history mode, app/engine/history.py) is checked when
events or orders read are more than a day old: replaying last year's orders must not start the
post-purchase journey today. Unchecked, active journeys react as to live events (orders: those of
the last day; older ones stay past data, as `journeys orders import` without `--live` does). The dialog opens
window-modal without blocking (`open`), and `chosen(history)` carries the choice; Cancel imports
nothing.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.engine.peek import Peek

from .form import help_label

PAST_DATA = "Past data: update customers, start nothing"


class ImportChoiceDialog(QDialog):
    """Shows what `peek` found in `name` and the history-mode checkbox; emits `chosen(history)` on Import."""

    chosen = Signal(bool)

    def __init__(self, title: str, name: str, peek: Peek, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("importChoice")
        self.setWindowTitle(title)
        self.setMinimumWidth(480)
        column = QVBoxLayout(self)
        heading = QLabel(f"<b>{name}</b>")
        column.addWidget(heading)
        self.found = QLabel(peek.describe(unit))
        self.found.setObjectName("importFound")
        self.found.setWordWrap(True)
        column.addWidget(self.found)
        past = peek.is_past()
        self.history = QCheckBox(PAST_DATA)
        self.history.setObjectName("pastData")
        self.history.setChecked(past)
        column.addWidget(self.history)
        applied = ("its customer's spend, order count and last order," if unit == "order" else
                   "its customer (orders to spend, order count and last order; opt-outs and opt-ins to consent),")
        column.addWidget(help_label(
            f"Checked, each {unit} is stored and applied to {applied} but no journey starts, exits, reaches "
            "its goal or counts a conversion. "
            + ("Unchecked, orders of the last day set active journeys off as new orders do; older ones still "
               "start nothing." if unit == "order" else "Unchecked, active journeys react as if it happened now.")
            + (f" Checked for you: {_share(peek.old, peek.count)} {unit}s read "
               f"{'is' if peek.old == 1 else 'are'} more than a day old." if past else "")))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.accepted.connect(lambda: self.chosen.emit(self.history.isChecked()))


def _share(part: int, whole: int) -> str:
    """"all 4 of the", "3 of the 5" … words for how many of the events read are old."""
    return f"all {whole:,} of the" if part == whole else f"{part:,} of the {whole:,}"

"""The numbers of the selected step (or of the journey) at the top of the inspector.

The strip under a card shows the headline; here is everything the engine
counts for it: deliveries and failures, skips by reason, deferrals, revenue.
Updated in place on every poll, so a form being edited below never loses focus.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.engine.stats import JourneyStats, NodeStats

Rows = list[tuple[str, str]]


def _n(value: int) -> str:
    return f"{value:,}"


def _share(part: int, whole: int) -> str:
    return f"{part:,} · {int(100 * part / whole + 0.5)}%" if whole else _n(part)


_WORDS = {"re_triggered": "re-triggered", "goal": "goal reached",
          # Skips for consent: opted out of the channel, or never asked while the journey needs consent.
          "unsubscribed": "opted out", "no_consent": "no consent given", "no_address": "no address",
          "not_matching": "not among the recipients"}


def _by_reason(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {_WORDS.get(reason, reason.replace('_', ' '))}"
                     for reason, n in sorted(counts.items(), key=lambda i: -i[1]))


def step_rows(kind: str, s: NodeStats) -> Rows:
    """Label and value of every figure worth showing for a step of `kind`."""
    rows: Rows = [("Entered", _n(s.entered))]
    if kind == "send_template":
        rows += [("Sent", _n(s.sent)), ("Delivered", _share(s.delivered, s.sent)),
                 ("Opened", _share(s.opened, s.sent)), ("Clicked", _share(s.clicked, s.sent)),
                 ("Failed", _share(s.failed, s.sent)), ("Converted", _n(s.converted)),
                 ("Revenue", f"{s.revenue:,.2f}")]
        if s.skipped:
            rows.append(("Skipped", _by_reason(s.skipped)))
        if s.deferred:
            rows.append(("Deferred", _n(s.deferred)))
    elif kind == "message_status":
        rows += [(name.capitalize(), _n(n)) for name, n in sorted(s.branched.items(), reverse=True)]
    if kind != "trigger":
        rows.append(("Waiting now", _n(s.waiting)))
    return rows


def journey_rows(s: JourneyStats) -> Rows:
    rows = [("Entered", _n(s.entered)), ("In the journey now", _n(s.active)), ("Completed", _n(s.completed)),
            ("Converted", f"{s.converted:,} ({s.revenue:,.2f} revenue)"), ("Goals reached", _n(s.goals))]
    if s.exited:
        rows.append(("Left early", _by_reason(s.exited)))
    return rows


class NumbersPanel(QWidget):
    """A titled grid of figures; `show_rows` replaces the figures without rebuilding the inspector."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("numbers")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 4)
        self.title = QLabel()
        self.title.setObjectName("section")
        column.addWidget(self.title)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(3)
        self.grid.setColumnStretch(1, 1)
        column.addLayout(self.grid)
        self._rows: Rows = []

    def show_rows(self, title: str, rows: Rows) -> None:
        self.title.setText(title)
        self.setVisible(bool(rows))
        if rows == self._rows:
            return
        self._rows = rows
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for i, (label, value) in enumerate(rows):
            name = QLabel(label)
            name.setObjectName("help")
            figure = QLabel(value)
            figure.setWordWrap(True)
            figure.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.grid.addWidget(name, i, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(figure, i, 1)

    def figures(self) -> dict[str, str]:
        """What the panel shows, by label (for tests)."""
        return {} if self.isHidden() else dict(self._rows)

"""The numbers of the selected step (or of the journey) at the top of the inspector.

The strip under a card shows the headline; here is everything the engine
counts for it: deliveries and failures, skips by reason, deferrals, revenue.
Updated in place on every poll, so a form being edited below never loses focus.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.engine.stats import JourneyStats, NodeStats, in_words, outcome_figures, shown_statuses
from app.journey.registry import UnknownKind, get_kind

Rows = list[tuple[str, str]]


def _n(value: int) -> str:
    return f"{value:,}"


def _share(part: int, whole: int) -> str:
    return f"{part:,} · {int(100 * part / whole + 0.5)}%" if whole else _n(part)


def _by_reason(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {in_words(reason)}" for reason, n in sorted(counts.items(), key=lambda i: -i[1]))


_RATE_LABELS = {"delivered": "Delivered", "opened": "Opened", "clicked": "Clicked"}


def step_rows(kind: str, s: NodeStats, channel: str | None = None) -> Rows:
    """Label and value of every figure worth showing for a step of `kind` (a send step's `channel`
    decides which delivery statuses: SMS and WhatsApp have no opens or clicks)."""
    rows: Rows = [("Entered", _n(s.entered))]
    if kind == "send_template":
        rows += [("Sent", _n(s.sent)), ("Converted", _n(s.converted)), ("Revenue", f"{s.revenue:,.2f}")]
        statuses = ["delivered"] + [x for x in shown_statuses(channel) if x != "delivered"]
        rows += [(_RATE_LABELS[x], _share(getattr(s, x), s.sent)) for x in statuses]
        rows.append(("Failed", _share(s.failed, s.sent)))
        if s.skipped:
            rows.append(("Skipped", _by_reason(s.skipped)))
        if s.deferred:
            rows.append(("Deferred", _n(s.deferred)))
    else:
        try:
            outcomes = get_kind(kind).outcomes
        except UnknownKind:
            outcomes = ()
        if len(outcomes) > 1:
            rows += outcome_figures(s, [(o.name, o.label) for o in outcomes])
    if kind != "trigger":
        rows.append(("Waiting now", _n(s.waiting)))
        if s.left:
            rows.append(("Left here", _by_reason(s.left)))
    if s.errors:        # the one-line reasons are in the run log, the tracebacks in the log file
        rows.append(("Errors", _n(s.errors)))
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
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
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

"""The story of a test run as a list: one line per thing that happened, in time order, with the contact's
time and the business's, the step, and the words ("Deferred: quiet hours until 08:00 Tue"). A click on
a line selects its step on the canvas; a message line opens the message ("Open" column, or Enter /
double-click)."""
from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

from app.canvas.lighting import path_colours
from app.engine.test_run import StoryEntry, TestRun
from app.journey.model import Journey

from .theme import colours

_ROW = Qt.ItemDataRole.UserRole
COLUMNS = ("Contact's time", "Step", "What happened", "Business time", "")
TIME, STEP, WORDS, BUSINESS, OPEN_COLUMN = range(5)
_TONE = {"sent": "ok", "branched": "ok", "converted": "ok", "tagged": "ok", "completed": "ok",
         "deferred": "warn", "skipped": "warn", "failed": "bad"}


def span_words(delta: timedelta) -> str:
    """"3 days 2 h", "5 h 30 min", "12 min", "0 min"."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} day{'s' if days != 1 else ''}"] if days else []) + ([f"{hours} h"] if hours else [])
    if mins and not days:
        parts.append(f"{mins} min")
    return " ".join(parts) or "0 min"


def summary_words(run: TestRun) -> str:
    """The header line: how it ended, how many steps, how much journey time in how little wall time."""
    end = run.end[:1].upper() + run.end[1:]
    steps = len(run.reached)
    span = run.entries[-1].at - run.entries[0].at if run.entries else timedelta(0)
    mark = {"ok": "✓", "bad": "✗"}.get(end_tone(run), "●")
    return (f"{mark} {end} · {steps} step{'s' if steps != 1 else ''} · {span_words(span)} of journey time "
            f"in {run.elapsed * 1000:.0f} ms")


def end_tone(run: TestRun) -> str:
    end = run.end.lower()
    if end.startswith("completed"):
        return "ok"
    if "error" in end or "failed" in end:
        return "bad"
    if end.startswith("still waiting"):
        return "warn"
    return "path"


class StoryList(QTreeWidget):
    step_requested = Signal(str)         # node id of a clicked line
    message_requested = Signal(int)      # row of a line with a message

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("testStory")
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.header()
        header.setStretchLastSection(False)
        for i in range(len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(STEP, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(WORDS, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        self.setColumnWidth(STEP, 150)
        self.entries: list[StoryEntry] = []
        self._same_zone = True
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(lambda item, _c: self._open(item))

    def show_run(self, run: TestRun | None, journey: Journey | None) -> None:
        """Lists `run`'s story (empty for None); steps named as on the canvas."""
        self.clear()
        self.entries = list(run.entries) if run else []
        if run is None:
            return
        same = run.contact_zone == run.business_zone
        labels = list(COLUMNS)
        labels[TIME], labels[BUSINESS] = f"Contact · {run.contact_zone}", f"Business · {run.business_zone}"
        self.setHeaderLabels(labels)
        self._same_zone = same
        self._fit_columns()
        c, muted = path_colours(), QColor(colours()["muted"])
        tones = {"ok": c.ok, "warn": c.warn, "bad": c.bad}
        for row, entry in enumerate(self.entries):
            node = journey.nodes.get(entry.node_id) if journey and entry.node_id else None
            step = node.title if node is not None else ("The contact" if entry.node_id is None else "(removed step)")
            item = QTreeWidgetItem([entry.local, step, entry.words, entry.business,
                                    "Open ▸" if entry.message is not None else ""])
            item.setData(0, _ROW, row)
            item.setToolTip(WORDS, entry.words)
            if not same:
                item.setToolTip(TIME, f"{entry.local} for the contact ({run.contact_zone})\n"
                                      f"{entry.business} for the business ({run.business_zone})")
            item.setToolTip(STEP, step)
            tone = _TONE.get(entry.action)
            if entry.action == "exited" and entry.reason == "error":
                tone = "bad"
            if entry.action == "branched" and entry.outcome == "no":
                tone = "warn"          # as on the canvas: the "no" way is worth a look, not a success
            if tone:
                item.setForeground(WORDS, tones[tone])
            if entry.node_id is None:      # what the contact did, not a step
                font = QFont(item.font(WORDS))
                font.setItalic(True)
                item.setFont(STEP, font)
                item.setFont(WORDS, font)
                item.setForeground(STEP, muted)
            if entry.message is not None:
                item.setForeground(OPEN_COLUMN, c.path)
                item.setToolTip(OPEN_COLUMN, "Open the message as the contact would get it")
            self.addTopLevelItem(item)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        # The business's time is a column when there is room for it and the words; else in the tooltip.
        self.setColumnHidden(BUSINESS, self._same_zone or self.viewport().width() < 760)

    def entry(self, row: int) -> StoryEntry | None:
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def tone_of(self, row: int) -> QColor:
        """The colour of a line's words (for tests)."""
        item = self.topLevelItem(row)
        return item.foreground(WORDS).color() if item is not None else QColor()

    def lines(self) -> list[str]:
        """Each line as shown ("Tue 1 Dec 09:00 | Cart reminder email | Sent email …"), for tests."""
        items = [self.topLevelItem(i) for i in range(self.topLevelItemCount())]
        return [" | ".join(item.text(c) for c in (TIME, STEP, WORDS)) for item in items if item is not None]

    def _clicked(self, item: QTreeWidgetItem, column: int) -> None:
        entry = self.entry(int(item.data(0, _ROW)))
        if entry is None:
            return
        if entry.node_id:
            self.step_requested.emit(entry.node_id)
        if column == OPEN_COLUMN and entry.message is not None:
            self.message_requested.emit(int(item.data(0, _ROW)))

    def _open(self, item: QTreeWidgetItem) -> None:
        entry = self.entry(int(item.data(0, _ROW)))
        if entry is not None and entry.message is not None:
            self.message_requested.emit(int(item.data(0, _ROW)))

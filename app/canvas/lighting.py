"""A test run lit on the canvas: the steps the test contact reached glow in the path colour with their
order, their time (the contact's and the business's) and what happened there ("Quiet hours until 08:00
Tue", "Yes — opened"); the connections they followed are drawn bold in the same colour; everything else
is dimmed.

Lighting is a view state only: it touches items (opacity, a child badge, an edge flag), never the
journey document, so it is no undo step and never reaches the file. New steps added while lit are
dimmed (not reached); `PathLighting.clear` puts every item back as it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.engine.test_run import StoryEntry, TestRun

from .node_item import NodeItem
from .style import CARD_H, CARD_W, LOD_FULL, LOD_TITLES, RADIUS, STATS_GAP, fonts, theme, wrap_text

if TYPE_CHECKING:
    from .scene import JourneyScene

DIM = 0.22                       # opacity of what the contact did not reach
_BADGE_PAD = 6.0

# Which line of a step's story the badge shows, most telling first; a tone colours it.
_PRIORITY = ("failed", "exited", "skipped", "deferred", "branched", "converted", "sent", "tagged", "waited",
             "completed", "entered")
_TONE = {"failed": "bad", "exited": "info", "skipped": "warn", "deferred": "warn", "branched": "ok",
         "converted": "ok", "sent": "ok", "tagged": "ok", "waited": "info", "completed": "ok", "entered": "info"}


@dataclass(frozen=True)
class PathColours:
    path: QColor       # the lit path: ring, bold connections, order chip
    ok: QColor
    warn: QColor
    bad: QColor


def path_colours() -> PathColours:
    """Teal: apart from every step kind's colour, the selection blue and the error red, in both themes."""
    if theme().dark:
        return PathColours(QColor("#2dd4bf"), QColor("#5cc98a"), QColor("#ffb340"), QColor("#ff7b70"))
    return PathColours(QColor("#0d9488"), QColor("#1e8e3e"), QColor("#b45309"), QColor("#d93025"))


@dataclass(frozen=True)
class StepMark:
    """What a reached step shows: its place on the path (1-based), when the contact got there and the
    most telling thing that happened there (`tone`: ok | warn | bad | info)."""

    order: int
    when: str
    note: str
    tone: str
    details: tuple[str, ...]     # every story line of the step, for the tooltip
    at: str = ""                 # when the note happened, the contact's time ("Tue 3 Mar 11:00"): zoomed out


def when_words(entry: StoryEntry, same_zone: bool) -> str:
    """"Tue 1 Dec 19:30" when the contact's and the business's zones agree, else
    "Tue 1 Dec 19:30 · 18:30 business" (with the business's weekday when its day differs:
    "Tue 1 Dec 23:30 · Wed 00:30 business", short enough for a badge's line)."""
    if same_zone or not entry.business or entry.business == entry.local:
        return entry.local
    local_day, _, _ = entry.local.rpartition(" ")
    business_day, _, business_time = entry.business.rpartition(" ")
    if business_day != local_day:
        business_time = f"{business_day.split(' ')[0]} {business_time}"
    return f"{entry.local} · {business_time} business"


def span_when(first: StoryEntry, main: StoryEntry, same_zone: bool) -> str:
    """When the contact got to a step, and — when the step's telling line came later (a branch decided
    after its window, an exit a day on) — when that happened: "Mon 2 Mar 11:00 → Tue 3 Mar 11:00"
    (the contact's times only: both zones do not fit one line; the tooltip and the story have them)."""
    if main.local == first.local or not main.local:
        return when_words(first, same_zone)
    return f"{first.local} → {main.local}"


def marks_for(run: TestRun) -> dict[str, StepMark]:
    """One mark per reached step (by node id), from the run's story."""
    by_node: dict[str, list[StoryEntry]] = {}
    for entry in run.entries:
        if entry.node_id:
            by_node.setdefault(entry.node_id, []).append(entry)
    same = run.contact_zone == run.business_zone
    order = {node_id: i + 1 for i, node_id in enumerate(run.reached)}
    for node_id in by_node:          # a step with story lines but missing from `reached`: still lit
        order.setdefault(node_id, len(order) + 1)
    marks: dict[str, StepMark] = {}
    for node_id, n in order.items():
        entries = by_node.get(node_id, [])
        rank = {a: i for i, a in enumerate(_PRIORITY)}
        main = min(entries, key=lambda e: rank.get(e.action, len(rank))) if entries else None
        tone = _TONE.get(main.action, "info") if main else "info"
        if main is not None and main.action == "exited" and main.reason in ("error",):
            tone = "bad"
        if main is not None and main.action == "branched" and main.outcome == "no":
            tone = "warn"
        when = span_when(entries[0], main, same) if entries and main else ""
        details = tuple(f"{when_words(e, same)} — {e.words}" for e in entries)
        marks[node_id] = StepMark(n, when, main.words if main and main.action != "entered" else "", tone, details,
                                  main.local if main else "")
    return marks


class PathBadge(QGraphicsItem):
    """A child of a reached step's card: a ring around the card, its order on the path in a chip at
    the top left, and below the card a pill with the time and what happened."""

    def __init__(self, parent: NodeItem, mark: StepMark) -> None:
        super().__init__(parent)
        self.mark = mark
        f = fonts()
        width = CARD_W
        inner = width - 2 * _BADGE_PAD
        self._when = f.stats_metrics.elidedText(mark.when, Qt.TextElideMode.ElideRight, inner)
        # The reason is the point of the badge: two lines before it is cut (the tooltip has all of it).
        self._note = wrap_text(mark.note, f.small_metrics, inner, 2)
        lines = 1 + len(self._note)
        height = lines * f.stats_metrics.lineSpacing() + 2 * _BADGE_PAD - 2
        self._pill = QRectF(0, CARD_H + STATS_GAP + 2, width, height)
        # Zoomed out (the whole journey in view, where a test run is first seen) the small lines are
        # unreadable: two lines in a large font take their place — when (the contact's time of what
        # happened) and what happened; one line (when) where nothing more happened than arriving.
        m = f.headline_metrics
        shown = [mark.at or mark.when.split(" · ")[0].split(" → ")[0]] + ([mark.note] if mark.note else [])
        self._headline = [m.elidedText(line, Qt.TextElideMode.ElideRight, inner) for line in shown if line]
        wide = max((m.horizontalAdvance(line) for line in self._headline), default=0.0)
        self._headline_pill = QRectF(0, CARD_H + STATS_GAP + 2, wide + 2 * _BADGE_PAD + 4,
                                     len(self._headline) * m.lineSpacing() + 2 * 3)
        self._bounds = QRectF(-12, -14, CARD_W + 24, CARD_H + 14).united(self._pill.adjusted(-2, -2, 2, 2)) \
            .united(self._headline_pill.adjusted(-2, -2, 2, 2))
        self.setZValue(2)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)      # clicks go to the card
        parent.setToolTip("\n".join((parent.toolTip().split("\n\nTest run:")[0], "", "Test run:", *mark.details)))

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def texts(self) -> list[str]:
        """The badge's text as drawn close up (for tests and accessibility)."""
        return [str(self.mark.order), self._when] + ([" ".join(self._note)] if self._note else [])

    def zoomed_out_texts(self) -> list[str]:
        """The badge's lines as drawn with the whole journey in view (below LOD_FULL)."""
        return list(self._headline)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        t, c, f = theme(), path_colours(), fonts()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        glow = QColor(c.path)
        glow.setAlpha(70)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(glow, 8))
        painter.drawRoundedRect(QRectF(-3, -3, CARD_W + 6, CARD_H + 6), RADIUS + 3, RADIUS + 3)
        painter.setPen(QPen(c.path, 2.5))
        painter.drawRoundedRect(QRectF(-3, -3, CARD_W + 6, CARD_H + 6), RADIUS + 3, RADIUS + 3)
        if lod < LOD_TITLES:
            return
        chip = QRectF(-11, -13, 22, 22)
        painter.setPen(QPen(t.card, 2))
        painter.setBrush(c.path)
        painter.drawEllipse(chip)
        painter.setPen(QColor("#ffffff") if not t.dark else QColor("#0b2e2b"))
        painter.setFont(f.small)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, str(self.mark.order))
        tone = {"ok": c.ok, "warn": c.warn, "bad": c.bad}.get(self.mark.tone, c.path)
        pill = self._pill if lod >= LOD_FULL else self._headline_pill
        painter.setPen(QPen(c.path, 1.2))
        painter.setBrush(t.card)
        painter.drawRoundedRect(pill, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(tone)
        painter.drawRoundedRect(QRectF(pill.left(), pill.top(), 4, pill.height()), 2, 2)
        if lod < LOD_FULL:
            painter.setFont(f.headline)
            m = f.headline_metrics
            note_ink = tone if self.mark.tone != "info" else t.text
            for i, line in enumerate(self._headline):      # when (muted beside a note), then what happened
                painter.setPen(note_ink if i else t.muted if len(self._headline) > 1 else t.text)
                painter.drawText(QPointF(_BADGE_PAD + 2, pill.top() + 3 + i * m.lineSpacing() + m.ascent()), line)
            return
        spacing = f.stats_metrics.lineSpacing()
        baseline = self._pill.top() + _BADGE_PAD - 1 + f.stats_metrics.ascent()
        painter.setFont(f.stats)
        painter.setPen(t.muted)
        painter.drawText(QPointF(_BADGE_PAD + 2, baseline), self._when)
        painter.setFont(f.small)
        painter.setPen(tone if self.mark.tone != "info" else t.text)
        for i, line in enumerate(self._note, 1):
            painter.drawText(QPointF(_BADGE_PAD + 2, baseline + i * spacing), line)


class PathLighting:
    """The lit state of one scene. `show(run)` lights a run (replacing any shown before); `clear()`
    returns the canvas to normal. Nothing here writes to the document."""

    def __init__(self, scene: "JourneyScene") -> None:
        self.scene = scene
        self.run: TestRun | None = None
        self.marks: dict[str, StepMark] = {}
        self.badges: dict[str, PathBadge] = {}
        scene.doc.node_added.connect(self._on_added)
        scene.doc.edge_added.connect(self._on_edge_added)
        scene.doc.node_removed.connect(lambda node_id: self.badges.pop(node_id, None))

    @property
    def active(self) -> bool:
        return self.run is not None

    def show(self, run: TestRun) -> None:
        self._reset_items()
        self.run = run
        self.marks = marks_for(run)
        taken = set(run.taken)
        self.scene.stats_hidden = True
        self.scene.show_stats(self.scene.shown_stats())        # the numbers' strip makes room for the badges
        for node_id, item in self.scene.item_for_node.items():
            mark = self.marks.get(node_id)
            item.setOpacity(1.0 if mark else DIM)
            if mark:
                self.badges[node_id] = PathBadge(item, mark)
        for edge_id, edge in self.scene.item_for_edge.items():
            edge.set_lit(edge_id in taken)
            edge.setOpacity(1.0 if edge_id in taken else DIM)

    def clear(self) -> None:
        self._reset_items()
        self.run, self.marks = None, {}
        self.scene.stats_hidden = False
        self.scene.show_stats(self.scene.shown_stats())

    def _reset_items(self) -> None:
        for node_id, badge in self.badges.items():
            item = self.scene.item_for_node.get(node_id)
            if item is not None:
                item.setToolTip(item.toolTip().split("\n\nTest run:")[0])
            if badge.scene() is not None:
                self.scene.removeItem(badge)
        self.badges = {}
        for item in self.scene.item_for_node.values():
            item.setOpacity(1.0)
        for edge in self.scene.item_for_edge.values():
            edge.set_lit(None)
            edge.setOpacity(1.0)

    def _on_added(self, node_id: str) -> None:
        item = self.scene.item_for_node.get(node_id)
        if self.active and item is not None:
            item.setOpacity(DIM)          # added after the run: the contact did not reach it

    def _on_edge_added(self, edge_id: str) -> None:
        edge = self.scene.item_for_edge.get(edge_id)
        if self.active and edge is not None:
            edge.set_lit(False)
            edge.setOpacity(DIM)

    # --- for tests and the story list -----------------------------------------------

    def state_of(self, node_id: str) -> str:
        """"reached", "dimmed" or "normal" (no test run shown)."""
        if not self.active:
            return "normal"
        return "reached" if node_id in self.marks else "dimmed"

    def lit_edges(self) -> list[str]:
        return [edge_id for edge_id, edge in self.scene.item_for_edge.items() if edge.lit]

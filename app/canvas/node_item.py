"""A step on the canvas: a card with the kind's icon and colour, a title, a one-line
summary, an input port and one output port per outcome, and, while statistics are
shown, a strip of the step's numbers just below the card.

Text is elided once when the node changes, not per paint; the card is cached in
device coordinates, and when zoomed out it is drawn with less detail.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QStyleOptionGraphicsItem, QWidget

from app.engine.stats import NodeStats, outcome_figures, shown_statuses
from app.journey.model import Node
from app.journey.validate import ERROR, Problem

from .style import (CARD_H, CARD_W, CHIP, GRID, LOD_FULL, LOD_TITLES, PORT_R, RADIUS, STATS_GAP, STATS_LINES,
                    SUMMARY_LINES, balanced_wrap, fonts, icon_pixmap, theme, wrap_text)

_PAD = 16.0                  # left edge of the chip and the summary (the colour strip is 7 wide)
_RIGHT = 12.0                # right margin of the text
_GAP = 7.0                   # between the header (chip and title) and the summary
_BOUNDS = QRectF(-PORT_R - 2, -12, CARD_W + 2 * PORT_R + 16, CARD_H + 24)   # ports and marker stick out
_SEP = " · "
_STRIP_PAD_X, _STRIP_PAD_Y = 6.0, 3.0        # inside the stats strip, around its text


def _pct(part: int, whole: int) -> int:
    return int(100 * part / whole + 0.5)     # half up, not Python's half-to-even


def stats_text(kind: str, s: NodeStats, outcomes: list[tuple[str, str]], channel: str | None = None) -> str:
    """What a shop owner wants to know about one step, as one line (segments joined by " · ").

    `outcomes` are the kind's (name, label) pairs; `channel` a send step's channel. A send step
    leads with its own conversions and revenue, then what it sent and the rates its channel
    reports (no "opened" for SMS or WhatsApp). A branching step counts every arrival that left on exactly one outcome,
    those with no message to check in words; with the waiting and those who left at the step,
    its figures add up to its arrivals. Errors (runs that failed at the step, triggers that raised)
    lead when there are any: the step needs fixing.
    """
    if kind == "trigger":
        parts = [f"{s.entered:,} entered"]
    elif kind == "send_template":
        # Conversions first: what a shop owner looks at first, and what stays in view zoomed out.
        parts = [f"{s.converted:,} converted", f"{s.revenue:,.2f} revenue", f"{s.sent:,} sent"]
        if s.sent:
            parts += [f"{_pct(getattr(s, status), s.sent)}% {status}" for status in shown_statuses(channel)]
        if s.waiting:           # deferred sends (quiet hours, send at a time) wait at the step
            parts.append(f"{s.waiting:,} waiting")
        skipped = sum(s.skipped.values())
        if skipped:
            parts.append(f"{skipped:,} skipped")
    elif kind == "wait":
        parts = [f"{s.waiting:,} waiting", f"{s.entered:,} entered"]     # who is held here now comes first
    elif kind == "message_status" or len(outcomes) > 1:
        parts = [f"{label} {figure}" for label, figure in outcome_figures(s, outcomes)]
        if s.waiting:
            parts.append(f"{s.waiting:,} waiting")
    elif kind == "tag":
        parts = [f"{s.entered:,} tagged"]
    else:                       # a kind added later: its arrivals are still worth seeing
        parts = [f"{s.entered:,} entered"] + ([f"{s.waiting:,} waiting"] if s.waiting else [])
    left = sum(s.left.values())
    if left and kind != "trigger":
        parts.append(f"{left:,} left")
    if s.errors:       # first, so it stays in view when the strip is cut short or zoomed out
        parts.insert(0, f"{s.errors:,} error" + ("s" if s.errors != 1 else ""))
    return _SEP.join(parts)


class NodeItem(QGraphicsRectItem):
    """A QGraphicsRectItem so bounds and shape come from C++: Qt asks for them many times
    per frame, and a Python override made a zoomed-out repaint of 1,000 steps slow."""

    def __init__(self, node: Node) -> None:
        super().__init__(_BOUNDS)
        self.setPen(Qt.PenStyle.NoPen)
        self.node_id = node.id
        self.kind = node.kind
        self.edges: set[Any] = set()              # EdgeItems touching this node, kept by the scene
        self.problems: list[Problem] = []
        self.drop_state: bool | None = None      # during a connect drag: True accepts, False refuses
        self._title = ""
        self._summary: list[tuple[QPointF, str]] = []   # baseline and text of each summary line
        self._top = 0.0                                  # top of the header, so the text block is centred
        self._outcomes: list[tuple[str, str, QPointF, bool]] = []   # name, label, port, ends here
        self._stats = ""                                 # the full stats text, "" when hidden
        self._stats_lines: list[tuple[QPointF, str]] = []   # baseline and text, laid out once per change
        self._strip = QRectF()                           # the pill below the card, empty when hidden
        self._elided = False                             # the strip cannot show all of self._stats
        self._headline = ""                              # zoomed out: the leading numbers that fit one line
        self._headline_strip = QRectF()
        self._headline_lines: list[tuple[QPointF, str]] = []     # laid out once, like the strip's lines
        self._shown: NodeStats | None = None             # the numbers last shown, for a change of channel
        self._channel: str | None = None                 # a send step's channel
        self._outcome_labels: list[tuple[str, str]] = []
        self._card = QPainterPath()
        self._card.addRoundedRect(QRectF(0, 0, CARD_W, CARD_H), RADIUS, RADIUS)
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(False)
        self.refresh(node)
        self.setPos(*node.position)

    # --- model → item ---------------------------------------------------------

    def refresh(self, node: Node) -> None:
        spec = node.spec
        self.colour = QColor(spec.colour)
        self.tint = QColor(spec.colour)
        self.tint.setAlpha(40 if theme().dark else 26)
        self.icon = spec.icon
        self.has_input = spec.has_input
        f = fonts()
        multi = len(spec.outcomes) > 1
        # Branch labels sit inside the right edge, beside their ports: text stops short of them.
        label_w = max((f.small_metrics.horizontalAdvance(o.label) for o in spec.outcomes), default=0.0) + 10
        right = CARD_W - _RIGHT - (label_w if multi else 0.0)
        self._title = f.title_metrics.elidedText(node.name or spec.title, Qt.TextElideMode.ElideRight,
                                                 right - (_PAD + CHIP + 9))
        lines = wrap_text(node.summary, f.summary_metrics, right - _PAD, SUMMARY_LINES)
        spacing = f.summary_metrics.lineSpacing()
        block = CHIP + (_GAP + spacing * len(lines) if lines else 0.0)
        self._top = round((CARD_H - block) / 2)
        first = self._top + CHIP + _GAP + f.summary_metrics.ascent()
        self._summary = [(QPointF(_PAD, first + i * spacing), line) for i, line in enumerate(lines)]
        # Zoomed out, the card shows only its title: the step's name, else its summary ("Wait 3
        # days"), which tells two steps of one kind apart where the kind's title would not.
        self._big_title = "\n".join(balanced_wrap(node.title or spec.title, f.big_metrics, CARD_W - _PAD - _RIGHT))
        n = len(spec.outcomes)
        self._outcomes = [(o.name, o.label if multi else "", QPointF(CARD_W, CARD_H * (i + 1) / (n + 1)),
                           o.name in node.ends) for i, o in enumerate(spec.outcomes)]
        self._outcome_labels = [(o.name, o.label) for o in spec.outcomes]
        channel = node.config.get("channel") if node.kind == "send_template" else None
        self.setToolTip(self._tooltip(node))
        if channel != self._channel:     # the numbers worth showing follow the channel
            self._channel = channel
            if self._shown is not None:
                self.set_stats(self._shown)
        self.update()

    def shown_text(self, lod: float = 1.0) -> list[str]:
        """The text the card shows at a level of detail (for tests and accessibility)."""
        if lod < LOD_TITLES:
            return []
        if lod < LOD_FULL:
            return self._big_title.split("\n")
        return [self._title] + [line for _origin, line in self._summary]

    def text_boxes(self) -> list[QRectF]:
        """Where the full-detail card draws each run of text (title, summary lines, branch labels),
        as measured with the fonts in use; tests check they lie inside the card for any font."""
        f = fonts()
        chip_right = _PAD + CHIP + 9
        centre = self._top + CHIP / 2
        m = f.title_metrics
        boxes = [QRectF(chip_right, centre - (m.ascent() + m.descent()) / 2,
                        m.horizontalAdvance(self._title), m.ascent() + m.descent())]
        s = f.summary_metrics
        boxes += [QRectF(origin.x(), origin.y() - s.ascent(), s.horizontalAdvance(line), s.ascent() + s.descent())
                  for origin, line in self._summary]
        return boxes

    def set_stats(self, stats: NodeStats | None) -> None:
        """Shows the step's numbers below the card, or hides them (None). Text is measured here,
        only when it changed, so polling every few seconds costs nothing at paint time."""
        self._shown = stats
        text = "" if stats is None else stats_text(self.kind, stats, self._outcome_labels, self._channel)
        if text == self._stats:
            return
        self._stats = text
        elided = self._elided
        self._layout_stats()
        if self._elided or elided:       # the tooltip carries the numbers only while the strip cannot
            self.setToolTip(self._tooltip(None))
        self.update()

    def stats_text(self) -> str:
        """The full statistics text ("" when hidden); the strip may show it wrapped or elided."""
        return self._stats

    def stats_rect(self) -> QRectF:
        """The area the strip takes at any zoom, in item coordinates (empty when hidden)."""
        return self._strip.united(self._headline_strip) if self._stats else QRectF()

    def shown_stats(self, lod: float = 1.0) -> list[str]:
        """The strip's lines as drawn at a level of detail: all of it at full detail, the leading
        numbers when only titles show, nothing below that."""
        if lod < LOD_TITLES or not self._stats:
            return []
        if lod < LOD_FULL:
            return [self._headline]
        return [line for _origin, line in self._stats_lines]

    def _layout_stats(self) -> None:
        # Wrap at the " · " separators, never inside a number, into at most STATS_LINES lines
        # as wide as the card; the last line is elided if the rest still does not fit. Each
        # segment is measured once and widths are summed: a 1,000-step poll stays cheap.
        self._stats_lines, self._strip, self._elided = [], QRectF(), False
        self._headline, self._headline_strip, self._headline_lines = "", QRectF(), []
        if self._stats:
            self._layout_headline()
            m = fonts().stats_metrics
            width, sep = CARD_W - 2 * _STRIP_PAD_X, m.horizontalAdvance(_SEP)
            lines: list[list[str]] = []
            widths: list[float] = []
            for part in self._stats.split(_SEP):
                w = m.horizontalAdvance(part)
                if lines and (widths[-1] + sep + w <= width or len(lines) == STATS_LINES):
                    lines[-1].append(part)
                    widths[-1] += sep + w
                else:
                    lines.append([part])
                    widths.append(w)
            text = [_SEP.join(line) for line in lines]
            self._elided = widths[-1] > width
            if self._elided:
                text[-1], widths[-1] = m.elidedText(text[-1], Qt.TextElideMode.ElideRight, width), width
            spacing = m.lineSpacing()
            self._strip = QRectF(0, CARD_H + STATS_GAP, max(widths) + 2 * _STRIP_PAD_X,
                                 len(lines) * spacing + 2 * _STRIP_PAD_Y)
            top = self._strip.top() + _STRIP_PAD_Y + m.ascent()
            self._stats_lines = [(QPointF(_STRIP_PAD_X, top + i * spacing), line) for i, line in enumerate(text)]
        # Grow the bounds only while the strip shows, so empty canvas below a card stays empty
        # (a click there starts a rubber band, not a drag of the card); a full card width, so
        # new numbers change the geometry (and the scene's index) only when the line count does.
        strip = self.stats_rect()
        bounds = _BOUNDS.united(QRectF(0, strip.top() - 1, CARD_W, strip.height() + 2)) if self._stats else _BOUNDS
        if bounds != self.rect():
            self.setRect(bounds)

    def _layout_headline(self) -> None:
        # Zoomed out (a whole journey in view) the small strip is unreadable: one line in a large
        # font takes its place, with as many leading numbers as fit ("980 sent · 41% opened").
        m = fonts().headline_metrics
        width = CARD_W - 2 * _STRIP_PAD_X
        # Without the details in brackets: "No 657", not "No 657 (49 no message sent)", keeps both outcomes.
        parts = [part.split(" (")[0] for part in self._stats.split(_SEP)]
        shown = parts[0]
        for part in parts[1:]:
            if m.horizontalAdvance(shown + _SEP + part) > width:
                break
            shown += _SEP + part
        self._headline = m.elidedText(shown, Qt.TextElideMode.ElideRight, width)
        self._headline_strip = QRectF(0, CARD_H + STATS_GAP, m.horizontalAdvance(self._headline) + 2 * _STRIP_PAD_X,
                                      m.height() + 2 * _STRIP_PAD_Y)
        baseline = self._headline_strip.top() + _STRIP_PAD_Y + m.ascent()
        self._headline_lines = [(QPointF(_STRIP_PAD_X, baseline), self._headline)]

    def set_drop_state(self, state: bool | None) -> None:
        if state != self.drop_state:
            self.drop_state = state
            self.update()

    def set_problems(self, problems: list[Problem]) -> None:
        if problems == self.problems:
            return
        self.problems = problems
        self.setToolTip(self._tooltip(None))
        self.update()

    def _tooltip(self, node: Node | None) -> str:
        if node is not None:
            self._base_tip = f"{node.spec.title}: {node.summary}"
        lines = [self._base_tip] + [f"{'Error' if p.severity == ERROR else 'Warning'}: {p.message}" for p in self.problems]
        if self._elided:
            lines.append(self._stats)
        return "\n".join(lines)

    # --- geometry ---------------------------------------------------------------

    def input_pos(self) -> QPointF:
        return self.mapToScene(QPointF(0, CARD_H / 2))

    def output_pos(self, outcome: str) -> QPointF:
        for name, _label, port, _ends in self._outcomes:
            if name == outcome:
                return self.mapToScene(port)
        return self.mapToScene(QPointF(CARD_W, CARD_H / 2))

    def outcomes(self) -> list[str]:
        return [name for name, *_ in self._outcomes]

    def port_at(self, scene_pos: QPointF, slack: float = 5.0) -> str | None:
        """The outcome whose output port is under `scene_pos`, if any."""
        local = self.mapFromScene(scene_pos)
        for name, _label, port, _ends in self._outcomes:
            d = local - port
            if d.x() * d.x() + d.y() * d.y() <= (PORT_R + slack) ** 2:
                return name
        return None

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and getattr(self.scene(), "snap", False):
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.adjust()
        return super().itemChange(change, value)

    # --- painting ---------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        t = theme()
        selected = self.isSelected()
        if lod < LOD_TITLES:
            painter.fillRect(QRectF(0, 0, CARD_W, CARD_H), t.selection if selected else self.colour)
            if self.problems:
                painter.fillRect(QRectF(CARD_W - 40, 0, 40, 40), self._marker_colour())
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.drop_state is not None:
            painter.setPen(QPen(QColor("#1e8e3e") if self.drop_state else t.error, 3))
        else:
            painter.setPen(QPen(t.selection, 2.5) if selected else QPen(t.card_border, 1))
        painter.setBrush(t.card)
        painter.drawPath(self._card)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(QRectF(0, 0, 7, CARD_H), 3.5, 3.5)
        if lod < LOD_FULL:
            self._paint_titles_only(painter)
            if self._headline_lines:
                self._paint_strip(painter, self._headline_strip, fonts().headline, self._headline_lines)
        else:
            self._paint_full(painter)
            if self._stats_lines:
                self._paint_strip(painter, self._strip, fonts().stats, self._stats_lines)
        self._paint_ports(painter, lod)
        if self.problems:
            self._paint_marker(painter)

    def _paint_titles_only(self, painter: QPainter) -> None:
        f = fonts()
        painter.setFont(f.big_title)
        painter.setPen(theme().text)
        rect = QRectF(_PAD, 0, CARD_W - _PAD - _RIGHT, CARD_H)
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self._big_title)

    def _paint_full(self, painter: QPainter) -> None:
        t, f = theme(), fonts()
        chip = QRectF(_PAD, self._top, CHIP, CHIP)
        painter.setBrush(self.colour)
        painter.drawRoundedRect(chip, 7, 7)
        painter.drawPixmap(chip.adjusted(4, 4, -4, -4), icon_pixmap(self.icon, 40), QRectF(0, 0, 40, 40))
        painter.setFont(f.title)
        painter.setPen(t.text)
        baseline = chip.center().y() + (f.title_metrics.ascent() - f.title_metrics.descent()) / 2
        painter.drawText(QPointF(chip.right() + 9, baseline), self._title)
        painter.setFont(f.summary)
        painter.setPen(t.muted)
        for origin, line in self._summary:
            painter.drawText(origin, line)
        painter.setFont(f.small)
        for _name, label, port, _ends in self._outcomes:
            if label:
                painter.drawText(QRectF(CARD_W - 60, port.y() - 9, 60 - PORT_R - 5, 18),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)

    def _paint_strip(self, painter: QPainter, strip: QRectF, font: QFont, lines: list[tuple[QPointF, str]]) -> None:
        t = theme()
        painter.setPen(QPen(t.card_border, 1))
        painter.setBrush(t.card)
        r = strip.height() / 2 if len(lines) == 1 else 8.0
        painter.drawRoundedRect(strip, r, r)
        painter.setFont(font)
        painter.setPen(t.muted)
        lead = self._stats.split(_SEP, 1)[0] if self._shown is not None and self._shown.errors else ""
        for origin, line in lines:
            if lead and line.startswith(lead):      # "3 errors" in the error colour: the step needs fixing
                painter.setPen(t.error)
                painter.drawText(origin, lead)
                painter.setPen(t.muted)
                painter.drawText(origin + QPointF(QFontMetricsF(font).horizontalAdvance(lead), 0), line[len(lead):])
                lead = ""
                continue
            painter.drawText(origin, line)

    def _paint_ports(self, painter: QPainter, lod: float) -> None:
        t = theme()
        painter.setPen(QPen(t.card, 2))
        if self.has_input:
            painter.setBrush(t.edge)
            painter.drawEllipse(QPointF(0, CARD_H / 2), PORT_R - 1, PORT_R - 1)
        for _name, _label, port, ends in self._outcomes:
            painter.setBrush(self.colour)
            painter.drawEllipse(port, PORT_R, PORT_R)
            if ends and lod >= LOD_FULL:     # "journey ends here": a short stub with a stop bar
                painter.setPen(QPen(t.muted, 2))
                painter.drawLine(port + QPointF(PORT_R, 0), port + QPointF(PORT_R + 9, 0))
                painter.drawLine(port + QPointF(PORT_R + 9, -6), port + QPointF(PORT_R + 9, 6))
                painter.setPen(QPen(t.card, 2))

    def _marker_colour(self) -> QColor:
        return theme().error if any(p.severity == ERROR for p in self.problems) else theme().warning

    def _paint_marker(self, painter: QPainter) -> None:
        centre = QPointF(CARD_W - 4, 2)
        painter.setPen(QPen(theme().card, 2))
        painter.setBrush(QBrush(self._marker_colour()))
        painter.drawEllipse(centre, 9, 9)
        painter.setPen(QColor("#ffffff"))
        painter.setFont(fonts().small)
        painter.drawText(QRectF(centre.x() - 9, centre.y() - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "!")

"""A template editor: plain text with `{{ variable }}` suggestions.

Typing `{{` (or Ctrl+Space) opens a list of the variables a message can use:
the contact's fields, the journey's fields and the properties of the trigger's
event (`event.items`, `event.cart_url`…, declared per trigger kind so a fresh
install offers them too); inside `{% for item in event.items %}` also the loop
variable's fields (`item.name`, `item.price`…). Each suggestion's tooltip says
what it holds. `insert_block` inserts a ready block (Insert ▸ Cart items block)
as one edit of its own.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QStringListModel, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QResizeEvent, QTextCursor, QTextOption
from PySide6.QtWidgets import QCompleter, QPlainTextEdit, QWidget

from app.journey.templates import variable_names
from app.journey.variables import VariableSuggestions, open_loops

from .typography import mono_font


class SuggestionModel(QStringListModel):
    """The suggested names, each with a tooltip saying what it holds."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.descriptions: dict[str, str] = {}

    def set_suggestions(self, pairs: list[tuple[str, str]]) -> None:
        self.descriptions = {name: words for name, words in pairs if words}
        names = [name for name, _words in pairs]
        if names != self.stringList():
            self.setStringList(names)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.descriptions.get(super().data(index, Qt.ItemDataRole.DisplayRole)) or None
        return super().data(index, role)


class TemplateEdit(QPlainTextEdit):
    edited = Signal(str)
    block_inserted = Signal(str, str)   # the whole text and the block's name, after `insert_block`

    def __init__(self, lines: int, parent: QWidget | None = None, grow_to: int = 0,
                 suggestions: list[str] | VariableSuggestions | None = None) -> None:
        """`lines` tall; with `grow_to`, it grows with its text up to that many lines
        (a subject that wraps stays readable instead of scrolling inside two lines)."""
        super().__init__(parent)
        self._lines = (lines, max(lines, grow_to))
        self.setTabChangesFocus(True)
        self.setFont(mono_font())
        # Text wraps at the box's width, a long link anywhere, so there is never a horizontal bar:
        # one taking a line's height back is what kept a grown box scrolling.
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_height()
        if grow_to > lines:
            self.document().documentLayout().documentSizeChanged.connect(lambda _size: self._fit_height())
        self.setPlaceholderText("Type {{ to insert a variable such as {{ contact.first_name }}")
        if not isinstance(suggestions, VariableSuggestions):
            suggestions = VariableSuggestions(tuple(suggestions or variable_names(None, None)))
        self.suggestions = suggestions
        self._loops: list[tuple[str, str]] | None = None      # the open loops the model was filled for
        self._placed = False        # whether the user put the cursor somewhere (else a block goes at the end)
        self.suggestion_model = SuggestionModel(self)
        self.suggestion_model.set_suggestions(suggestions.at(""))
        self.completer = QCompleter(self.suggestion_model, self)
        self.completer.setWidget(self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.activated.connect(self._insert)
        self.textChanged.connect(self._changed)
        self._quiet = False

    def _fit_height(self) -> None:
        """Fixes the height to the laid-out text (between the two line counts), measured from the
        document's own layout: a glyph from a fallback font can make a line taller than the
        font's metrics say, so `lines × lineSpacing` alone would leave the last line scrolled."""
        low, high = self._lines
        layout = self.document().documentLayout()
        line = self.fontMetrics().lineSpacing()
        heights: list[float] = []        # one entry per visual line, in pixels
        block = self.document().begin()
        while block.isValid():
            text_layout = block.layout()
            count = text_layout.lineCount() if text_layout is not None else 0
            if count:
                lines = [text_layout.lineAt(i).height() for i in range(count)]
                lines[-1] += max(0.0, layout.blockBoundingRect(block).height() - sum(lines))   # leading
                heights.extend(lines)
            else:                        # not laid out yet (no width): a line of the font
                heights.append(line)
            block = block.next()
        shown = heights[:high] + [line] * max(0, low - len(heights))
        if high > low:
            # The bar only when the text outgrows the box; shown while the box is still growing, it
            # narrows the text, which wraps onto one more line than the box was grown for.
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded if len(heights) > high
                                            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        margins = self.contentsMargins()      # the frame's width, for a QFrame
        frame = 2 * self.document().documentMargin() + margins.top() + margins.bottom()
        height = int(sum(shown) + frame + 0.999)
        if height != self.height():
            self.setFixedHeight(height)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:     # a larger font needs more room for the same lines
            self._fit_height()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._lines[1] > self._lines[0]:      # a new width wraps the text differently
            self._fit_height()

    def set_text(self, text: str) -> None:
        """Sets the text without reporting an edit, keeping the cursor where it was."""
        if self.toPlainText() == text:
            return
        self._quiet = True
        position = self.textCursor().position()
        self.setPlainText(text)
        cursor = self.textCursor()
        cursor.setPosition(min(position, len(text)))
        self.setTextCursor(cursor)
        self._quiet = False

    def _changed(self) -> None:
        if not self._quiet:
            self.edited.emit(self.toPlainText())

    def _prefix(self) -> str | None:
        """The text typed since the last unclosed `{{`, or None outside a variable."""
        before = self.toPlainText()[: self.textCursor().position()]
        start = before.rfind("{{")
        if start < 0 or "}}" in before[start:]:
            return None
        return before[start + 2:].strip()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        popup = self.completer.popup()
        assert popup is not None        # a completer makes its popup on first use
        if popup.isVisible() and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape,
                                                  Qt.Key.Key_Tab):
            event.ignore()
            return
        forced = event.key() == Qt.Key.Key_Space and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if not forced:
            super().keyPressEvent(event)
        prefix = self._prefix()
        if prefix is None and not forced:
            popup.hide()
            return
        self._fill_suggestions()
        self.completer.setCompletionPrefix(prefix or "")
        rect = self.cursorRect()
        rect.setWidth(260)
        self.completer.complete(rect)

    def _fill_suggestions(self) -> None:
        """The names for the cursor's place: inside a `{% for %}` loop, the loop variable's fields first."""
        before = self.toPlainText()[: self.textCursor().position()]
        loops = open_loops(before)
        if loops != self._loops:
            self._loops = loops
            self.suggestion_model.set_suggestions(self.suggestions.at(before))

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        self._placed = True

    def insert_block(self, block: str, name: str = "a block") -> None:
        """Inserts `block` (several lines of template) on a line of its own at the cursor (at the end when
        the cursor was never placed), and reports the whole text and `name` (the block's, e.g. "Cart items
        block") through `block_inserted`, not `edited`:
        the inspector makes it one undo step that typing does not merge into."""
        cursor = self.textCursor()
        if not self._placed:
            cursor.movePosition(QTextCursor.MoveOperation.End)
        before = self.toPlainText()[: cursor.position()]
        after = self.toPlainText()[cursor.position():]
        text = ("\n" if before and not before.endswith("\n") else "") + block
        if after and not text.endswith("\n"):
            text += "\n"
        self._quiet = True
        cursor.insertText(text)
        self._quiet = False
        self.setTextCursor(cursor)
        self.block_inserted.emit(self.toPlainText(), name)

    def _insert(self, name: str) -> None:
        cursor = self.textCursor()
        text = self.toPlainText()
        start = text[: cursor.position()].rfind("{{")
        after = text[cursor.position():]
        if start >= 0 and self._prefix() is not None:
            cursor.setPosition(start, QTextCursor.MoveMode.KeepAnchor)
        closing = "" if after.lstrip().startswith("}}") else " }}"
        cursor.insertText("{{ " + name + closing)
        self.setTextCursor(cursor)

"""Builds an inspector form from a config schema: one editor per visible field,
sections for groups, removable rows for lists. Paths are tuples into the model
object (("config", "delay") or ("settings", "exit_conditions", 0, "event"))."""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from app.journey import schema as S
from app.journey.schema import Field, defaults, is_visible, walk
from app.journey.snippets import Snippet
from app.journey.variables import VariableSuggestions

from .editors import FACTORIES, ChoiceEditor, Editor, TemplateEditor
from .wheel import guard_wheel

# on_edit(path, field, value, merge=True, label=None): `merge=False` for an edit typing must not merge into
# (an inserted block); `label` names the undo step ("Insert cart items block in HTML body").
OnEdit = Callable[..., None]
SnippetSource = Callable[[str, "str | None"], list[Snippet]]


def signature(schema: tuple[Field, ...], config: dict[str, Any]) -> tuple[str, ...]:
    """Which fields are on screen; when it changes the form must be rebuilt."""
    return tuple(pointer for _f, _v, pointer in walk(schema, config))


def new_form_layout() -> QFormLayout:
    layout = QFormLayout()
    layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)   # labels above fields: the panel is narrow
    layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setVerticalSpacing(6)
    return layout


def item_noun(f: Field) -> str:
    """What one row of a list field is called, from the field itself: its name made
    singular ("terms" → "term", "conditions" → "condition"), and, when each row starts
    with an event, the event it waits for ("exit_conditions" → "exit event")."""
    words = [w[:-1] if w.endswith("s") and not w.endswith("ss") else w for w in f.name.lower().split("_")
             if w and w != "wa"]      # a channel prefix (wa_variables) is not part of what a row is called
    words = words or ["row"]
    if f.fields and f.fields[0].type == S.EVENT and words[-1] != "event":
        words = words[:-1] + ["event"] if len(words) > 1 else words + ["event"]
    return " ".join(words)


def form_label(text: str) -> QLabel:
    """A field's label above it. A long one wraps, as the panel is narrow; a short one
    does not, since a word-wrapped label in a form asks for less than the row's width
    and would break early ("Only contacts / tagged")."""
    label = QLabel(text)
    label.setWordWrap(label.fontMetrics().horizontalAdvance(text) > 250)
    return label


def help_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("help")
    return label


class FormBuilder:
    def __init__(self, on_edit: OnEdit, node_refs: list[tuple[str, str]],
                 variables: list[str] | VariableSuggestions | None = None,
                 snippets: SnippetSource | None = None) -> None:
        self.on_edit = on_edit
        self.node_refs = node_refs
        self.variables = variables     # what template fields suggest while typing
        self.snippets = snippets       # (field name, channel) → the blocks its Insert button offers
        self.editors: dict[tuple[Any, ...], Editor] = {}

    def editor_for(self, f: Field) -> Editor:
        """The field's editor, its wheel-sensitive parts guarded: the wheel scrolls the form past them."""
        if f.type == S.NODE_REF:
            editor: Editor = ChoiceEditor(f, [("", "Choose a send step…"), *self.node_refs])
        elif f.type == S.TEMPLATE:
            editor = TemplateEditor(f, self.variables)
        else:
            editor = FACTORIES[f.type](f)
        guard_wheel(editor)
        return editor

    def build(self, layout: QFormLayout, schema: tuple[Field, ...], config: dict[str, Any],
              prefix: tuple[Any, ...]) -> None:
        for f in schema:
            if not is_visible(f, config):
                continue
            path = prefix + (f.name,)
            value = config.get(f.name)
            if f.type == S.GROUP:
                header = QLabel(f.label)
                header.setObjectName("section")
                layout.addRow(header)
                if f.help:
                    layout.addRow(help_label(f.help))
                self.build(layout, f.fields, value or {}, path)
            elif f.type == S.LIST:
                layout.addRow(form_label(f.label), self._list(f, value or [], path))
                if f.help:
                    layout.addRow(help_label(f.help))
            else:
                editor = self.editor_for(f)
                editor.set_value(value)
                editor.edited.connect(lambda v, p=path, fld=f: self.on_edit(p, fld, v))
                if isinstance(editor, TemplateEditor) and self.snippets is not None:
                    editor.set_snippets(self.snippets(f.name, config.get("channel")))
                    editor.inserted.connect(lambda v, name, p=path, fld=f: self.on_edit(
                        p, fld, v, merge=False, label=f"Insert {name} in {fld.label}"))
                self.editors[path] = editor
                if f.type == S.BOOL:
                    layout.addRow(editor)
                else:
                    layout.addRow(form_label(f.label), editor)
                if f.help and f.type != S.TEXT:
                    layout.addRow(help_label(f.help))

    def _list(self, f: Field, items: list[dict[str, Any]], path: tuple[Any, ...]) -> QWidget:
        noun = item_noun(f)
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        for i, item in enumerate(items):
            card = QFrame()
            card.setObjectName("row")
            row_layout = QVBoxLayout(card)
            row_layout.setContentsMargins(8, 6, 8, 8)
            top = QHBoxLayout()
            title = QLabel(f"{noun.capitalize()} {i + 1}")
            title.setObjectName("rowTitle")
            top.addWidget(title)
            top.addStretch(1)
            remove = QToolButton()
            remove.setText("Remove")
            remove.setToolTip(f"Remove this {noun}")
            remove.clicked.connect(lambda _=False, i=i: self.on_edit(path, f, items[:i] + items[i + 1:]))
            top.addWidget(remove)
            row_layout.addLayout(top)
            form = new_form_layout()
            self.build(form, f.fields, item, path + (i,))
            row_layout.addLayout(form)
            column.addWidget(card)
        add = QPushButton(f"+ Add {noun}")
        add.clicked.connect(lambda: self.on_edit(path, f, items + [defaults(f.fields)]))
        column.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)
        return box

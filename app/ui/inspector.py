"""The inspector: the selected step's (or note's) settings, or the journey's own
settings when nothing is selected. Generated from the schemas in the registry.

Every edit is a SetValue command; typing merges into one undo step. When the
model changes (an edit, an undo) the editors are updated in place, and the form
is rebuilt only when the set of visible fields changes, so typing keeps focus.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)

from app.canvas.commands import SetValue
from app.canvas.document import JourneyDocument
from app.canvas.node_item import NodeItem
from app.canvas.note_item import NoteItem
from app.canvas.scene import JourneyScene
from app.canvas.style import kind_icon
from app.journey import schema as S
from app.journey.schema import Field
from app.journey.settings import SETTINGS_SCHEMA
from app.engine.stats import JourneyStats, NodeStats
from app.journey.snippets import Snippet, snippets_for
from app.journey.templates import VariableCatalog, variable_names
from app.journey.variables import VariableSuggestions, suggestions

from .editors import MERGEABLE
from .form import FormBuilder, help_label, new_form_layout, signature
from .numbers import NumbersPanel, journey_rows, step_rows
from .wheel import guard_wheel

_NAME = Field("name", S.TEXT, "Step name", help="Optional: a name for this step on the canvas")
_JOURNEY_NAME = Field("name", S.TEXT, "Journey name")
_DESCRIPTION = Field("description", S.MULTILINE, "Description")
_NOTE_TEXT = Field("text", S.MULTILINE, "Note")


class Inspector(QScrollArea):
    test_send_requested = Signal(str)       # a send step's id: "Send a test…" (app/ui/delivery_menu.py)
    people_requested = Signal(str, str)     # a step's id and "here" or "went" (app/ui/step_people.py)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(300)
        self.doc: JourneyDocument | None = None
        self.catalog: VariableCatalog | None = None
        self.scene: JourneyScene | None = None
        self.target: str = ""
        self.builder: FormBuilder | None = None
        self._signature: tuple[Any, ...] = ()
        self._ends: list[tuple[str, QCheckBox]] = []
        self.stats: JourneyStats | None = None      # the open journey's numbers, once it has run
        self.period = "all time"
        self.numbers: NumbersPanel | None = None
        self._show_empty()

    # --- wiring -----------------------------------------------------------------

    def set_document(self, doc: JourneyDocument | None, scene: JourneyScene | None,
                     catalog: VariableCatalog | None = None) -> None:
        self.catalog = catalog
        if self.doc is not None:
            self.doc.changed.disconnect(self._model_changed)
        if self.scene is not None:
            self.scene.selectionChanged.disconnect(self._selection_changed)
        self.doc, self.scene = doc, scene
        if doc is None or scene is None:
            self._show_empty()
            return
        doc.changed.connect(self._model_changed)
        scene.selectionChanged.connect(self._selection_changed)
        self.show_target("")

    def _selection_changed(self) -> None:
        assert self.scene is not None
        selected = [i for i in self.scene.selectedItems() if isinstance(i, (NodeItem, NoteItem))]
        if len(selected) > 1:
            self._show_several(len(selected))
            return
        target = "" if not selected else (selected[0].node_id if isinstance(selected[0], NodeItem)
                                           else selected[0].note_id)
        # A rubber band changes the selection on every mouse move: rebuild only for a new target.
        if target != self.target or self.builder is None:
            self.show_target(target)

    def _model_changed(self) -> None:
        doc = self.doc
        if doc is None or self._signature == ("several",):
            return
        if self.target and self.target not in doc.journey.nodes and self.target not in doc.journey.notes:
            self.show_target("")
        elif self._current_signature() != self._signature:
            self._rebuild()
        else:
            self._update_values()

    # --- building ---------------------------------------------------------------

    def show_target(self, target: str) -> None:
        self.target = target
        self._rebuild()

    def _current_signature(self) -> tuple[Any, ...]:
        assert self.doc is not None
        obj = self.doc.target(self.target)
        if not self.target:
            return ("journey",) + signature(SETTINGS_SCHEMA, obj.settings)
        if self.target in self.doc.journey.nodes:
            refs = tuple(self._send_steps()) if any(f.type == S.NODE_REF for f in obj.spec.schema) else ()
            return (obj.kind, refs) + signature(obj.spec.schema, obj.config)
        return ("note",)

    def _variables(self) -> VariableSuggestions:
        assert self.doc is not None
        trigger = self.doc.journey.trigger()
        config = trigger.config if trigger else None
        return suggestions(variable_names(config, self.catalog), config)

    def _snippets(self, field: str, channel: str | None) -> list[Snippet]:
        """The blocks a send step's `field` offers under Insert (none elsewhere)."""
        assert self.doc is not None
        node = self.doc.journey.nodes.get(self.target)
        if node is None or node.kind != "send_template":
            return []
        trigger = self.doc.journey.trigger()
        return snippets_for(field, channel, trigger.config if trigger else None)

    def _send_steps(self) -> list[tuple[str, str]]:
        assert self.doc is not None
        return [(n.id, n.title) for n in self.doc.journey.nodes.values() if n.kind == "send_template"]

    def _rebuild(self) -> None:
        doc = self.doc
        if doc is None:
            return
        scroll = self.verticalScrollBar().value()
        self.builder = FormBuilder(self._on_edit, self._send_steps(), self._variables(), self._snippets)
        self._ends = []
        page = QWidget()
        page.setObjectName("inspectorPage")
        # Ignored: the page takes the panel's width instead of widening to its longest row.
        page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 14, 16, 16)
        column.setSpacing(10)
        form = new_form_layout()
        obj = doc.target(self.target)
        if not self.target:
            column.addWidget(self._header("Journey settings", "Who enters, when they leave, and what counts as "
                                          "success. Select a step on the canvas to edit it.", None))
            column.addWidget(self._numbers_panel())
            self.builder.build(form, (_JOURNEY_NAME, _DESCRIPTION), {"name": obj.name, "description": obj.description},
                               ())
            self.builder.build(form, SETTINGS_SCHEMA, obj.settings, ("settings",))
        elif self.target in doc.journey.nodes:
            spec = obj.spec
            column.addWidget(self._header(spec.title, spec.description, spec))
            if obj.kind == "send_template":
                column.addWidget(self._test_button(obj.id))
            column.addWidget(self._numbers_panel())
            column.addWidget(self._people_buttons(obj.id))
            self.builder.build(form, (_NAME,), {"name": obj.name}, ())
            self.builder.build(form, spec.schema, obj.config, ("config",))
            self._add_ends(form, obj)
        else:
            self.numbers = None
            column.addWidget(self._header("Sticky note", "A note for you and your team; it does not run.", None))
            self.builder.build(form, (_NOTE_TEXT,), {"text": obj.text}, ())
        column.addLayout(form)
        column.addStretch(1)
        self._replace_page(page)
        self._signature = self._current_signature()
        self.verticalScrollBar().setValue(scroll)

    # --- numbers ----------------------------------------------------------------

    def set_stats(self, stats: JourneyStats | None, period: str = "all time") -> None:
        """The journey's latest numbers (None: it never ran); shown for the journey or the selected step."""
        self.stats, self.period = stats, period
        self._fill_numbers()

    def _numbers_panel(self) -> NumbersPanel:
        self.numbers = NumbersPanel()
        self._fill_numbers()
        return self.numbers

    def _fill_numbers(self) -> None:
        if self.numbers is None:
            return
        if self.stats is None or self.doc is None:
            self.numbers.show_rows("", [])
            return
        node = self.doc.journey.nodes.get(self.target) if self.target else None
        channel = node.config.get("channel") if node is not None and node.kind == "send_template" else None
        rows = (step_rows(node.kind, self.stats.nodes.get(node.id, NodeStats()), channel) if node is not None
                else journey_rows(self.stats))
        self.numbers.show_rows(f"Performance · {self.period}", rows)

    def _header(self, title: str, description: str, spec: Any) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 4)
        top = QHBoxLayout()
        if spec is not None:
            icon = QLabel()
            icon.setPixmap(kind_icon(spec.icon, spec.colour, 28).pixmap(28, 28))
            top.addWidget(icon)
        heading = QLabel(title)
        heading.setObjectName("heading")
        top.addWidget(heading, 1)
        layout.addLayout(top)
        layout.addWidget(help_label(description))
        return box

    def _test_button(self, node_id: str) -> QWidget:
        """"Send a test…": the step's message, now, to an address typed in the dialog (not an edit)."""
        button = QPushButton("Send a test…")
        button.setObjectName("sendTest")
        button.setToolTip("Send this message now, marked [TEST], to your own address or number")
        button.clicked.connect(lambda _=False: self.test_send_requested.emit(node_id))
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(button)
        layout.addStretch(1)
        return row

    def _people_buttons(self, node_id: str) -> QWidget:
        """"Who is here?" and "Who went this way?": the step's contacts in the live data (not an edit)."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for name, text, tip in (("here", "Who is here?", "The contacts waiting at this step now"),
                                ("went", "Who went this way?", "The contacts that passed this step or took an outcome")):
            button = QPushButton(text)
            button.setObjectName(f"people:{name}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, n=name: self.people_requested.emit(node_id, n))
            layout.addWidget(button)
        layout.addStretch(1)
        return row

    def _add_ends(self, form: QFormLayout, node: Any) -> None:
        outcomes = node.spec.outcomes
        for outcome in outcomes:
            text = ("The journey ends after this step" if len(outcomes) == 1
                    else f"The journey ends after ‘{outcome.label}’")
            box = QCheckBox(text)
            box.setChecked(outcome.name in node.ends)
            box.toggled.connect(self._ends_toggled)
            form.addRow(box)
            self._ends.append((outcome.name, box))

    def _ends_toggled(self) -> None:
        value = tuple(name for name, box in self._ends if box.isChecked())
        self._on_edit(("ends",), Field("ends", S.BOOL, "end of journey"), value)

    def _show_several(self, count: int) -> None:
        """Several items selected: say what can be done with them together."""
        self.target, self.builder, self._signature, self.numbers = "", None, ("several",), None
        page = QWidget()
        page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 14, 16, 16)
        column.addWidget(self._header(f"{count} items selected", "Drag one of them to move them together. "
                                      "Delete removes them, Ctrl+C copies them (also into another journey) "
                                      "and Ctrl+D duplicates them. Select a single step to edit it.", None))
        column.addStretch(1)
        self._replace_page(page)

    def _show_empty(self) -> None:
        self.numbers = None
        label = QLabel("Open a journey to see its settings here.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        label.setObjectName("help")
        self._replace_page(label)

    def _replace_page(self, page: QWidget) -> None:
        """setWidget() would delete the old page at once, yet the edit that caused the
        rebuild may still be running inside one of its editors: delete it later."""
        old = self.takeWidget()
        if old is not None:
            old.hide()
            old.deleteLater()
        guard_wheel(page)           # the wheel scrolls the panel; a field changes only when it has focus
        self.setWidget(page)

    def focus_first_field(self) -> None:
        """After a double-click on the canvas: start typing in the step's first field."""
        if self.builder is None or not self.builder.editors:
            return
        editor = next(iter(self.builder.editors.values()))
        widget = editor.focusProxy() or next(iter(editor.findChildren(QWidget)), editor)
        widget.setFocus()

    # --- editing ----------------------------------------------------------------

    def _on_edit(self, path: tuple[Any, ...], f: Field, value: Any, merge: bool = True,
                 label: str | None = None) -> None:
        doc = self.doc
        if doc is None or doc.value(self.target, path) == value:
            return
        command = SetValue(doc, self.target, path, value, f.label.lower(), mergeable=merge and f.type in MERGEABLE)
        if label:
            command.setText(label)      # what Edit ▸ Undo names
        doc.undo_stack.push(command)

    def _update_values(self) -> None:
        if self.doc is None or self.builder is None:
            return
        for path, editor in self.builder.editors.items():
            editor.set_value(self.doc.value(self.target, path))
        if self.target in self.doc.journey.nodes:
            ends = self.doc.journey.nodes[self.target].ends
            for name, box in self._ends:
                box.blockSignals(True)
                box.setChecked(name in ends)
                box.blockSignals(False)

"""The Preview tab beside the inspector: the selected send step's message as a chosen contact gets it.

Pick a contact (search by name, email, phone or id; ◀ ▶ step through them in id order; the sample
contact when the store has none) and the trigger event (the contact's own, newest first, or a sample),
and the message shows in a MessageView with each missing value highlighted and what the step's policy
does. Editing the step re-renders it 150 ms after the last keystroke. Every read and every render runs
on a worker (app/ui/background.py); a result that an older request produced after a newer one was made
is dropped, so typing never blocks and the pane never shows an older draft over a newer one.
"""
from __future__ import annotations

from typing import Any, Callable
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QSizePolicy,
                               QVBoxLayout, QWidget)
from sqlalchemy.engine import Engine

from app.canvas.document import JourneyDocument
from app.canvas.node_item import NodeItem
from app.canvas.scene import JourneyScene
from app.engine.preview import (SAMPLE_EVENT_ID, Preview, PreviewEvent, PreviewRefused, PreviewSubject, StepSnapshot,
                                contact_events, load_subject, no_event, render_preview, trigger_event_type)
from app.engine.samples import SAMPLE_CONTACT, SAMPLE_ID, sample_event
from app.store.contact_order import neighbour_contact
from app.store.contacts import ContactSummary, find_contacts

from .background import Background
from .message_view import MessageView

DEBOUNCE_MS = 150        # after the last keystroke, the preview renders again
SEARCH_MS = 250          # after the last key in the contact search, the store is searched
SEARCH_LIMIT = 50        # contacts listed for a search (◀ ▶ reach every contact, one at a time)


def contact_label(found: ContactSummary) -> str:
    """"Emma Wilson · emma.wilson@example.com · c001" (the parts that are known)."""
    return " · ".join(p for p in (found.name, found.email or found.phone, found.id) if p)


SAMPLE_LABEL = "Sample contact · Alex Sample"


class PreviewPane(QWidget):
    """See the module's docstring. `rendered` is emitted with each Preview shown."""

    rendered = Signal(object)
    subject_loaded = Signal(object)          # the PreviewSubject now used
    beside_toggled = Signal(bool)            # "Beside the settings": the window moves the pane to its own column

    def __init__(self, db: Engine | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.doc: JourneyDocument | None = None
        self.scene: JourneyScene | None = None
        self.target = ""                      # the send step shown ("" when none)
        self.contact_id: str = SAMPLE_ID
        self.event_id: int | None = None      # None: the default event; SAMPLE_EVENT_ID: the sample
        self.subject: PreviewSubject | None = None
        self.preview: Preview | None = None
        self._events: list[PreviewEvent] = []
        self._render_ticket = 0               # the newest render asked for; older results are dropped
        self._load_ticket = 0
        self._search_ticket = 0
        self._stale = False                   # a render is due once the pane is visible again
        self._chose_default = False
        self._loaded_type: str | None = None  # the trigger's event type the loaded subject was read for
        self.work = Background(self, threads=1)     # one at a time, in order; never behind a slow test send
        self._build()

    # --- building ---------------------------------------------------------------------------------

    def _build(self) -> None:
        self.setMinimumWidth(300)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        page = QWidget()
        page.setObjectName("inspectorPage")
        page.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 14, 16, 16)
        column.setSpacing(8)
        self.heading = QLabel("Preview")
        self.heading.setObjectName("heading")
        self.heading.setWordWrap(True)
        self.beside_button = QPushButton("Beside settings")
        self.beside_button.setCheckable(True)
        self.beside_button.setToolTip("Show the preview in its own column beside the step's settings, to watch "
                                      "the message change as you edit the template")
        self.beside_button.toggled.connect(self._beside_toggled)
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.beside_button)
        column.addLayout(top)
        self.hint = QLabel()
        self.hint.setObjectName("help")
        self.hint.setWordWrap(True)
        column.addWidget(self.hint)

        self.controls = QWidget()
        rows = QVBoxLayout(self.controls)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(6)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search contacts: name, email, phone or id")
        self.search.setClearButtonEnabled(True)
        rows.addWidget(self.search)
        pick = QHBoxLayout()
        self.previous_button = QPushButton("◀")
        self.previous_button.setToolTip("Previous contact (in id order, among those the search finds)")
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("Next contact (in id order, among those the search finds)")
        for button in (self.previous_button, self.next_button):
            button.setFixedWidth(34)
        self.contact_box = QComboBox()
        self.contact_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.contact_box.setMinimumContentsLength(12)
        pick.addWidget(self.previous_button)
        pick.addWidget(self.contact_box, 1)
        pick.addWidget(self.next_button)
        rows.addLayout(pick)
        event_row = QHBoxLayout()
        event_label = QLabel("Event")
        event_label.setObjectName("help")
        self.event_box = QComboBox()
        self.event_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.event_box.setMinimumContentsLength(12)
        event_row.addWidget(event_label)
        event_row.addWidget(self.event_box, 1)
        rows.addLayout(event_row)
        self.store_note = QLabel()
        self.store_note.setObjectName("help")
        self.store_note.setWordWrap(True)
        self.store_note.hide()
        rows.addWidget(self.store_note)
        column.addWidget(self.controls)

        self.view = MessageView()
        self.view.setMinimumHeight(360)
        column.addWidget(self.view, 1)
        scroll.setWidget(page)
        outer.addWidget(scroll)

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.render_now)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_MS)
        self._search_timer.timeout.connect(self._search_now)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.contact_box.activated.connect(self._contact_chosen)
        self.event_box.activated.connect(self._event_chosen)
        self.previous_button.clicked.connect(lambda _=False: self.step_contact(False))
        self.next_button.clicked.connect(lambda _=False: self.step_contact(True))
        self.contact_box.addItem(SAMPLE_LABEL, SAMPLE_ID)
        self._show_nothing()

    def _beside_toggled(self, beside: bool) -> None:
        self.beside_button.setText("Back to tab" if beside else "Beside settings")
        self.beside_toggled.emit(beside)

    # --- wiring -----------------------------------------------------------------------------------

    def set_database(self, db: Engine | None) -> None:
        self.db = db
        self.subject = None
        self._chose_default = False

    def set_document(self, doc: JourneyDocument | None, scene: JourneyScene | None) -> None:
        if self.doc is not None:
            self.doc.changed.disconnect(self._model_changed)
        if self.scene is not None:
            self.scene.selectionChanged.disconnect(self._selection_changed)
        self.doc, self.scene = doc, scene
        self.subject = None
        if doc is not None and scene is not None:
            doc.changed.connect(self._model_changed)
            scene.selectionChanged.connect(self._selection_changed)
        self.show_step("")

    def _selection_changed(self) -> None:
        if self.scene is None:
            return
        items = [i for i in self.scene.selectedItems() if isinstance(i, NodeItem)]
        target = items[0].node_id if len(items) == 1 else ""
        if target != self.target:
            self.show_step(target)

    def _send_step(self, node_id: str) -> bool:
        node = self.doc.journey.nodes.get(node_id) if self.doc is not None and node_id else None
        return node is not None and node.kind == "send_template"

    def show_step(self, node_id: str) -> None:
        """Previews send step `node_id` ("" or another kind of step: nothing to preview)."""
        self.target = node_id if self._send_step(node_id) else ""
        if not self.target:
            self._show_nothing()
            return
        assert self.doc is not None
        self.heading.setText(f"Preview · {self.doc.journey.nodes[self.target].title}")
        self.hint.setText("What this contact would get from this step. Edits show here as you type.")
        self.controls.show()
        self.view.show()
        self._refresh()

    def _refresh(self) -> None:
        """Reads what is needed and renders; while the tab is hidden, only once it is shown again (the
        inspector's tab costs nothing for the preview beside it)."""
        if not self.target:
            return
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        if not self._chose_default or (self.contact_id == SAMPLE_ID and self.contact_box.count() == 1
                                       and not self.search.text().strip()):
            # The first time, and while the store had no contacts (an import may have brought some since).
            self._chose_default = True
            self._search_now(select_first=True)
        elif self.subject is None or self._event_type_changed():
            self.load()
        else:
            self.render_now()

    def _show_nothing(self) -> None:
        self.heading.setText("Preview")
        self.hint.setText("Select a send step on the canvas to see its message as a contact would get it."
                          if self.doc is not None else "Open a journey to preview its messages.")
        self.controls.hide()
        self.view.hide()
        self.preview = None

    def _model_changed(self) -> None:
        if self.target and not self._send_step(self.target):
            self.show_step("")          # deleted, or undone away
            return
        if not self.target or self.doc is None:
            return
        self.heading.setText(f"Preview · {self.doc.journey.nodes[self.target].title}")
        if self._event_type_changed():
            self._refresh()
        else:
            self._debounce.start()      # restarted by every keystroke: one render after the last

    def _event_type_changed(self) -> bool:
        if self.doc is None or self.subject is None:
            return False
        return self._loaded_type != trigger_event_type(self.doc.journey)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._refresh()

    # --- contacts ---------------------------------------------------------------------------------

    def _run(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.work.run(work, done, self._failed, owner=self)

    def _failed(self, exc: Exception) -> None:
        # One line: a database error's text runs on with its SQL and a link.
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        self.view.clear(f"The preview could not be made: {first}")

    def _search_now(self, select_first: bool = False) -> None:
        db, text = self.db, self.search.text()
        self._search_ticket += 1
        ticket = self._search_ticket
        if db is None:
            self._contacts_found(ticket, [], True)
            return
        self._run(lambda: find_contacts(db, text, SEARCH_LIMIT),
                  lambda found: self._contacts_found(ticket, found, select_first or bool(text.strip())))

    def _contacts_found(self, ticket: int, found: list[ContactSummary], select_first: bool) -> None:
        if ticket != self._search_ticket:
            return
        self.contact_box.blockSignals(True)
        self.contact_box.clear()
        for contact in found:
            self.contact_box.addItem(contact_label(contact), contact.id)
        self.contact_box.addItem(SAMPLE_LABEL, SAMPLE_ID)
        self.contact_box.blockSignals(False)
        text = self.search.text().strip()
        if not found and not text:
            self.store_note.setText("No contacts in the store yet: this is the built-in sample contact with a "
                                    "sample cart. Import contacts with File → Import to preview for real people.")
        elif not found:
            self.store_note.setText(f"No contact matches “{text}”.")
        self.store_note.setVisible(not found)
        if select_first or self.contact_box.findData(self.contact_id) < 0:
            self.choose_contact(found[0].id if found else SAMPLE_ID)
        else:
            self.contact_box.setCurrentIndex(self.contact_box.findData(self.contact_id))

    def _contact_chosen(self, index: int) -> None:
        self.choose_contact(str(self.contact_box.itemData(index)))

    def choose_contact(self, contact_id: str, label: str | None = None) -> None:
        """Previews for `contact_id` ("sample": the sample contact) with its default event."""
        index = self.contact_box.findData(contact_id)
        if index < 0:
            self.contact_box.insertItem(0, label or contact_id, contact_id)
            index = 0
        self.contact_box.setCurrentIndex(index)
        self.contact_box.setToolTip(self.contact_box.currentText())     # whole, when the box is narrow
        self.contact_id, self.event_id = contact_id, None
        self.load()

    def step_contact(self, forward: bool) -> None:
        """The next (or previous) contact in id order among those the search finds, wrapping round."""
        db, text = self.db, self.search.text()
        if db is None:
            return
        current = None if self.contact_id == SAMPLE_ID else self.contact_id

        def done(found: ContactSummary | None) -> None:
            if found is not None:
                self.choose_contact(found.id, contact_label(found))

        self._run(lambda: neighbour_contact(db, current, forward, text), done)

    # --- events -----------------------------------------------------------------------------------

    def _event_chosen(self, index: int) -> None:
        self.event_id = self.event_box.itemData(index)
        self.load()

    def _fill_events(self, found: list[PreviewEvent]) -> None:
        self._events = found
        self.event_box.blockSignals(True)
        self.event_box.clear()
        for i, event in enumerate(found):
            self.event_box.addItem(event.words, event.event_id if event.event_id is not None else SAMPLE_EVENT_ID)
            self.event_box.setItemData(i, event.words, Qt.ItemDataRole.ToolTipRole)    # whole, when the box is narrow
        chosen = self.event_box.findData(self.event_id) if self.event_id is not None else 0
        self.event_box.setCurrentIndex(max(chosen, 0))
        self.event_box.setToolTip(self.event_box.currentText())
        self.event_box.setEnabled(len(found) > 1)
        self.event_box.blockSignals(False)

    # --- loading and rendering --------------------------------------------------------------------

    def load(self) -> None:
        """Reads the chosen contact and event from the store (on the worker), then renders."""
        if not self.target or self.doc is None:
            return
        journey = self.doc.journey
        step = StepSnapshot.of(journey, self.target)
        event_type = trigger_event_type(journey)
        db, contact_id, event_id = self.db, self.contact_id, self.event_id
        self._load_ticket += 1
        ticket = self._load_ticket

        def work() -> tuple[PreviewSubject, list[PreviewEvent]]:
            if db is None:          # no store at all: the sample contact and its sample event
                event = PreviewEvent(*sample_event(event_type)) if event_type else no_event()
                return PreviewSubject(SAMPLE_CONTACT, "the sample contact", event, ZoneInfo("UTC"), ""), [event]
            subject = load_subject(db, step, event_type, contact_id, event_id)
            return subject, contact_events(db, subject.contact.id, event_type, zone=subject.zone)

        def done(result: tuple[PreviewSubject, list[PreviewEvent]]) -> None:
            if ticket != self._load_ticket:
                return              # the user chose another contact or event meanwhile
            self.subject, events = result
            self._loaded_type = event_type
            self._fill_events(events)
            self.subject_loaded.emit(self.subject)
            self.render_now()

        def failed(exc: Exception) -> None:
            if ticket != self._load_ticket:
                return              # an older choice failed: the newer one is on its way
            # Nothing is shown for a contact that could not be read: a later keystroke must not render the
            # previous contact's message under this one's name.
            self.subject = self.preview = None
            if isinstance(exc, PreviewRefused):
                self.view.clear(f"No preview: {exc}. Choose another contact, or press ▶.")
            else:
                self._failed(exc)

        self.work.run(work, done, failed, owner=self)

    def render_now(self) -> None:
        """Renders the step as it is now for the loaded contact (on the worker); shows it when it is still
        the newest render asked for."""
        self._debounce.stop()
        if not self.target or self.doc is None or self.subject is None:
            return
        if not self.isVisible():
            self._stale = True      # rendered when the tab is shown again: hidden, it costs nothing
            return
        self._stale = False
        step = StepSnapshot.of(self.doc.journey, self.target)     # a copy: the user edits on meanwhile
        subject = self.subject
        self._render_ticket += 1
        ticket = self._render_ticket

        def work() -> Preview | None:
            # A render still waiting for the worker when a newer one was asked for is not made at all: a
            # slow template must not queue renders of drafts nobody will see ahead of the newest.
            return None if ticket != self._render_ticket else render_preview(step, subject)

        def done(preview: Preview | None) -> None:
            if preview is None or ticket != self._render_ticket:
                return              # a newer draft is being rendered
            self.preview = preview
            self.view.show_preview(preview)
            self.rendered.emit(preview)

        self._run(work, done)

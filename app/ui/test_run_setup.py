"""Who a test run is for and what starts it: a contact described on the spot (name, time zone, email and
phone with consent per channel) or one from the store (searched on a worker), the trigger event and its
time in the contact's zone. `SetupForm.script()` turns it into a `TestScript`.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QTime, Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDateTimeEdit, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPushButton, QStackedWidget, QVBoxLayout,
                               QWidget)
from sqlalchemy.engine import Engine

from app.engine.test_run import Then, TestContact, TestRunError, TestScript
from app.journey.model import Journey
from app.journey.node_kinds import EVENT_LABELS
from app.store.contacts import ContactSummary, contact_detail, find_contacts

from .background import Background, background
from .editors import ZonePicker

_ID = Qt.ItemDataRole.UserRole
_NAME = Qt.ItemDataRole.UserRole + 1
SEARCH_DELAY_MS = 200


def trigger_event(journey: Journey) -> str:
    """The event the journey's trigger waits for ("cart_abandoned"), or "" for a time-based trigger."""
    for node in journey.nodes.values():
        if node.kind == "trigger" and node.config.get("mode", "event") == "event":
            return str(node.config.get("event") or "")
    return ""


class ContactChooser(QWidget):
    """Describe a contact, or pick one from the store."""

    changed = Signal()

    def __init__(self, engine: Engine | None, pool: Background | None = None) -> None:
        super().__init__()
        self.engine, self.pool = engine, pool or background()
        self._query = 0
        self._zones: dict[str, str] = {}        # a stored contact's id → its time zone ("" when none)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        modes = QHBoxLayout()
        modes.setSpacing(0)
        self.group = QButtonGroup(self)
        self.describe_button = QPushButton("Describe one")
        self.store_button = QPushButton("From your contacts")
        for i, button in enumerate((self.describe_button, self.store_button)):
            button.setCheckable(True)
            button.setObjectName("segment")
            self.group.addButton(button, i)
            modes.addWidget(button)
        modes.addStretch(1)
        self.describe_button.setChecked(True)
        column.addLayout(modes)
        self.stack = QStackedWidget()
        column.addWidget(self.stack)
        self.stack.addWidget(self._describe_page())
        self.stack.addWidget(self._store_page())
        self.group.idClicked.connect(self._mode)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._search)

    def _describe_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(4)
        self.name = QLineEdit("Emma Wilson")
        self.name.setObjectName("testName")
        self.zone = ZonePicker([("", "The business's time zone")])
        self.zone.setObjectName("testZone")
        self.zone.set_value("")
        self.email = QLineEdit("emma@example.com")
        self.email.setObjectName("testEmail")
        self.email_ok = QCheckBox("Email")
        self.email_ok.setChecked(True)
        self.phone = QLineEdit("+15551234567")
        self.phone.setObjectName("testPhone")
        self.sms_ok = QCheckBox("SMS")
        self.sms_ok.setChecked(True)
        self.whatsapp_ok = QCheckBox("WhatsApp")
        self.whatsapp_ok.setChecked(True)
        form.addRow("Name", self.name)
        form.addRow("Time zone", self.zone)
        form.addRow("Email", self.email)
        form.addRow("Phone", self.phone)
        form.addRow("Consent", _beside(self.email_ok, self.sms_ok, self.whatsapp_ok))
        for line in (self.name, self.email, self.phone):
            line.textChanged.connect(lambda _t: self.changed.emit())
        for box in (self.email_ok, self.sms_ok, self.whatsapp_ok):
            box.setToolTip("Consent: unticked, the contact has opted out of this channel")
            box.toggled.connect(lambda _b: self.changed.emit())
        self.zone.picked.connect(lambda _z: self.changed.emit())
        return page

    def _store_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.search = QLineEdit()
        self.search.setObjectName("testSearch")
        self.search.setPlaceholderText("Search by name, email, phone or id")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.results = QListWidget()
        self.results.setObjectName("testResults")
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)   # elided; full in the tooltip
        self.results.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.results.itemSelectionChanged.connect(self._chosen)
        column.addWidget(self.search)
        column.addWidget(self.results, 1)
        return page

    def _chosen(self) -> None:
        """A contact was picked: its time zone (read on a worker) is the one the trigger's time is in."""
        chosen = self.chosen_id()
        if chosen is not None and chosen not in self._zones and self.engine is not None:
            engine = self.engine
            self.pool.run(lambda: _stored_zone(engine, chosen), lambda zone: self._zone_known(chosen, zone),
                          lambda exc: self._zone_known(chosen, ""), owner=self)
        self.changed.emit()

    def _zone_known(self, contact_id: str, zone: str) -> None:
        self._zones[contact_id] = zone
        if contact_id == self.chosen_id() and self.from_store():
            self.changed.emit()

    def _mode(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        if index == 1 and self.results.count() == 0:
            self._search()
        self.changed.emit()

    def use_store(self, contact_id: str | None = None) -> None:
        """Switches to the store's contacts, searching for `contact_id` when given."""
        self.store_button.setChecked(True)
        if contact_id is not None:
            self.search.setText(contact_id)
        self._mode(1)

    def _search(self) -> None:
        if self.engine is None:
            return
        self._query += 1
        query, engine, text = self._query, self.engine, self.search.text()
        self.pool.run(lambda: find_contacts(engine, text, limit=50), lambda rows: self._show(query, rows),
                      lambda exc: self._show(query, []), owner=self)

    def _show(self, query: int, rows: list[ContactSummary]) -> None:
        if query != self._query:
            return               # a newer search was started: this answer is stale
        chosen = self.chosen_id()
        self.results.clear()
        for r in rows:
            item = QListWidgetItem(" · ".join(p for p in (r.name, r.email or r.phone or "", r.id) if p))
            item.setData(_ID, r.id)
            item.setData(_NAME, r.name or r.email or r.phone or r.id)
            item.setToolTip(item.text())
            self.results.addItem(item)
            if r.id == chosen or (len(rows) == 1 and chosen is None):
                item.setSelected(True)
        if not rows:
            item = QListWidgetItem("No contact matches." if self.search.text().strip()
                                   else "No contacts in the store yet: describe one instead.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.results.addItem(item)
        if self.results.selectedItems():
            self.changed.emit()

    def from_store(self) -> bool:
        return self.stack.currentIndex() == 1

    def chosen_id(self) -> str | None:
        items = self.results.selectedItems()
        return str(items[0].data(_ID)) if items and items[0].data(_ID) else None

    def who(self) -> str:
        """The contact as people say it: the described name, or the chosen contact's name (else email,
        phone, id); "" when none."""
        if not self.from_store():
            return self.name.text().strip()
        items = self.results.selectedItems()
        return str(items[0].data(_NAME) or "") if items and items[0].data(_ID) else ""

    def zone_name(self) -> str:
        """The zone the test's times are entered in: the contact's (described, or from the store once its
        zone is read), "" for the business's."""
        if self.from_store():
            chosen = self.chosen_id()
            return self._zones.get(chosen, "") if chosen else ""
        return self.zone.value() or ""

    def contact(self) -> tuple[TestContact, str | None]:
        """(the contact, the live contact's id or None). Raises TestRunError when none is chosen."""
        if self.from_store():
            chosen = self.chosen_id()
            if chosen is None:
                raise TestRunError("Choose a contact from the list (search by name, email, phone or id), "
                                   "or describe one.")
            return TestContact(id=chosen), chosen
        first, _, last = self.name.text().strip().partition(" ")
        consent = {"email": self.email_ok, "sms": self.sms_ok, "whatsapp": self.whatsapp_ok}
        return TestContact(first_name=first, last_name=last.strip(), email=self.email.text().strip() or None,
                           phone=self.phone.text().strip() or None, timezone=self.zone.value() or None,
                           consent={ch: "subscribed" if box.isChecked() else "unsubscribed"
                                    for ch, box in consent.items()}), None


def _stored_zone(engine: Engine, contact_id: str) -> str:
    """The stored contact's time zone when it is a zone Python knows, else "" (the business's applies)."""
    detail = contact_detail(engine, contact_id)
    zone = str((detail.fields.get("timezone") if detail else None) or "")
    try:
        ZoneInfo(zone)
    except (ValueError, KeyError, OSError):    # not found: a KeyError; "", odd paths: ValueError; a folder: OSError
        return ""
    return zone if zone else ""


def _beside(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(6)
    for i, w in enumerate(widgets):
        row.addWidget(w, 1 if i == 0 and not isinstance(w, QCheckBox) else 0)
    if isinstance(widgets[0], QCheckBox):
        row.addStretch(1)
    return holder


class TriggerChooser(QWidget):
    """The trigger event's type and when it happens (entered in the contact's local time)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(4)
        self.event_type = QComboBox()
        self.event_type.setObjectName("testEvent")
        for value, label in EVENT_LABELS.items():
            self.event_type.addItem(label, value)
        self.at = QDateTimeEdit()
        self.at.setObjectName("testAt")
        self.at.setCalendarPopup(True)
        self.at.setDisplayFormat("ddd d MMM yyyy  HH:mm")
        start = datetime.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        self.at.setDateTime(QDateTime(QDate(start.year, start.month, start.day), QTime(start.hour, 0)))
        self.zone_note = QLabel()
        self.zone_note.setObjectName("help")
        form.addRow("Event", self.event_type)
        form.addRow("At", _beside(self.at, self.zone_note))
        self.event_type.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.at.dateTimeChanged.connect(lambda _d: self.changed.emit())

    def set_trigger(self, journey: Journey) -> None:
        """Follows the journey's trigger: its event, or — for a journey started by time or by spend, or
        one with no trigger yet — its step's title in place of an event (the contact enters at "At")."""
        event = trigger_event(journey)
        timed = next((n for n in journey.nodes.values() if n.kind == "trigger"), None)
        special = self.event_type.findData("")
        if event:
            if special >= 0:
                self.event_type.removeItem(special)
            self.event_type.setEnabled(True)
            self.event_type.setToolTip("")
            self.set_event(event)
            return
        words = f"{timed.title} (entered at the time below)" if timed is not None else "No trigger yet"
        if special < 0:
            self.event_type.insertItem(0, words, "")
            special = 0
        self.event_type.setItemText(special, words)
        self.event_type.setCurrentIndex(special)
        self.event_type.setEnabled(False)
        self.event_type.setToolTip("This journey is not started by an event: the contact enters at the time below")

    def set_event(self, event_type: str) -> None:
        if not event_type:
            return
        index = self.event_type.findData(event_type)
        if index < 0:
            self.event_type.addItem(event_type.replace("_", " "), event_type)
            index = self.event_type.count() - 1
        self.event_type.setCurrentIndex(index)

    def when(self, zone: str) -> datetime:
        """The chosen time as an aware datetime in `zone` (an IANA name)."""
        naive = self.at.dateTime().toPython()
        assert isinstance(naive, datetime)
        return naive.replace(tzinfo=ZoneInfo(zone or "UTC"), second=0, microsecond=0)


def build_script(contact: ContactChooser, trigger: TriggerChooser, thens: tuple[Then, ...],
                 business_zone: str) -> TestScript:
    """The script the form describes; times are read in the contact's zone, else the business's.
    Raises TestRunError when no contact is chosen."""
    person, live_id = contact.contact()
    zone = contact.zone_name() or business_zone or "UTC"
    return TestScript(contact=person, event_type=str(trigger.event_type.currentData() or ""), at=trigger.when(zone),
                      then=thens, live_contact_id=live_id)

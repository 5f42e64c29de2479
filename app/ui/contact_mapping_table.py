"""The import dialog's mapping: one row per column of the file — its name, a few of its values, a
combo box with every contact field the importer knows, and the field's details (how tags are
separated, a date's format and the attribute it goes to, an attribute's name).

The table edits a Mapping; `changed` fires after every edit, and the dialog recomputes the preview
and the dry run from `mapping()`. Labels are the shop owner's words; the engine's keys
(`consent:sms`, `date:DD.MM.YYYY:birthday`) never show.
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QTableWidget, QTableWidgetItem, QWidget)

from app.engine.contact_mapping import Mapping, Target
from app.engine.contact_values import DATE_FORMATS

# (label, target spec) in the order of the combo box; None draws a separator.
CHOICES: tuple[tuple[str, str] | None, ...] = (
    ("Ignore this column", "ignore"),
    ("Custom attribute", "attribute"),
    None,
    ("Contact id", "id"), ("Email", "email"), ("Phone", "phone"),
    ("First name", "first_name"), ("Last name", "last_name"), ("Full name (first and last)", "full_name"),
    None,
    ("Time zone", "timezone"), ("Country", "country"), ("State / province", "province"),
    None,
    ("Tags", "tags"),
    ("Email consent", "consent:email"), ("SMS consent", "consent:sms"), ("WhatsApp consent", "consent:whatsapp"),
    ("Consent, every channel", "consent:all"),
    ("Channels subscribed (list)", "subscribed"), ("Channels unsubscribed (list)", "unsubscribed"),
    None,
    ("Lifetime spend", "lifetime_spend"), ("Order count", "order_count"), ("Last order date", "last_order_at"),
    ("Date attribute", "date"),
)

TAG_STYLES = (("comma", "a, b"), ("semicolon", "a;b"), ("quoted", '"a","b"'))
HINTS = {
    "id": "matches stored contacts first", "email": "matched in any case", "phone": "stored as +E.164",
    "full_name": "split at the first space", "timezone": "an IANA name (Europe/Berlin)",
    "country": "reads national phones, derives the zone", "province": "derives the zone (US, CA, AU)",
    "consent": "yes/no, subscribed/unsubscribed", "subscribed": "email; sms; whatsapp or all",
    "unsubscribed": "email; sms; whatsapp or all", "lifetime_spend": "$1,234.50 or 1.234,50 € read as numbers",
    "order_count": "a whole number", "last_order_at": "a date or date and time", "ignore": "not imported",
}
COLUMN, EXAMPLES, TARGET, DETAILS = range(4)


def key_of(t: Target) -> str:
    """The combo entry for a target: its field, or `consent:<channel>`."""
    return f"consent:{t.channel}" if t.field == "consent" else t.field


class TargetCombo(QComboBox):
    """What one column is imported as."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for choice in CHOICES:
            if choice is None:
                self.insertSeparator(self.count())
            else:
                self.addItem(choice[0], choice[1])
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMaxVisibleItems(len(CHOICES))

    def key(self) -> str:
        return str(self.currentData())

    def set_key(self, key: str) -> None:
        self.setCurrentIndex(max(0, self.findData(key)))


class MappingTable(QTableWidget):
    """One row per column of the file; `changed` after every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setObjectName("mappingTable")
        self.setHorizontalHeaderLabels(["Column in the file", "Examples", "Imported as", "Details"])
        self.verticalHeader().setVisible(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        head = self.horizontalHeader()
        head.setSectionResizeMode(COLUMN, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(EXAMPLES, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(TARGET, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(DETAILS, QHeaderView.ResizeMode.Stretch)
        head.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._mapping = Mapping({})
        self._header: list[str] = []
        self.combos: dict[str, TargetCombo] = {}
        self._names: dict[str, str] = {}          # attribute/date names typed, by column

    # -- filling ------------------------------------------------------------------------------

    def show_mapping(self, header: list[str], mapping: Mapping, samples: dict[str, list[str]]) -> None:
        """One row per column of `header`, set as `mapping` says, with `samples` as examples."""
        self._header, self._mapping = list(header), mapping
        self._names = {c: t.name for c, t in mapping.columns.items() if t.name}
        self.combos = {}
        self.setRowCount(len(header))
        for row, column in enumerate(header):
            name = QTableWidgetItem(column or "(no name)")
            name.setToolTip(column)
            self.setItem(row, COLUMN, name)
            shown = " · ".join(samples.get(column, [])) or "(empty)"
            example = QTableWidgetItem(shown)
            example.setToolTip("\n".join(samples.get(column, [])))
            example.setForeground(self.palette().placeholderText())
            self.setItem(row, EXAMPLES, example)
            combo = TargetCombo()
            combo.setObjectName(f"target:{column}")
            combo.set_key(key_of(mapping.target_of(column)))
            combo.currentIndexChanged.connect(lambda _=0, c=column: self._picked(c))
            self.combos[column] = combo
            self.setCellWidget(row, TARGET, combo)
            self._details(row, column)
        self.resizeColumnToContents(COLUMN)
        self.setColumnWidth(COLUMN, min(max(self.columnWidth(COLUMN), 140), 240))
        self.setColumnWidth(EXAMPLES, 170)
        self.resizeRowsToContents()

    def set_samples(self, samples: dict[str, list[str]]) -> None:
        for row, column in enumerate(self._header):
            item = self.item(row, EXAMPLES)
            if item is not None:
                item.setText(" · ".join(samples.get(column, [])) or "(empty)")

    # -- the mapping ------------------------------------------------------------------------

    def mapping(self) -> Mapping:
        """The mapping as the table shows it (every column named, so nothing is guessed later)."""
        return self._mapping

    def target(self, column: str) -> Target:
        return self._mapping.target_of(column)

    def choose(self, column: str, key: str) -> None:
        """Sets a column's field as the user would (tests, and the dialog's hints)."""
        self.combos[column].set_key(key)

    def _build(self, column: str, key: str, form: str | None = None) -> Target:
        field, _, channel = key.partition(":")
        if field == "consent":
            return Target("consent", channel=channel)
        if field == "date":
            old = self._mapping.target_of(column)
            return Target("date", format=form or old.format or "ISO", name=self._names.get(column))
        if field == "attribute":
            return Target("attribute", name=self._names.get(column))
        return Target(field)

    def _set(self, column: str, target: Target, **changes: object) -> None:
        columns = dict(self._mapping.columns)
        columns[column] = target
        self._mapping = replace(self._mapping, columns=columns, **changes)  # type: ignore[arg-type]
        self.changed.emit()

    def _picked(self, column: str) -> None:
        target = self._build(column, self.combos[column].key())
        self._set(column, target)
        self._details(self._header.index(column), column)

    # -- details per field ---------------------------------------------------------------------

    def detail(self, column: str, kind: str) -> QWidget | None:
        """The details widget of a column now shown: `tags`, `format` (a date's) or `name` (an attribute's)."""
        box = self.cellWidget(self._header.index(column), DETAILS)
        return box.findChild(QWidget, f"{kind}:{column}") if box is not None else None

    def _details(self, row: int, column: str) -> None:
        t = self._mapping.target_of(column)
        box = QWidget()
        line = QHBoxLayout(box)
        line.setContentsMargins(6, 0, 6, 0)
        line.setSpacing(6)
        if t.field == "tags":
            styles = QComboBox()
            styles.setObjectName(f"tags:{column}")
            for key, example in TAG_STYLES:
                styles.addItem(f"separated like {example}", key)
            styles.setCurrentIndex(max(0, styles.findData(self._mapping.tags)))
            styles.currentIndexChanged.connect(lambda _=0, s=styles, c=column: self._set(
                c, self._mapping.target_of(c), tags=str(s.currentData())))
            line.addWidget(styles)
        elif t.field == "date":
            forms = QComboBox()
            forms.setObjectName(f"format:{column}")
            for form in DATE_FORMATS:
                forms.addItem("ISO (2024-03-05)" if form == "ISO" else form, form)
            forms.setCurrentIndex(max(0, forms.findData(t.format)))
            forms.currentIndexChanged.connect(lambda _=0, f=forms, c=column: self._set(
                c, self._build(c, "date", str(f.currentData()))))
            line.addWidget(forms)
            line.addWidget(self._name_edit(column, "date"))
        elif t.field == "attribute":
            line.addWidget(self._name_edit(column, "attribute"))
        else:
            hint = QLabel(HINTS.get(t.field, HINTS["consent"] if t.field == "consent" else ""))
            hint.setObjectName("help")
            line.addWidget(hint)
        line.addStretch(1)
        self.setCellWidget(row, DETAILS, box)

    def _name_edit(self, column: str, key: str) -> QLineEdit:
        edit = QLineEdit(self._names.get(column, ""))
        edit.setObjectName(f"name:{column}")
        edit.setPlaceholderText(column or "attribute name")
        edit.setToolTip("The attribute it is stored as (templates use {{ contact.<name> }}); empty: the column's name")
        edit.setMinimumWidth(140)

        def typed() -> None:
            text = edit.text().strip()
            if text:
                self._names[column] = text
            else:
                self._names.pop(column, None)
            current = self._mapping.target_of(column)
            self._set(column, self._build(column, key, current.format))
        edit.editingFinished.connect(typed)
        return edit

"""The import dialog's preview: the file's first rows AS THEY WILL BE STORED (phones in E.164, tags
split, the time zone and where it came from, consent per channel, spend as a number), one table
row per record. A refused row says why in its first column; a cell left out or wrong is tinted and
its tooltip gives the reason."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.engine.contact_preview import PreviewRow, mark_key
from app.engine.import_rows import ContactRow

from .theme import colours

Index = QModelIndex | QPersistentModelIndex
ZONE_FROM = {"file": "", "phone": "from the phone", "country": "from the country", "province": "from the state"}
CHANNEL_NAMES = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _consent(row: ContactRow) -> str:
    parts = [f"{CHANNEL_NAMES.get(c, c)} ✓" for c in row.subscribed]
    parts += [f"{CHANNEL_NAMES.get(c, c)} ✗" for c in row.unsubscribed]
    return ", ".join(parts)


def _zone(item: PreviewRow) -> str:
    zone = item.row.fields.get("timezone") if item.row else None
    if not zone:
        return ""
    how = ZONE_FROM.get(item.zone_from, "")
    return f"{zone} ({how})" if how else str(zone)


# (heading, mark key, value of a stored row)
COLUMNS: tuple[tuple[str, str, Callable[[PreviewRow], str]], ...] = (
    ("Line", "", lambda i: str(i.line)),
    ("Id", "id", lambda i: i.row.id if i.row else ""),
    ("Email", "email", lambda i: str(i.row.fields.get("email") or "") if i.row else ""),
    ("Phone", "phone", lambda i: str(i.row.fields.get("phone") or "") if i.row else ""),
    ("First name", "first_name", lambda i: str(i.row.fields.get("first_name") or "") if i.row else ""),
    ("Last name", "last_name", lambda i: str(i.row.fields.get("last_name") or "") if i.row else ""),
    ("Time zone", "timezone", _zone),
    ("Tags", "tags", lambda i: ", ".join(i.row.tags) if i.row else ""),
    ("Consent", "consent", lambda i: _consent(i.row) if i.row else ""),
    ("Spend", "lifetime_spend", lambda i: _money(i.row.lifetime_spend) if i.row else ""),
    ("Orders", "order_count", lambda i: "" if not i.row or i.row.order_count is None else str(i.row.order_count)),
    ("Last order", "last_order_at",
     lambda i: i.row.last_order_at.strftime("%Y-%m-%d") if i.row and i.row.last_order_at else ""),
    ("Attributes", "attributes",
     lambda i: "; ".join(f"{k}: {v}" for k, v in i.row.attributes.items()) if i.row else ""),
)
STATUS = "Status"


class PreviewModel(QAbstractTableModel):
    """The rows of a contact_preview.Preview, read-only."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[PreviewRow] = []

    def show(self, items: list[PreviewRow]) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return STATUS if section == 1 else COLUMNS[section if section == 0 else section - 1][0]
        return None

    def _mark(self, item: PreviewRow, key: str) -> str:
        """The reason a cell is marked: its field's, or for attributes any attribute's."""
        if key == "attributes":
            return "; ".join(v for k, v in item.marks.items() if k.startswith(("date:", "attribute:")))
        if key == "consent":
            return "; ".join(v for k, v in item.marks.items() if k in ("consent", "subscribed", "unsubscribed"))
        return item.marks.get(key, "")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        column = index.column()
        if column == 1:
            return self._status(item, role)
        heading, key, value = COLUMNS[column if column == 0 else column - 1]
        reason = self._mark(item, key) if key else ""
        if role == Qt.ItemDataRole.DisplayRole:
            text = value(item)
            return text if text or not reason else "—"
        if role == Qt.ItemDataRole.ToolTipRole:
            raw = "\n".join(f"{c}: {v}" for c, v in item.values.items() if v.strip())
            return (f"{heading}: {reason}\n\n" if reason else "") + f"Line {item.line} as written:\n{raw}"
        if role == Qt.ItemDataRole.BackgroundRole and (reason or item.row is None):
            return _tint("#d93025", 48 if reason else 20)      # the bad cell stronger than its refused row
        if role == Qt.ItemDataRole.ForegroundRole and item.row is None and column != 0:
            return QColor(colours()["muted"])
        return None

    def _status(self, item: PreviewRow, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if item.row is None:
                return f"Refused: {item.problem}"
            return f"Kept, {len(item.marks)} value{'s' if len(item.marks) != 1 else ''} left out" if item.marks else "OK"
        if role == Qt.ItemDataRole.ToolTipRole:
            return item.problem or "\n".join(item.marks.values()) or "Imported as shown"
        if role == Qt.ItemDataRole.ForegroundRole:
            if item.row is None:
                return QColor("#f28b82" if _dark() else "#b3261e")
            if item.marks:
                return QColor("#fdd663" if _dark() else "#8a5a00")
        return None


def _dark() -> bool:
    return colours()["base"].lower() != "#ffffff"


def _tint(colour: str, alpha: int) -> QColor:
    tinted = QColor(colour)
    tinted.setAlpha(alpha)
    return tinted


__all__ = ["PreviewModel", "COLUMNS", "mark_key"]

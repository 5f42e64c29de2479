"""What the importers read and report: a bad line (`Problem`), a contact row, an import's report."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class Note(Problem):
    """A line kept without one of its values (an identify call's bad email…): said by line, not skipped."""


@dataclass
class ContactRow:
    line: int
    id: str
    fields: dict[str, str | None]
    tags: list[str]
    unsubscribed: list[str]
    attributes: dict[str, str] = field(default_factory=dict)
    subscribed: list[str] = field(default_factory=list)     # opt-ins listed in the file (never clear an opt-out)
    contested: list[str] = field(default_factory=list)      # named in both columns: the opt-out is taken
    # History baselines from the file (None: not given): the shop's totals, never lowering what is stored.
    lifetime_spend: Decimal | None = None
    order_count: int | None = None
    last_order_at: datetime | None = None
    # Who the row is when it has no id (or its id is not stored): matched by email, else phone.
    warnings: list[str] = field(default_factory=list)       # kept, with something left out (a bad phone)
    # The time zone was derived (from the phone or the address), not read: it fills an empty zone only.
    zone_derived: bool = False


@dataclass
class ReadStats:
    """What reading a contacts file found beyond its rows: time zones derived, by how (`phone`,
    `country`, `province`), rows kept with something left out (`warned`), the preset or mapping."""

    derived: dict[str, int] = field(default_factory=dict)
    warned: int = 0
    source: str = ""

    def zones(self) -> str:
        """`12 time zones derived (8 from the phone number, 4 from the country)`, or ""."""
        total = sum(self.derived.values())
        if not total:
            return ""
        parts = ", ".join(f"{n} from the {how.replace('phone', 'phone number')}" for how, n in self.derived.items())
        return f"{total} time zone{'s' if total != 1 else ''} derived ({parts})"


@dataclass
class ContactImport:
    """What an import did: contacts written (`count`: every good row), and of them how many were new,
    updated, or already as the file says (`unchanged`: not written at all, so a re-run of the same
    file changes nothing); notices about rows kept with something left unchanged (an opt-out)."""

    count: int
    notices: list[Problem] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    consent: dict[tuple[str, str], int] = field(default_factory=dict)    # (channel, new state): changes recorded

    def summary(self) -> str:
        """`N new, M updated, K unchanged` (the last two only when some are)."""
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"

    def consent_summary(self) -> str:
        """`email: 3 subscribed, 2 unsubscribed; sms: 1 subscribed`, or "" when no consent changed."""
        parts = []
        for channel in ("email", "sms", "whatsapp"):
            states = [f"{self.consent[(channel, s)]} {s}" for s in ("subscribed", "unsubscribed")
                      if self.consent.get((channel, s))]
            if states:
                parts.append(f"{channel}: {', '.join(states)}")
        return "; ".join(parts)

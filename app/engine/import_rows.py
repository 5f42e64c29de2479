"""What the importers read and report: a bad line (`Problem`), a contact row, an import's report."""
from __future__ import annotations

from dataclasses import dataclass, field


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

    def summary(self) -> str:
        """`N new, M updated, K unchanged` (the last two only when some are)."""
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged"

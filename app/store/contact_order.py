"""Contacts in a stable order (by id) for stepping through them: the next or previous one matching a search.

The preview steps through contacts one at a time; with 100,000 contacts it must never load them all, so
each step is one indexed read (`id > current ORDER BY id LIMIT 1`). The search matches as
`contacts.find_contacts` does: every word somewhere in the id, email, phone, first or last name.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from app.store.contacts import ContactSummary, matching
from app.store.tables import contacts


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def neighbour_contact(db: Engine, current: str | None, forward: bool = True, text: str = "") -> ContactSummary | None:
    """The contact after (`forward`) or before `current` in id order among those matching `text`, wrapping
    round at the ends; the first (or last) one when `current` is None. None when no contact matches."""
    c = contacts.c
    base = matching(select(c.id, c.email, c.phone, c.first_name, c.last_name), text)
    order = c.id if forward else c.id.desc()
    with db.connect() as conn:
        row = None
        if current is not None:
            beyond = c.id > current if forward else c.id < current
            row = conn.execute(base.where(beyond).order_by(order).limit(1)).first()
        if row is None:             # past the end (or no current one): start again at the other end
            row = conn.execute(base.order_by(order).limit(1)).first()
    return None if row is None else ContactSummary(row.id, row.email, row.phone, _name(row.first_name, row.last_name))


def has_contacts(db: Engine) -> bool:
    """Whether the store holds any contact (one indexed read)."""
    with db.connect() as conn:
        return conn.execute(select(contacts.c.id).limit(1)).first() is not None

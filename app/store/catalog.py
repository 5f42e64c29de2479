"""The catalog of attribute names: custom contact attributes and event properties.

Validation checks that a template's ``{{ contact.vip_level }}`` or
``{{ event.order_total }}`` names something the shop has actually sent us.
Scanning every contact's JSON for that would be slow, so ingest records each
name once here, in the same transaction as the data that carried it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from app.store.sql import insert_or_ignore
from app.store.tables import attribute_catalog

CONTACT_SCOPE = "contact"
"""Scope of custom contact attributes; any other scope is an event type."""

_SCOPE_MAX = attribute_catalog.c.scope.type.length  # type: ignore[attr-defined]
_NAME_MAX = attribute_catalog.c.name.type.length  # type: ignore[attr-defined]


@dataclass(frozen=True)
class VariableNames:
    """Every attribute name seen so far, for checking template variables."""

    contact_attributes: frozenset[str] = frozenset()
    event_properties: dict[str, frozenset[str]] = field(default_factory=dict)


def record_attributes(conn: Connection, scope: str, names: Iterable[str]) -> None:
    """Remember ``names`` under ``scope`` ('contact' or an event type); repeats are ignored.

    Runs on the caller's connection and transaction. Empty names, and names or
    scopes too long for the catalog, are skipped: they cannot be template
    variables anyway, and ingest must not fail because of them.
    """
    if not scope or len(scope) > _SCOPE_MAX:
        return
    unique = sorted({n for n in names if isinstance(n, str) and 0 < len(n) <= _NAME_MAX})
    if not unique:
        return
    statement = insert_or_ignore(attribute_catalog, conn.dialect.name, ["scope", "name"])
    conn.execute(statement, [{"scope": scope, "name": name} for name in unique])


def known_variables(engine: Engine) -> VariableNames:
    """Read the whole catalog (it holds names, not values, so it stays small)."""
    contact: set[str] = set()
    events: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for scope, name in conn.execute(select(attribute_catalog.c.scope, attribute_catalog.c.name)):
            if scope == CONTACT_SCOPE:
                contact.add(name)
            else:
                events.setdefault(scope, set()).add(name)
    return VariableNames(
        contact_attributes=frozenset(contact),
        event_properties={scope: frozenset(names) for scope, names in events.items()},
    )

"""The bounds the journey schema and the importers enforce are the widths of the store's columns
(issue 9): change a column and this test names the bound to change with it."""
from __future__ import annotations

from app.engine import importers
from app.journey import schema
from app.store.sql import numeric_ceiling
from app.store.tables import (attribute_catalog, contact_tags, contacts, events, journeys, messages, run_log, runs,
                              step_counts)


def width(column) -> int:
    return column.type.length


def test_journey_bounds_are_the_column_widths():
    assert schema.MAX_ID == width(journeys.c.id) == width(runs.c.node_id) == width(messages.c.node_id)
    assert schema.MAX_ID == width(step_counts.c.node_id) == width(run_log.c.node_id)
    assert schema.MAX_NAME == width(journeys.c.name)
    assert schema.MAX_TAG == width(contact_tags.c.tag)
    assert schema.MAX_EVENT == width(events.c.type)
    assert schema.MAX_ATTRIBUTE == width(attribute_catalog.c.name)
    assert schema.MAX_EMAIL == width(messages.c.sender) == width(messages.c.recipient)
    assert schema.TEXT_LIMITS["timezone"] == width(contacts.c.timezone)
    for column in (contacts.c.lifetime_spend, run_log.c.revenue, step_counts.c.revenue):
        assert float(numeric_ceiling(column)) == schema.MAX_AMOUNT


def test_contact_import_bounds_are_the_column_widths():
    assert importers._LIMITS == {name: width(contacts.c[name]) for name in importers._LIMITS}
    assert width(contact_tags.c.tag) == schema.MAX_TAG

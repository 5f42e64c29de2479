"""What a step needs to know, loaded once per batch: journeys and contacts.

Published journey versions are immutable, so their parsed model is cached for
the life of the engine. Contacts (with tags and channel subscriptions) are read
for a whole batch in three queries, never one contact at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection

from app.journey.fileformat import from_document
from app.journey.model import Journey, Node
from app.journey.schema import Config
from app.store.tables import contact_channels, contact_tags, contacts, journey_versions, journeys

CHANNELS = ("email", "sms", "whatsapp")


@dataclass
class LiveJourney:
    """A published version, parsed once."""

    id: str
    version: int
    model: Journey

    @property
    def settings(self) -> Config:
        return self.model.settings

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def trigger(self) -> Node | None:
        return self.model.trigger()

    def node(self, node_id: str | None) -> Node | None:
        return self.model.nodes.get(node_id) if node_id else None


class JourneyCache:
    def __init__(self) -> None:
        self._versions: dict[tuple[str, int], LiveJourney] = {}

    def get(self, conn: Connection, journey_id: str, version: int) -> LiveJourney:
        key = (journey_id, version)
        found = self._versions.get(key)
        if found is None:
            document = conn.execute(select(journey_versions.c.document).where(
                journey_versions.c.journey_id == journey_id, journey_versions.c.version == version)).scalar_one()
            model = from_document(document, f"journey {journey_id} version {version}")
            found = self._versions[key] = LiveJourney(journey_id, version, model)
        return found

    def active(self, conn: Connection) -> list[LiveJourney]:
        """The journeys running now, at their latest published version (one small query)."""
        rows = conn.execute(select(journeys.c.id, journeys.c.published_version).where(
            journeys.c.status == "active", journeys.c.published_version.is_not(None)).order_by(journeys.c.id))
        return [self.get(conn, jid, version) for jid, version in rows]


@dataclass
class ContactView:
    id: str
    fields: dict[str, Any]
    attributes: dict[str, Any]
    tags: set[str] = field(default_factory=set)
    unsubscribed: set[str] = field(default_factory=set)   # channels opted out of

    @property
    def timezone(self) -> str | None:
        return self.fields.get("timezone")

    def address(self, channel: str) -> str | None:
        return self.fields.get("email") if channel == "email" else self.fields.get("phone")

    def reachable(self, channel: str) -> bool:
        return channel not in self.unsubscribed and bool(self.address(channel))

    def condition_data(self) -> dict[str, Any]:
        """Attributes for condition rows: custom attributes with the standard fields on top."""
        return {**self.attributes, **{k: v for k, v in self.fields.items() if v is not None}}

    def template_data(self) -> dict[str, Any]:
        # Empty standard fields are left out so `| default(...)` and the missing-variable policy apply.
        data = self.condition_data()
        data["tags"] = sorted(self.tags)
        return data


_FIELDS = ("email", "phone", "first_name", "last_name", "timezone", "lifetime_spend", "order_count",
           "last_order_at")


def load_contacts(conn: Connection, ids: Iterable[str]) -> dict[str, ContactView]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, ContactView] = {}
    for start in range(0, len(wanted), 500):      # stay under the bound-parameter limit
        chunk = wanted[start:start + 500]
        for row in conn.execute(select(contacts).where(contacts.c.id.in_(chunk))):
            m = row._mapping
            values = {k: m[k] for k in _FIELDS}
            values["lifetime_spend"] = float(values["lifetime_spend"] or 0)
            if isinstance(values["last_order_at"], datetime):
                values["last_order_at"] = values["last_order_at"].isoformat()
            found[m["id"]] = ContactView(m["id"], {"id": m["id"], **values}, dict(m["attributes"] or {}))
        for cid, tag in conn.execute(select(contact_tags.c.contact_id, contact_tags.c.tag).where(
                contact_tags.c.contact_id.in_(chunk))):
            found[cid].tags.add(tag)
        for cid, channel, subscribed in conn.execute(select(
                contact_channels.c.contact_id, contact_channels.c.channel, contact_channels.c.subscribed).where(
                contact_channels.c.contact_id.in_(chunk))):
            if not subscribed:
                found[cid].unsubscribed.add(channel)
    return found

"""What a step needs to know, loaded once per batch: journeys and contacts.

Published journey versions are immutable, so their parsed model is cached for
the life of the engine. Contacts (with tags and consent per channel) are read
for a whole batch in three queries, never one contact at a time.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import BindParameter, Text, bindparam, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError

from app.journey.fileformat import from_document
from app.journey.model import Journey, Node
from app.journey.schema import Config
from app.journey.settings import journey_timezone
from app.store.tables import contact_channels, contact_tags, contacts, journey_versions, journeys

from .consent import CHANNELS, UNKNOWN, UNSUBSCRIBED, allowed

log = logging.getLogger(__name__)

__all__ = ["CHANNELS", "ContactView", "EventCache", "JourneyCache", "LiveJourney", "load_contacts"]


@dataclass
class LiveJourney:
    """A published version, parsed once; its trigger and edges are looked up once too
    (a version is immutable, and the stepper asks for them at every step)."""

    id: str
    version: int
    model: Journey
    trigger: Node | None = field(init=False)
    # The journey's own time zone ("" = the business's): `settings.timezone`, or an old wait's fallback zone.
    timezone: str = field(init=False)
    _next: dict[tuple[str, str], str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.trigger = self.model.trigger()
        self.timezone = journey_timezone(self.model.settings, ((n.kind, n.config) for n in self.model.nodes.values()))
        self._next = {}
        for node_id in self.model.nodes:
            for edge in self.model.edges_from(node_id):
                # The first edge per (node, outcome) wins, as in Journey.next_node.
                self._next.setdefault((node_id, edge.outcome), edge.target)

    @property
    def settings(self) -> Config:
        return self.model.settings

    @property
    def name(self) -> str:
        return self.model.name


    def node(self, node_id: str | None) -> Node | None:
        return self.model.nodes.get(node_id) if node_id else None

    def next_node(self, node_id: str, outcome: str = "next") -> str | None:
        """Where a contact goes when leaving `node_id` through `outcome`; None ends the journey."""
        return self._next.get((node_id, outcome))


class JourneyCache:
    def __init__(self) -> None:
        self._versions: dict[tuple[str, int], LiveJourney] = {}
        self._broken: set[tuple[str, int]] = set()      # versions that could not be read (logged once)

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
        return self._published(conn, ("active",))

    def attributable(self, conn: Connection) -> list[LiveJourney]:
        """The journeys whose messages may earn a conversion: every published one that is running, paused
        or stopped. A message a contact received counts for last touch whatever its journey does now."""
        return self._published(conn, ("active", "paused", "stopped"))

    def _published(self, conn: Connection, statuses: tuple[str, ...]) -> list[LiveJourney]:
        rows = conn.execute(select(journeys.c.id, journeys.c.published_version).where(
            journeys.c.status.in_(statuses), journeys.c.published_version.is_not(None)).order_by(journeys.c.id))
        found = []
        for jid, version in rows.all():
            try:
                found.append(self.get(conn, jid, version))
            except (OperationalError, InterfaceError):
                raise                   # the database's trouble, not the journey's
            except Exception as exc:  # noqa: BLE001 - a stored version that cannot be read stops only itself
                if (jid, version) not in self._broken:
                    self._broken.add((jid, version))
                    log.error("journey %s version %s cannot be read; it reacts to nothing until fixed: %s",
                              jid, version, exc, exc_info=exc)
        return found


class EventCache:
    """Trigger events' properties by event id, kept across batches: a stored event is never changed,
    so (like a published journey version) it may be cached; the newest `limit` are kept."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._props: dict[int, dict[str, Any]] = {}

    def get(self, event_id: int) -> dict[str, Any] | None:
        return self._props.get(event_id)

    def __contains__(self, event_id: int) -> bool:
        return event_id in self._props

    def clear(self) -> None:
        """Forgets everything (after a rolled-back batch: its event ids may be given to other events)."""
        self._props.clear()

    def put(self, event_id: int, properties: dict[str, Any]) -> None:
        self._props[event_id] = properties
        if len(self._props) > self.limit:
            del self._props[next(iter(self._props))]


@dataclass
class ContactView:
    id: str
    fields: dict[str, Any]
    attributes: dict[str, Any]
    tags: set[str] = field(default_factory=set)
    consent: dict[str, str] = field(default_factory=dict)   # channel -> subscribed | unsubscribed; absent: unknown
    # channel -> (when the recorded state was given, its source): events compare their own time with it
    consent_since: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    @property
    def timezone(self) -> str | None:
        return self.fields.get("timezone")

    @property
    def unsubscribed(self) -> set[str]:
        """The channels opted out of (a copy: change consent through app.engine.consent)."""
        return {c for c, s in self.consent.items() if s == UNSUBSCRIBED}

    def consent_state(self, channel: str) -> str:
        return self.consent.get(channel, UNKNOWN)

    def address(self, channel: str) -> str | None:
        return self.fields.get("email") if channel == "email" else self.fields.get("phone")

    def reachable(self, channel: str, allow_unknown: bool | None = None) -> bool:
        """Has an address for `channel` and may be sent marketing on it: not opted out, and consent
        recorded unless `allow_unknown` (default: email yes, texts no, as journeys do by default)."""
        allow = channel == "email" if allow_unknown is None else allow_unknown
        return allowed(self.consent_state(channel), allow) is None and bool(self.address(channel))

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
_KEYS = ("id", *_FIELDS)
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
# Only what a step reads (not the created/updated stamps): id, the fields, then the custom attributes,
# as stored text: most contacts have none, and "{}" needs no JSON parser (PostgreSQL's driver hands
# over a dict either way).
_CONTACTS = select(contacts.c.id, *(contacts.c[k] for k in _FIELDS), type_coerce(contacts.c.attributes, Text)) \
    .where(contacts.c.id.in_(_IDS))
_TAGS = select(contact_tags.c.contact_id, contact_tags.c.tag).where(contact_tags.c.contact_id.in_(_IDS))
_CONSENT = select(contact_channels.c.contact_id, contact_channels.c.channel, contact_channels.c.state,
                  contact_channels.c.changed_at, contact_channels.c.source).where(
    contact_channels.c.contact_id.in_(_IDS))


def _attributes(stored: Any) -> dict[str, Any]:
    if isinstance(stored, dict):
        return dict(stored)
    return json.loads(stored) if stored and stored != "{}" else {}


def load_contacts(conn: Connection, ids: Iterable[str]) -> dict[str, ContactView]:
    wanted = list(dict.fromkeys(ids))
    found: dict[str, ContactView] = {}
    for start in range(0, len(wanted), 500):      # stay under the bound-parameter limit
        chunk = {"ids": wanted[start:start + 500]}
        for *values, attributes in conn.execute(_CONTACTS, chunk):
            fields = dict(zip(_KEYS, values))
            fields["lifetime_spend"] = float(fields["lifetime_spend"] or 0)
            if isinstance(fields["last_order_at"], datetime):
                fields["last_order_at"] = fields["last_order_at"].isoformat()
            found[values[0]] = ContactView(values[0], fields, _attributes(attributes))
        for cid, tag in conn.execute(_TAGS, chunk):
            found[cid].tags.add(tag)
        for cid, channel, state, changed_at, source in conn.execute(_CONSENT, chunk):
            found[cid].consent[channel] = state
            found[cid].consent_since[channel] = (changed_at, source)
    return found

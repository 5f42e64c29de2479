"""Consent per contact and channel: the rules that change it, and the writes that record each change.

Three states per channel: `subscribed`, `unsubscribed`, `unknown` (never asked;
no row in `contact_channels`). Every change is also appended to
`consent_changes` with its time and source, in the caller's transaction.

The rules (README, "Consent"), chosen so that consent never loosens by accident:

- An opt-out (`unsubscribed`) is cleared only by an opt-in that names that very
  channel: a `subscribed` event with `"channel": "sms"`. Nothing generic clears
  it: not a `subscribed` event without a channel or with `"all"`, not an import.
- A `subscribed` event without a channel (a newsletter box at checkout) is an
  email opt-in: it subscribes email when email is `unknown`. It never gives SMS
  or WhatsApp consent, which marketing texts need explicitly (TCPA in the US,
  PECR/GDPR in the UK and EU; WhatsApp Business Policy requires an opt-in).
- A `subscribed` event with `"channel": "all"`, and `all` in the contacts file's
  `subscribed` column, subscribe every channel that is `unknown`.
- An `unsubscribed` event without a channel (or with `"all"`) opts out of every channel.
- Events count by their own time, whatever order they arrive in: an event older than the channel's
  recorded state does not change it (an old opt-in imported after a newer opt-out leaves the opt-out),
  except that an opt-out always overrides an opt-in that only a contacts file gave (a file's
  `subscribed` carries no date of its own, so it cannot be shown to be the later).
- Channel names are read leniently (`SMS`, ` e-mail `, `WhatsApp`), and so are the two event types
  (`Unsubscribed`): an opt-out must never be lost to spelling.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ClauseElement

from app.store.sql import write_transaction
from app.store.tables import consent_changes, contact_channels, contacts

from .bulk import Many

CHANNELS = ("email", "sms", "whatsapp")
SUBSCRIBED, UNSUBSCRIBED, UNKNOWN = "subscribed", "unsubscribed", "unknown"
STATES = (SUBSCRIBED, UNSUBSCRIBED, UNKNOWN)
SOURCE_LIMIT = 300      # characters of `source` kept (the column's width)
CONSENT_EVENTS = ("subscribed", "unsubscribed")
IMPORT_SOURCE = "import:"   # how a change recorded by a contacts file names its source
KEEPS_OPT_OUT = "keeps_opt_out"
"""A `subscribed` event's property: true when the opt-in may not clear an opt-out (a shop's consent, which
is applied only while the contact has not opted out here): the engine checks it against the contact's
consent at the moment the event is applied, so an opt-out applied just before (same batch, another job)
stands."""
# Other spellings of the channels seen in exports and hand-written events.
_ALIASES = {"e-mail": "email", "e mail": "email", "e_mail": "email", "mail": "email", "text": "sms",
            "texts": "sms", "whats app": "whatsapp", "whats_app": "whatsapp", "whats-app": "whatsapp"}


def channel_name(value: Any) -> Any:
    """The canonical name of a channel as written in an event or a file: `email`, `sms`, `whatsapp` or
    `all` (case, surrounding spaces and the spellings in `_ALIASES` ignored); None for a blank value;
    anything else is returned unchanged (the caller reports it)."""
    if not isinstance(value, str):
        return value
    name = " ".join(value.split()).lower()
    if not name:
        return None
    name = _ALIASES.get(name, name)
    return name if name in CHANNELS or name == "all" else value


def consent_event_type(kind: str) -> str:
    """`subscribed` / `unsubscribed` however capitalised or padded (`Unsubscribed`); other types unchanged."""
    name = kind.strip().lower()
    return name if name in CONSENT_EVENTS else kind


@dataclass(frozen=True)
class ConsentChange:
    contact_id: str
    channel: str
    state: str            # the new state
    previous: str         # the state before
    at: datetime
    source: str           # "import:contacts.csv line 7", "event:subscribed #12 (checkout)", "app"


def event_changes(current: Mapping[str, str], kind: str, channel: Any) -> dict[str, str]:
    """The channels a `subscribed`/`unsubscribed` event changes, with their new states.

    `current` maps channel to state (missing: unknown); `channel` is the event's
    `channel` property (None, "all" or a channel name). Only actual changes are returned.
    """
    channel = channel_name(channel)
    named = channel if channel in CHANNELS else None
    wanted: dict[str, str] = {}
    if kind == "unsubscribed":
        # Without a recognised channel, every channel: when in doubt, an opt-out is taken at its widest.
        for c in (CHANNELS if named is None else (named,)):
            wanted[c] = UNSUBSCRIBED
    elif kind == "subscribed":
        if named is not None:
            wanted[named] = SUBSCRIBED                      # the only way back from an opt-out
        elif channel == "all":
            wanted.update((c, SUBSCRIBED) for c in CHANNELS if current.get(c, UNKNOWN) == UNKNOWN)
        elif channel is None and current.get("email", UNKNOWN) == UNKNOWN:
            wanted["email"] = SUBSCRIBED                    # a generic sign-up is an email opt-in
    return {c: s for c, s in wanted.items() if current.get(c, UNKNOWN) != s}


def outdated(state: str, at: datetime, since: tuple[datetime, str] | None) -> bool:
    """True when an event at `at` asking for `state` is older than the channel's recorded state
    (`since`: when it was recorded and by what source; None when unknown) and so must not change it.

    The later by event time wins, so an old opt-in never undoes a newer opt-out. One exception, on
    the safe side: an opt-out is always taken over an opt-in that came from a contacts file.
    """
    if since is None or at >= since[0]:
        return False
    return not (state == UNSUBSCRIBED and since[1].startswith(IMPORT_SOURCE))


def import_changes(current: Mapping[str, str], subscribed: Iterable[str],
                   unsubscribed: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """What a contacts-file row changes, and the channels whose opt-out its `subscribed` cell cannot clear.

    Listed opt-outs are recorded; listed opt-ins apply only to channels not opted out (a file
    never clears an opt-out, and an empty cell changes nothing).
    """
    out, into = set(unsubscribed), set(subscribed)
    changes: dict[str, str] = {}
    refused = []
    for c in CHANNELS:          # in a fixed order, so the history reads the same every time
        state = current.get(c, UNKNOWN)
        if c in out:
            if state != UNSUBSCRIBED:
                changes[c] = UNSUBSCRIBED
        elif c in into:
            if state == UNSUBSCRIBED:
                refused.append(c)
            elif state == UNKNOWN:
                changes[c] = SUBSCRIBED
    return changes, refused


def _upsert(dialect: str) -> ClauseElement:
    values: dict[str, Any] = {c: bindparam(c) for c in ("contact_id", "channel", "state", "changed_at", "source")}
    statement = (sqlite.insert(contact_channels) if dialect == "sqlite" else postgresql.insert(contact_channels))
    statement = statement.values(values)
    return statement.on_conflict_do_update(
        index_elements=["contact_id", "channel"],
        set_={c: statement.excluded[c] for c in ("state", "changed_at", "source")})


_SET_STATE = Many(_upsert)
_FORGET = Many(lambda _: contact_channels.delete().where(contact_channels.c.contact_id == bindparam("cid"),
                                                         contact_channels.c.channel == bindparam("ch")))
_HISTORY = Many(lambda _: consent_changes.insert().values(
    {c: bindparam(c) for c in ("contact_id", "channel", "state", "previous", "at", "source")}))


def record(conn: Connection, changes: list[ConsentChange]) -> None:
    """Sets each change as the channel's current state and appends it to the history (one executemany each)."""
    if not changes:
        return
    rows = [{"contact_id": c.contact_id, "channel": c.channel, "state": c.state, "previous": c.previous,
             "at": c.at, "changed_at": c.at, "source": c.source[:SOURCE_LIMIT]} for c in changes]
    _SET_STATE.run(conn, [r for r in rows if r["state"] != UNKNOWN])
    _FORGET.run(conn, [{"cid": r["contact_id"], "ch": r["channel"]} for r in rows if r["state"] == UNKNOWN])
    _HISTORY.run(conn, rows)


_STATES_OF = select(contact_channels.c.contact_id, contact_channels.c.channel, contact_channels.c.state).where(
    contact_channels.c.contact_id.in_(bindparam("ids", expanding=True)))


def states_of(conn: Connection, ids: list[str]) -> dict[str, dict[str, str]]:
    """Recorded states by contact and channel (unknown channels are absent), 500 ids per query."""
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), 500):
        for cid, channel, state in conn.execute(_STATES_OF, {"ids": ids[start:start + 500]}):
            found.setdefault(cid, {})[channel] = state
    return found


def allowed(state: str, allow_unknown: bool) -> str | None:
    """None when a marketing message may go on a channel in `state`; else the skip reason
    (`unsubscribed`: opted out; `no_consent`: never asked, and the journey needs consent)."""
    if state == UNSUBSCRIBED:
        return "unsubscribed"
    if state == UNKNOWN and not allow_unknown:
        return "no_consent"
    return None


def set_by_hand(db: Engine, contact_id: str, channel: str, state: str, at: datetime, source: str = "app") -> bool:
    """Records a consent state someone set in the app for one channel (an explicit, channel-specific
    change, like a `subscribed` event naming the channel); returns False when it was already so.

    Raises ValueError for an unknown channel or state, or a contact that does not exist.
    """
    if channel not in CHANNELS or state not in (SUBSCRIBED, UNSUBSCRIBED):
        raise ValueError(f"cannot set {channel!r} to {state!r}: channels are {', '.join(CHANNELS)}; "
                         "states subscribed or unsubscribed")
    with write_transaction(db) as conn:
        if conn.execute(select(contacts.c.id).where(contacts.c.id == contact_id)).first() is None:
            raise ValueError(f"no contact with id {contact_id!r}")
        previous = states_of(conn, [contact_id]).get(contact_id, {}).get(channel, UNKNOWN)
        if previous == state:
            return False
        record(conn, [ConsentChange(contact_id, channel, state, previous, at, source)])
    return True

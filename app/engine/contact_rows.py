"""One record of a contacts file, read through its Mapping into a ContactRow (or a Problem).

What a row must have (else it is refused, with its line): an id, email or phone; text the store
can keep; an email that is an address; a known time zone; consent cells that can be read. What
is only reported, the rest of the row kept: a phone that is not a valid number (left empty), a
money, count or date cell that does not parse (not stored).
"""
from __future__ import annotations

import re
from typing import Any

from app.journey.jsonvalues import text_fault
from app.journey.schema import MAX_TAG, timezone_names

from .consent import CHANNELS, channel_name
from .contact_mapping import Mapping, Target
from .contact_values import (SUBSCRIBED, UNSUBSCRIBED, consent_state, count, country_code, date_value,
                             email_address, money, phone_with_zone, tags, timestamp, unquote, zone_of_place)
from .import_rows import ContactRow, Problem, ReadStats

# The widths of the store's columns (app/store/tables.py, contacts; a test compares them): SQLite
# would keep a longer value, PostgreSQL refuses it, so the importer refuses it on both.
LIMITS = {"id": 200, "email": 320, "phone": 32, "first_name": 100, "last_name": 100, "timezone": 64}
_LIMITED = tuple((f"{k}_raw" if k == "phone" else k, n) for k, n in LIMITS.items())
_E164 = re.compile(r"\+\d{1,15}")

# A yes/no cell in this app's `unsubscribed`/`subscribed` columns. In `unsubscribed`, yes means every
# channel (an opt-out is taken at its widest); in `subscribed`, yes is a sign-up without a channel: email.
_YES = frozenset({"yes", "y", "true", "1", "x"})
_NO = frozenset({"no", "n", "false", "0"})


def named_channels(cell: str, column: str) -> list[str]:
    """The channel names a `subscribed`/`unsubscribed` cell lists, separated by `;`, `,` or `|`,
    canonical where known (`SMS`, `e-mail`); a yes/no cell as described above."""
    text = cell.strip()
    if text.lower() in _YES:
        return ["all"] if column == "unsubscribed" else ["email"]
    if text.lower() in _NO:
        return []
    parts = text.replace(",", ";").replace("|", ";").split(";")
    return [str(channel_name(c)).strip().lower() for c in parts if c.strip()]


_FIELDS = frozenset({"id", "email", "first_name", "last_name", "timezone"})


class RowReader:
    """Makes ContactRows of a file's records: `reader(line, values)`; `stats` counts what was derived."""

    def __init__(self, header: list[str], mapping: Mapping, region: str | None = None,
                 stats: ReadStats | None = None) -> None:
        self.header = header
        self.mapping = mapping
        self.targets: list[Target] = [mapping.target_of(h) for h in header]
        self.region = mapping.country or region
        self.stats = stats if stats is not None else ReadStats()
        self.seen: set[str] = set()
        # False in a parsing worker (contact_workers): the process reading the file keeps `seen` and
        # `stats` and settles each row with `admit`, from the `key` and `how` the worker sends along.
        self.dedupe = True
        self.key = ""       # the last row's key (`_key`)
        self.how = ""       # how the last row's time zone was derived ("phone", a place), "" when not
        # The columns read, with what they are (ignored ones are never looked at: a million rows).
        self.plan = [(i, column, t.field, t, t.name or column) for i, (column, t) in enumerate(zip(header, self.targets))
                     if t.field != "ignore"]

    def __call__(self, line: int, values: list[str]) -> ContactRow | Problem:
        try:
            return self._row(line, values)
        except ValueError as exc:
            return Problem(line, str(exc))

    def _row(self, line: int, values: list[str]) -> ContactRow | Problem:
        got: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        consent: dict[str, set[str]] = {SUBSCRIBED: set(), UNSUBSCRIBED: set()}
        explicit: dict[str, set[str]] = {SUBSCRIBED: set(), UNSUBSCRIBED: set()}
        listed: dict[str, list[str]] = {"subscribed": [], "unsubscribed": []}
        row_tags: list[str] = []
        warnings: list[str] = []
        joined = "".join(values)
        plain = joined.isascii() and "\x00" not in joined     # most rows: no cell needs the checks below
        for i, column, kind, t, name in self.plan:
            value = values[i].strip()
            if not value:
                continue
            if plain:
                pass
            elif "\x00" in value:         # PostgreSQL text cannot hold it
                return Problem(line, f"{column or 'a column'} contains a NUL character (\\x00)")
            elif not value.isascii():
                reason = text_fault(value)
                if reason:
                    return Problem(line, f"{column or 'a column'} {reason}")
            if value[0] == "'" and not value.endswith("'"):     # `'02134`, `'M5V 2T6`; not `'quoted'`
                value = unquote(value)
            if kind == "attribute":
                if column:
                    attributes[name] = value
            elif kind in _FIELDS:
                got[kind] = value
            elif kind == "phone":
                got["phone_raw"] = value
            elif kind == "full_name":
                first, _, last = value.partition(" ")
                got.setdefault("first_name", first)
                if last.strip():
                    got.setdefault("last_name", last.strip())
            elif kind in ("country", "province"):
                got[kind] = value
                attributes[kind] = value
            elif kind == "tags":
                row_tags += tags(value, self.mapping.tags)
            elif kind == "consent":
                state = consent_state(value)
                if state is not None:
                    consent[state].update(CHANNELS if t.channel == "all" else (str(t.channel),))
                    if t.channel != "all":
                        explicit[state].add(str(t.channel))
            elif kind in ("unsubscribed", "subscribed"):
                listed[kind] += named_channels(value, kind)
            elif kind in ("lifetime_spend", "order_count", "last_order_at"):
                try:
                    got[kind] = (money if kind == "lifetime_spend" else count if kind == "order_count"
                                 else timestamp)(value)
                except ValueError as exc:
                    warnings.append(f"{column}: {exc}; not stored")
            elif kind == "date":
                try:
                    attributes[name] = date_value(value, str(t.format))
                except ValueError as exc:
                    warnings.append(f"{column}: {exc}; not stored (fix the cell or the date format in the map)")
        return self._finish(line, got, attributes, consent, listed, row_tags, warnings, explicit)

    def _finish(self, line: int, got: dict[str, Any], attributes: dict[str, str], consent: dict[str, set[str]],
                listed: dict[str, list[str]], row_tags: list[str], warnings: list[str],
                explicit: dict[str, set[str]]) -> ContactRow | Problem:
        for name, limit in _LIMITED:
            if len(got.get(name) or "") > limit:
                return Problem(line, f"{name.removesuffix('_raw')} is longer than {limit} characters")
        for tag in row_tags:
            if len(tag) > MAX_TAG:
                return Problem(line, f"the tag {tag[:20]!r}… is longer than {MAX_TAG} characters")
        if got.get("email"):
            try:
                email_address(got["email"])
            except ValueError as exc:
                if not (got.get("id") or got.get("phone_raw")):
                    raise
                # Known by its id or phone, the row still counts (its opt-out above all): kept with
                # the email left out, as a phone that is not a number is.
                warnings.append(f"{exc}; the email was left empty")
                got["email"] = None
        zone = got.get("timezone")
        if zone and zone not in timezone_names():
            # Like a phone that is no number: the row (its opt-out above all) counts without it.
            warnings.append(f"time zone {zone!r} is not an IANA name such as Europe/Paris; left empty "
                            "(the zone of the phone or address, else the business's, applies)")
            zone = None
        for column, names in listed.items():
            for channel in names:
                if channel != "all" and channel not in CHANNELS:
                    return Problem(line, f"{column} names {channel!r}; use email, sms, whatsapp or all (separated by ;)")
        country = country_code(got["country"]) if got.get("country") else None
        if got.get("phone_raw"):
            try:
                got["phone"], got["phone_zone"] = phone_with_zone(got["phone_raw"], country or self.region)
            except ValueError as exc:
                if self.mapping.preset == "ours" and _E164.fullmatch(got["phone_raw"]):
                    # This app's own files hold numbers it wrote in E.164: one libphonenumber does not
                    # know (a new range, a test number) is kept as written, and said.
                    got["phone"] = got["phone_raw"]
                    warnings.append(f"{exc}; kept as written")
                else:
                    warnings.append(f"{exc}; the phone was left empty")
        if not (got.get("id") or got.get("email") or got.get("phone")):
            what = "the id is empty" if any(t.field == "id" for t in self.targets) else "no id, email or phone"
            return Problem(line, what + (" (the phone was not a valid number)" if got.get("phone_raw") else ""))
        key = self.key = _key(got)
        self.how = ""
        if self.dedupe:
            if key in self.seen:
                return _twice(line, key)
            self.seen.add(key)
        derived = not zone
        if derived:
            zone = self._derive(got.get("phone_zone"), country, got.get("province"))
        if not (listed["subscribed"] or listed["unsubscribed"] or self.mapping.file_consent):
            # Consent columns only (a shop export's rows): the same lists as below, without the merging.
            unsubscribed = sorted(consent[UNSUBSCRIBED], key=CHANNELS.index)
            subscribed = sorted(consent[SUBSCRIBED], key=CHANNELS.index)
            both = explicit[SUBSCRIBED] & explicit[UNSUBSCRIBED]
            contested = sorted(both, key=_order) if both else []
        else:
            unsubscribed = _channels(listed["unsubscribed"]) + sorted(consent[UNSUBSCRIBED], key=CHANNELS.index)
            subscribed = _channels(listed["subscribed"]) + sorted(consent[SUBSCRIBED], key=CHANNELS.index)
            for channel, state in self.mapping.file_consent.items():
                (unsubscribed if state == UNSUBSCRIBED else subscribed).append(channel)
            unsubscribed = list(dict.fromkeys(unsubscribed))
            # A channel named both ways — in the two columns of this app's format, or in two consent columns —
            # is recorded as an opt-out, and said; `subscribed: all` with `unsubscribed: sms` is no conflict.
            contested = sorted((set(listed["subscribed"]) & set(listed["unsubscribed"]) - {"all"})
                               | (explicit[SUBSCRIBED] & explicit[UNSUBSCRIBED]), key=_order)
        if warnings and self.dedupe:
            self.stats.warned += 1
        # Without an id the row is named by its email (lower case), else its phone: the writer still
        # looks a stored contact up by them first (contact_import._identify).
        return ContactRow(
            line, got.get("id") or str(got.get("email") or "").lower() or got["phone"],
            {"email": got.get("email"), "phone": got.get("phone"), "first_name": got.get("first_name"),
             "last_name": got.get("last_name"), "timezone": zone},
            row_tags, unsubscribed, attributes,
            [c for c in dict.fromkeys(subscribed) if c not in unsubscribed],   # `subscribed: all` + `unsubscribed: sms`
            contested, got.get("lifetime_spend"), got.get("order_count"), got.get("last_order_at"), warnings,
            derived and zone is not None)

    def _derive(self, phone_zone: str | None, country: str | None, province: str | None) -> str | None:
        """A time zone from the phone's area, else the address (counted in `stats.derived` by how)."""
        zone, how = (phone_zone, "phone") if phone_zone else (None, "")
        if not zone:
            zone, how = zone_of_place(country, province)
        if zone:
            self.how = how
            if self.dedupe:
                self.stats.derived[how] = self.stats.derived.get(how, 0) + 1
        return zone

    def admit(self, row: ContactRow, key: str, how: str) -> ContactRow | Problem:
        """A row a worker read with `dedupe` off (`key`, `how`: its `self.key`, `self.how` there),
        checked and counted here as `__call__` would have: the same Problem for a contact met twice,
        the same `stats`."""
        if key in self.seen:
            return _twice(row.line, key)
        self.seen.add(key)
        if how:
            self.stats.derived[how] = self.stats.derived.get(how, 0) + 1
        if row.warnings:
            self.stats.warned += 1
        return row


def _twice(line: int, key: str) -> Problem:
    return Problem(line, f"contact {key.split(':', 1)[1]!r} appears twice in the file")


def _order(channel: str) -> int:
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def _channels(named: list[str]) -> list[str]:
    """The channels a `subscribed`/`unsubscribed` cell lists (`all`: every one)."""
    return list(CHANNELS) if "all" in named else list(dict.fromkeys(named))


def _key(got: dict[str, Any]) -> str:
    """Who a row is, for finding a contact twice in one file: its id, else email, else phone."""
    if got.get("id"):
        return f"id:{got['id']}"
    if got.get("email"):
        return f"email:{str(got['email']).lower()}"
    return f"phone:{got['phone']}"

"""A contacts file's mapping: what each column is (a contact field, a custom attribute, or ignored),
read from and written to JSON, and saved per header layout so the next file of the same layout
is read the same way.

The JSON form (`journeys contacts import FILE --map MAP.json`; docs in README, "Importing contacts"):

    {"columns": {"E-Mail": "email", "Handy": "phone", "Name": "full_name",
                 "Newsletter": "consent:email", "Geburtstag": "date:DD.MM.YYYY:birthday",
                 "Kundennummer": "id", "Notiz": "ignore", "Stufe": "attribute:loyalty_tier"},
     "tags": "comma", "country": "DE"}

A column the mapping does not name becomes a custom attribute under its own name (nothing is lost).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from app.journey.schema import MAX_ATTRIBUTE

from .consent import CHANNELS, channel_name
from .contact_values import DATE_FORMATS, SUBSCRIBED, TAG_STYLES, UNSUBSCRIBED

# What a column may be. `full_name` is split into first and last name at the first space;
# `country`/`province` place the contact (phones, time zone) and are kept as attributes too;
# `consent` is a per-channel cell (yes/no, SUBSCRIBED/UNSUBSCRIBED/NEVER_SUBSCRIBED…);
# `unsubscribed`/`subscribed` list channels (this app's own format).
FIELDS = ("id", "email", "phone", "first_name", "last_name", "full_name", "timezone", "country", "province",
          "tags", "consent", "unsubscribed", "subscribed", "lifetime_spend", "order_count", "last_order_at",
          "date", "attribute", "ignore")
IDENTITY = ("id", "email", "phone")
SINGLE = tuple(f for f in FIELDS if f not in ("consent", "date", "attribute", "ignore"))


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the column and what to write instead."""


@dataclass(frozen=True)
class Target:
    """What one column is: `field` (one of FIELDS); `channel` for consent (email, sms, whatsapp or
    all); `format` for a date attribute (one of contact_values.DATE_FORMATS); `name` of the
    attribute for `attribute` and `date` (default: the column's name)."""

    field: str
    channel: str | None = None
    format: str | None = None
    name: str | None = None

    def text(self) -> str:
        """The short JSON form: `email`, `consent:sms`, `date:MM/DD:birthday`, `attribute:tier`."""
        if self.field == "consent":
            return f"consent:{self.channel}"
        if self.field == "date":
            return f"date:{self.format}" + (f":{self.name}" if self.name else "")
        if self.field == "attribute" and self.name:
            return f"attribute:{self.name}"
        return self.field

    def label(self) -> str:
        """How the dialog and the dry run name it."""
        if self.field == "consent":
            return f"{self.channel} consent"
        if self.field == "date":
            return f"date ({self.format})" + (f" → {self.name}" if self.name else "")
        if self.field == "attribute":
            return f"attribute {self.name}" if self.name else "custom attribute"
        return self.field.replace("_", " ")


def target(spec: Any, where: str = "") -> Target:
    """A Target from its JSON form (`"email"`, `"consent:sms"`, `"date:MM/DD:birthday"`, or
    `{"field": "date", "format": "MM/DD", "name": "birthday"}`). Raises MappingError naming `where`."""
    if isinstance(spec, dict):
        parts = [str(spec.get("field", ""))]
        extra = {k: spec[k] for k in ("channel", "format", "name") if spec.get(k) is not None}
    elif isinstance(spec, str):
        parts = spec.strip().split(":", 2)
        extra = {}
    else:
        raise MappingError(f"{where}: write a field name such as \"email\", not {spec!r}")
    kind = parts[0].strip().lower()
    if kind not in FIELDS:
        raise MappingError(f"{where}: {kind!r} is not a field; use one of {', '.join(FIELDS)}")
    if kind == "consent":
        channel = channel_name(extra.get("channel", parts[1] if len(parts) > 1 else ""))
        if channel not in (*CHANNELS, "all"):
            raise MappingError(f"{where}: consent needs a channel: consent:email, consent:sms, consent:whatsapp "
                               "or consent:all")
        return Target(kind, channel=channel)
    if kind == "date":
        form = str(extra.get("format", parts[1] if len(parts) > 1 else "")).strip().upper()
        if form not in DATE_FORMATS:
            raise MappingError(f"{where}: a date needs its format: date:{'|'.join(DATE_FORMATS)}")
        name = extra.get("name", parts[2] if len(parts) > 2 else None)
        return Target(kind, format=form, name=_attribute_name(name, where))
    if kind == "attribute":
        return Target(kind, name=_attribute_name(extra.get("name", parts[1] if len(parts) > 1 else None), where))
    return Target(kind)


def _attribute_name(name: Any, where: str) -> str | None:
    if name is None or str(name).strip() == "":
        return None
    if not isinstance(name, str):
        raise MappingError(f"{where}: the attribute name must be text, not {name!r}")
    text = str(name).strip()
    if len(text) > MAX_ATTRIBUTE:
        raise MappingError(f"{where}: the attribute name is longer than {MAX_ATTRIBUTE} characters")
    return text


@dataclass
class Mapping:
    """Each column's Target (by the column's name as the header writes it), how tags are written
    (`semicolon`, `comma` or `quoted`), the country for national phone numbers (ISO alpha-2;
    None: the business's), consent that comes from the file rather than a column (Mailchimp's
    unsubscribed export: {"email": "unsubscribed"}) and the preset it came from."""

    columns: dict[str, Target]
    tags: str = "semicolon"
    country: str | None = None
    file_consent: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    saved: bool = False         # read from the database: the one last used for this header's layout

    def target_of(self, column: str) -> Target:
        """A column's target; a column the mapping does not name is a custom attribute."""
        return self.columns.get(column) or Target("attribute")

    def with_file_consent(self, consent: dict[str, str]) -> "Mapping":
        return replace(self, file_consent=dict(consent))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": {c: t.text() for c, t in self.columns.items()}, "tags": self.tags}
        if self.country:
            out["country"] = self.country
        if self.preset:
            out["preset"] = self.preset
        return out

    def fitted(self, header: Iterable[str]) -> "Mapping":
        """This mapping with its columns named as `header` writes them: a column named the same but
        for case and spaces (`E-Mail ` for `e-mail`, as a saved mapping's signature allows) is that
        column. Raises MappingError naming the columns the mapping names that the file does not have
        (a misspelt name would otherwise leave that column unread: consent kept as a plain attribute)."""
        names = list(header)
        by_key: dict[str, str] = {}
        for h in names:
            by_key.setdefault(_key(h), h)
        columns: dict[str, Target] = {}
        missing: list[str] = []
        for column, t in self.columns.items():
            own = column if column in names else by_key.get(_key(column))
            if own is None:
                missing.append(column)
            else:
                columns.setdefault(own, t)
        if missing:
            raise MappingError(f"the map names {_listing(missing)}, which the file does not have (its columns: "
                               f"{_listing(names)}); write the column names as the file's first line does")
        return replace(self, columns=columns)

    def check(self, header: Iterable[str]) -> None:
        """Raises MappingError when the file cannot be read with this mapping: no column gives an id,
        email or phone, or a field other than consent, date or attribute is given two columns."""
        names = list(header)
        used = [(c, self.target_of(c)) for c in names]
        if not any(t.field in IDENTITY for _, t in used):
            raise MappingError("no column is mapped to id, email or phone, so no row can be matched to a contact "
                               f"(the columns: {_listing(names)})")
        seen: dict[str, str] = {}
        for column, t in used:
            if t.field in SINGLE:
                if t.field in seen:
                    raise MappingError(f"the columns {seen[t.field]!r} and {column!r} are both mapped to "
                                       f"{t.field}; map one of them to ignore")
                seen[t.field] = column


def _key(name: str) -> str:
    return " ".join(name.split()).lower()


def _listing(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


_KEYS = ("columns", "tags", "country", "file_consent", "preset")


def mapping_from_json(data: Any, where: str = "the map") -> Mapping:
    """A Mapping from its JSON form (see the module's docstring). Raises MappingError."""
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise MappingError(f"{where}: must be a JSON object with \"columns\": {{\"column name\": \"field\", ...}}")
    unknown = sorted(set(data) - set(_KEYS), key=str)
    if unknown:     # "tag": "comma" would otherwise be dropped unsaid, and every row read another way
        raise MappingError(f"{where}: {_listing([str(k) for k in unknown])} is not a key of a map; use "
                           f"{', '.join(_KEYS)}")
    columns = {str(name): target(spec, f"{where}: column {name!r}") for name, spec in data["columns"].items()}
    style = str(data.get("tags", "semicolon")).lower()
    if style not in TAG_STYLES:
        raise MappingError(f"{where}: \"tags\" must be one of {', '.join(TAG_STYLES)}")
    country = data.get("country")
    if country is not None:
        from .contact_values import country_code

        code = country_code(str(country))
        if code is None:
            raise MappingError(f"{where}: \"country\" {country!r} is not a country (write DE, US, FR…)")
        country = code
    consent = data.get("file_consent") or {}
    if not isinstance(consent, dict) or any(channel_name(c) not in CHANNELS or s not in (SUBSCRIBED, UNSUBSCRIBED)
                                            for c, s in consent.items()):
        raise MappingError(f"{where}: \"file_consent\" maps channels to subscribed or unsubscribed")
    preset = data.get("preset")
    return Mapping(columns, style, country, {channel_name(c): s for c, s in consent.items()},
                   str(preset) if preset else None)


def read_mapping(path: str) -> Mapping:
    """The mapping in a JSON file. Raises OSError, or MappingError naming the file and the problem."""
    with open(path, encoding="utf-8-sig") as handle:
        text = handle.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MappingError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    return mapping_from_json(data, path)


def signature(header: Iterable[str]) -> str:
    """The layout of a header as a short key: its column names (case and surrounding spaces ignored)
    hashed; two files with the same columns in the same order share it."""
    names = "\x1f".join(" ".join(h.split()).lower() for h in header)
    return hashlib.sha256(names.encode("utf-8")).hexdigest()[:32]


SAVED_PREFIX = "contact_map:"     # app_settings key of a saved mapping: prefix + signature


def saved_mapping(db: Any, header: list[str]) -> Mapping | None:
    """The mapping last used for files with this header's layout, or None."""
    from app.store.app_settings import get_setting

    with db.connect() as conn:
        text = get_setting(conn, SAVED_PREFIX + signature(header))
    if not text:
        return None
    try:
        return replace(mapping_from_json(json.loads(text), "the saved mapping"), saved=True)
    except (ValueError, MappingError):
        return None


def save_mapping(db: Any, header: list[str], mapping: Mapping) -> None:
    """Keeps `mapping` for the next file with this header's layout."""
    from app.store.app_settings import set_setting

    set_setting(db, SAVED_PREFIX + signature(header), json.dumps(mapping.to_json(), ensure_ascii=False))

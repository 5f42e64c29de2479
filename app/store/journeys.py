"""Journeys: the editable draft and its immutable published versions.

The draft is the whole journey document (format "journey/1") as a dict;
``name`` and ``description`` are copied out of it into columns so lists and
uniqueness checks need not parse JSON. Publishing freezes a copy of the draft
as version N+1; runs pin the version they entered with, so versions are never
rewritten.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Unpack

from sqlalchemy import Row, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.journey.jsonvalues import first_fault
from app.store.errors import ConflictError, NotFoundError, StoreError
from app.store.sql import write_transaction
from app.store.tables import JOURNEY_STATUSES, journey_versions, journeys, runs

Clock = Callable[[], datetime]
_NAME_MAX = journeys.c.name.type.length  # type: ignore[attr-defined]
_ID_MAX = journeys.c.id.type.length  # type: ignore[attr-defined]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class JourneyRow:
    """A journey as listed: everything but the document itself."""

    id: str
    name: str
    description: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    published_version: int | None


_ROW_COLUMNS = (
    journeys.c.id, journeys.c.name, journeys.c.description, journeys.c.status,
    journeys.c.created_at, journeys.c.updated_at, journeys.c.published_version,
)  # fmt: skip


def _to_row(row: Row[Unpack[tuple[Any, ...]]]) -> JourneyRow:
    return JourneyRow(**row._mapping)


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise StoreError("A journey needs a name.")
    name = name.strip()
    if len(name) > _NAME_MAX:
        raise StoreError(f"The journey name {name[:40]!r}... is longer than {_NAME_MAX} characters.")
    return name


def _fields(document: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Check a document's id, name and description; return them cleaned."""
    if not isinstance(document, Mapping):
        raise StoreError(f"A journey document must be a dict, not {type(document).__name__}.")
    doc_id = document.get("id")
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > _ID_MAX:
        raise StoreError(f"A journey document needs a string 'id' of at most {_ID_MAX} characters.")
    name = _clean_name(document.get("name"))
    description = document.get("description")
    if description is not None and not isinstance(description, str):
        raise StoreError(f"The description of journey {name!r} must be text.")
    _check_json(document, name)
    return doc_id, name, description


def _check_json(document: Mapping[str, Any], name: str) -> None:
    """Refuse what one backend would store and another reject, with the journey's name and the JSON
    pointer: NUL characters and lone surrogates (PostgreSQL refuses both), NaN, Infinity and numbers
    no float holds, nesting beyond 64 levels (`app.journey.jsonvalues`, the file reader's own check)."""
    fault = first_fault(document)
    if fault is not None:
        raise StoreError(f"Journey {name!r} cannot be saved: {fault}; correct it and save again.")


class JourneyStore:
    """Create, edit, publish and delete journeys. Each method is one transaction."""

    def __init__(self, engine: Engine, now: Clock = utc_now) -> None:
        self._engine = engine
        self._now = now

    @property
    def engine(self) -> Engine:
        """The database this store works on (other readers, such as the variable catalog, share it)."""
        return self._engine

    # -- reading -----------------------------------------------------------

    def get(self, journey_id: str) -> JourneyRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_ROW_COLUMNS).where(journeys.c.id == journey_id)).first()
        return _to_row(row) if row else None

    def find(self, name_or_id: str) -> JourneyRow | None:
        """Look up by id, then exact name, then a case-insensitive name if it is unambiguous."""
        with self._engine.connect() as conn:
            query = select(*_ROW_COLUMNS)
            for where in (journeys.c.id == name_or_id, journeys.c.name == name_or_id):
                row = conn.execute(query.where(where)).first()
                if row:
                    return _to_row(row)
            lowered = func.lower(journeys.c.name) == name_or_id.strip().lower()
            matches = conn.execute(query.where(lowered).limit(2)).all()
        return _to_row(matches[0]) if len(matches) == 1 else None

    def load_draft(self, journey_id: str) -> dict[str, Any]:
        with self._engine.connect() as conn:
            draft = conn.execute(select(journeys.c.draft).where(journeys.c.id == journey_id)).scalar()
        if draft is None:
            raise self._missing(journey_id)
        return dict(draft)  # freshly decoded JSON: the caller may mutate it

    def load_version(self, journey_id: str, version: int) -> dict[str, Any]:
        query = select(journey_versions.c.document).where(
            journey_versions.c.journey_id == journey_id, journey_versions.c.version == version
        )
        with self._engine.connect() as conn:
            document = conn.execute(query).scalar()
        if document is None:
            name = self._require(journey_id).name
            raise NotFoundError(f"Journey {name!r} has no published version {version}.")
        return dict(document)

    def versions(self, journey_id: str) -> builtins.list[int]:
        """Published version numbers, oldest first."""
        self._require(journey_id)
        query = (
            select(journey_versions.c.version)
            .where(journey_versions.c.journey_id == journey_id)
            .order_by(journey_versions.c.version)
        )
        with self._engine.connect() as conn:
            return builtins.list(conn.execute(query).scalars())

    def list(self) -> builtins.list[JourneyRow]:
        """All journeys, most recently changed first."""
        query = select(*_ROW_COLUMNS).order_by(journeys.c.updated_at.desc(), journeys.c.name)
        with self._engine.connect() as conn:
            return [_to_row(row) for row in conn.execute(query)]

    # -- writing -----------------------------------------------------------

    def create(self, document: Mapping[str, Any]) -> JourneyRow:
        """Store a new journey whose draft is ``document``."""
        doc_id, name, description = _fields(document)
        now = self._now()
        draft = {**document, "name": name}
        with self._writing(name, doc_id) as conn:
            self._check_free(conn, name=name, journey_id=doc_id)
            conn.execute(
                journeys.insert().values(
                    id=doc_id, name=name, description=description, status="draft",
                    draft=draft, published_version=None, created_at=now, updated_at=now,
                )  # fmt: skip
            )
        return self._require(doc_id)

    def save_draft(self, journey_id: str, document: Mapping[str, Any]) -> JourneyRow:
        """Replace the draft; the name and description columns follow the document."""
        doc_id, name, description = _fields(document)
        if doc_id != journey_id:
            raise StoreError(f"The document for journey {name!r} has id {doc_id!r}, not {journey_id!r}.")
        draft = {**document, "name": name}
        with self._writing(name, journey_id) as conn:
            self._check_free(conn, name=name, except_id=journey_id)
            self._update(conn, journey_id, name=name, description=description, draft=draft)
        return self._require(journey_id)

    def rename(self, journey_id: str, new_name: str) -> JourneyRow:
        """Rename the journey, in its column and inside its draft document."""
        name = _clean_name(new_name)
        with self._writing(name, journey_id) as conn:
            draft = self._draft_for_update(conn, journey_id)
            self._check_free(conn, name=name, except_id=journey_id)
            draft["name"] = name
            self._update(conn, journey_id, name=name, draft=draft)
        return self._require(journey_id)

    def duplicate(self, journey_id: str, new_id: str, new_name: str) -> JourneyRow:
        """Copy the draft into a new, unpublished journey (versions are not copied)."""
        draft = self.load_draft(journey_id)
        draft["id"], draft["name"] = new_id, new_name
        return self.create(draft)

    def delete(self, journey_id: str) -> None:
        """Delete a journey and its versions. Refused once contacts have run through it."""
        with write_transaction(self._engine) as conn:
            name = self._require(journey_id, conn).name
            count = conn.execute(
                select(func.count()).select_from(runs).where(runs.c.journey_id == journey_id)
            ).scalar_one()
            if count:
                raise StoreError(
                    f"Journey {name!r} has {count} contact run(s) "
                    "and keeps their history; stop it instead of deleting it."
                )
            conn.execute(journeys.delete().where(journeys.c.id == journey_id))

    def set_status(self, journey_id: str, status: str) -> JourneyRow:
        """Set draft/active/paused/stopped; activating needs a published version."""
        if status not in JOURNEY_STATUSES:
            raise StoreError(f"Unknown journey status {status!r}; use one of {', '.join(JOURNEY_STATUSES)}.")
        with write_transaction(self._engine) as conn:
            row = self._require(journey_id, conn)
            if status in ("active", "paused") and row.published_version is None:
                raise StoreError(f"Journey {row.name!r} has no published version yet; publish it first.")
            self._update(conn, journey_id, status=status)
        return self._require(journey_id)

    def publish(self, journey_id: str, check: Callable[[dict[str, Any]], object] | None = None) -> int:
        """Freeze the current draft as the next version number and return it.

        `check` sees the draft inside the same transaction, before anything is written: whatever
        it raises aborts the publish (the engine's gate validates here, so the version frozen
        is the very draft that was checked, even if an autosave lands meanwhile)."""
        with write_transaction(self._engine) as conn:
            draft = self._draft_for_update(conn, journey_id)
            if check is not None:
                check(draft)
            mine = journey_versions.c.journey_id == journey_id
            version = (conn.execute(select(func.max(journey_versions.c.version)).where(mine)).scalar() or 0) + 1
            conn.execute(
                journey_versions.insert().values(
                    journey_id=journey_id, version=version, document=draft, published_at=self._now()
                )
            )
            self._update(conn, journey_id, published_version=version)
        return version

    # -- helpers -------------------------------------------------------------

    @contextmanager
    def _writing(self, name: str, journey_id: str) -> Iterator[Connection]:
        """A write transaction; a unique-key race becomes the same ConflictError as the pre-check."""
        try:
            with write_transaction(self._engine) as conn:
                yield conn
        except IntegrityError as err:
            raise ConflictError(
                f"Journey {name!r} (id {journey_id!r}) clashes with an existing journey's name or id."
            ) from err

    def _update(self, conn: Connection, journey_id: str, **values: Any) -> None:
        conn.execute(
            journeys.update().where(journeys.c.id == journey_id).values(updated_at=self._now(), **values)
        )

    def _draft_for_update(self, conn: Connection, journey_id: str) -> dict[str, Any]:
        # FOR UPDATE serialises concurrent publishes on PostgreSQL (SQLite ignores it).
        query = select(journeys.c.draft).where(journeys.c.id == journey_id).with_for_update()
        draft = conn.execute(query).scalar()
        if draft is None:
            raise self._missing(journey_id)
        return dict(draft)

    def _check_free(
        self, conn: Connection, *, name: str, journey_id: str | None = None, except_id: str | None = None
    ) -> None:
        if journey_id is not None and conn.execute(
            select(journeys.c.name).where(journeys.c.id == journey_id)
        ).first():
            raise ConflictError(f"A journey with id {journey_id!r} already exists; {name!r} was not saved.")
        clash = select(journeys.c.id).where(journeys.c.name == name)
        if except_id is not None:
            clash = clash.where(journeys.c.id != except_id)
        if conn.execute(clash).first():
            raise ConflictError(f"There is already a journey named {name!r}; choose another name.")

    def _require(self, journey_id: str, conn: Connection | None = None) -> JourneyRow:
        query = select(*_ROW_COLUMNS).where(journeys.c.id == journey_id)
        if conn is None:
            with self._engine.connect() as own:
                row = own.execute(query).first()
        else:
            row = conn.execute(query).first()
        if row is None:
            raise self._missing(journey_id)
        return _to_row(row)

    @staticmethod
    def _missing(journey_id: str) -> NotFoundError:
        return NotFoundError(f"No journey with id {journey_id!r}.")

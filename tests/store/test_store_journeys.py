"""JourneyStore: drafts survive restarts, versions are frozen, names stay unique."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from app.store.db import open_database
from app.store.errors import ConflictError, NotFoundError, StoreError
from app.store.journeys import JourneyStore
from app.store.tables import contacts, journey_versions, runs

OTHER_ID = "22222222-2222-4222-8222-222222222222"


def test_draft_survives_closing_and_reopening(db_url: str, make_doc) -> None:
    document = make_doc()
    first = open_database(db_url)
    store = JourneyStore(first)
    store.create(document)
    edited = {**document, "description": "Now with a coupon", "nodes": document["nodes"][:1]}
    store.save_draft(document["id"], edited)
    first.dispose()

    second = open_database(db_url)
    try:
        assert JourneyStore(second).load_draft(document["id"]) == edited
    finally:
        second.dispose()


def test_create_records_the_document_and_times(store: JourneyStore, clock, make_doc) -> None:
    row = store.create(make_doc())
    assert (row.name, row.description, row.status, row.published_version) == (
        "Welcome", "Greets new subscribers", "draft", None,
    )  # fmt: skip
    assert row.created_at == row.updated_at == clock.now
    assert row.created_at.tzinfo is not None
    assert store.load_draft(row.id) == make_doc()


def test_save_draft_updates_listing_and_timestamp(store: JourneyStore, clock, make_doc) -> None:
    created = store.create(make_doc())
    later = clock.advance(minutes=5)
    row = store.save_draft(created.id, {**make_doc(), "name": "Welcome v2", "description": None})
    assert (row.name, row.description) == ("Welcome v2", None)
    assert (row.created_at, row.updated_at) == (created.created_at, later)


def test_save_draft_refuses_a_document_of_another_journey(store: JourneyStore, make_doc) -> None:
    store.create(make_doc())
    with pytest.raises(StoreError, match=OTHER_ID):
        store.save_draft(make_doc()["id"], make_doc(journey_id=OTHER_ID))


def test_list_shows_most_recently_changed_first(store: JourneyStore, clock, make_doc) -> None:
    store.create(make_doc(name="Older"))
    clock.advance(hours=1)
    store.create(make_doc(journey_id=OTHER_ID, name="Newer"))
    assert [j.name for j in store.list()] == ["Newer", "Older"]
    clock.advance(hours=1)
    store.rename(make_doc()["id"], "Older, edited")
    assert [j.name for j in store.list()] == ["Older, edited", "Newer"]


def test_duplicate_name_or_id_is_a_clear_error(store: JourneyStore, make_doc) -> None:
    store.create(make_doc())
    with pytest.raises(ConflictError, match="already a journey named 'Welcome'"):
        store.create(make_doc(journey_id=OTHER_ID))
    with pytest.raises(ConflictError, match="'Welcome again'.*not saved|not saved.*Welcome again") as caught:
        store.create(make_doc(name="Welcome again"))
    assert make_doc()["id"] in str(caught.value)
    assert [j.name for j in store.list()] == ["Welcome"]


def test_renaming_onto_a_taken_name_changes_nothing(store: JourneyStore, make_doc) -> None:
    store.create(make_doc())
    store.create(make_doc(journey_id=OTHER_ID, name="Win-back"))
    with pytest.raises(ConflictError, match="Win-back"):
        store.rename(make_doc()["id"], "Win-back")
    with pytest.raises(ConflictError, match="Win-back"):
        store.save_draft(make_doc()["id"], make_doc(name="Win-back"))
    assert store.load_draft(make_doc()["id"])["name"] == "Welcome"


def test_rename_rewrites_the_document(store: JourneyStore, make_doc) -> None:
    journey_id = store.create(make_doc()).id
    row = store.rename(journey_id, "  Hello there  ")
    assert row.name == "Hello there"
    assert store.load_draft(journey_id)["name"] == "Hello there"
    assert store.find("hello there") == row


def test_find_by_id_name_or_unambiguous_case(store: JourneyStore, make_doc) -> None:
    row = store.create(make_doc())
    assert store.find(row.id) == row
    assert store.find("Welcome") == row
    assert store.find("WELCOME") == row
    assert store.find("Goodbye") is None


def test_publish_freezes_numbered_versions(store: JourneyStore, make_doc) -> None:
    document = make_doc()
    journey_id = store.create(document).id
    assert store.publish(journey_id) == 1
    store.save_draft(journey_id, {**document, "nodes": [], "description": "rewritten"})
    assert store.publish(journey_id) == 2
    store.rename(journey_id, "Renamed after publishing")

    assert store.versions(journey_id) == [1, 2]
    assert store.load_version(journey_id, 1) == document
    assert store.load_version(journey_id, 2)["nodes"] == []
    assert store.load_version(journey_id, 2)["name"] == "Welcome"
    assert store.get(journey_id).published_version == 2
    with pytest.raises(NotFoundError, match="no published version 3"):
        store.load_version(journey_id, 3)


def test_status_is_validated_and_activation_needs_a_version(store: JourneyStore, make_doc) -> None:
    journey_id = store.create(make_doc()).id
    with pytest.raises(StoreError, match="'running'.*draft, active, paused, stopped"):
        store.set_status(journey_id, "running")
    with pytest.raises(StoreError, match="publish it first"):
        store.set_status(journey_id, "active")
    store.publish(journey_id)
    assert store.set_status(journey_id, "active").status == "active"
    assert store.set_status(journey_id, "stopped").status == "stopped"


def test_duplicate_copies_the_draft_not_the_history(store: JourneyStore, make_doc) -> None:
    original = store.create(make_doc())
    store.publish(original.id)
    copy = store.duplicate(original.id, OTHER_ID, "Welcome (copy)")
    assert (copy.id, copy.name, copy.status, copy.published_version) == (
        OTHER_ID, "Welcome (copy)", "draft", None,
    )  # fmt: skip
    draft = store.load_draft(OTHER_ID)
    assert (draft["id"], draft["name"]) == (OTHER_ID, "Welcome (copy)")
    assert draft["nodes"] == make_doc()["nodes"]
    assert store.versions(OTHER_ID) == []
    assert store.load_draft(original.id) == make_doc()
    with pytest.raises(ConflictError, match="Welcome \\(copy\\)"):
        store.duplicate(original.id, str(uuid.uuid4()), "Welcome (copy)")


def test_delete_removes_the_journey_and_its_versions(engine: Engine, store: JourneyStore, make_doc) -> None:
    journey_id = store.create(make_doc()).id
    store.publish(journey_id)
    store.publish(journey_id)
    store.delete(journey_id)
    assert store.get(journey_id) is None
    with engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(journey_versions)).scalar_one()
    assert left == 0
    with pytest.raises(NotFoundError):
        store.load_draft(journey_id)
    with pytest.raises(NotFoundError):
        store.delete(journey_id)


def test_delete_is_refused_once_contacts_ran_through(engine: Engine, store: JourneyStore, make_doc) -> None:
    journey_id = store.create(make_doc()).id
    version = store.publish(journey_id)
    at = datetime(2025, 3, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(contacts.insert().values(id="c1", email="a@example.com", created_at=at, updated_at=at))
        conn.execute(runs.insert().values(
            journey_id=journey_id, version=version, contact_id="c1", status="active",
            entered_at=at, updated_at=at,
        ))  # fmt: skip
    with pytest.raises(StoreError, match="'Welcome' has 1 contact run"):
        store.delete(journey_id)
    assert store.versions(journey_id) == [1]


def test_missing_journey_errors_name_the_id(store: JourneyStore, make_doc) -> None:
    for call in (store.load_draft, store.versions, store.publish):
        with pytest.raises(NotFoundError, match="no-such-id"):
            call("no-such-id")
    assert store.get("no-such-id") is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [({"notes": "tab\x00bed"}, "NUL character"), ({"weight": float("nan")}, "cannot be saved"),
     ({"when": datetime(2025, 1, 1)}, "cannot be saved")],
)  # fmt: skip
def test_documents_either_backend_would_reject_are_refused_up_front(
    store: JourneyStore, make_doc, extra: dict, problem: str
) -> None:
    """SQLite would swallow these and PostgreSQL choke on them; refuse them everywhere."""
    with pytest.raises(StoreError, match=f"'Welcome'.*{problem}"):
        store.create({**make_doc(), **extra})
    assert store.list() == []


def test_concurrent_publishes_get_distinct_versions(store: JourneyStore, make_doc) -> None:
    """The GUI and the engine write at the same time; neither may fail or collide."""
    from concurrent.futures import ThreadPoolExecutor

    journey_id = store.create(make_doc()).id
    with ThreadPoolExecutor(max_workers=6) as pool:
        numbers = list(pool.map(lambda _: store.publish(journey_id), range(12)))
    assert sorted(numbers) == list(range(1, 13))


# NUL is refused by design (see test_documents_either_backend_would_reject...).
# Floats stay below 1e15: PostgreSQL JSONB prints 6.8e16 back as an integer.
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(-1e15, 1e15, allow_nan=False) | st.text(_chars),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_chars, max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


_keys = st.text(_chars, min_size=1, max_size=10).filter(lambda k: k not in {"id", "name", "description"})
_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60).filter(str.strip)


@settings(max_examples=40, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(_keys, _json, max_size=5), name=_names)
def test_any_json_document_round_trips(store: JourneyStore, make_doc, extra: dict, name: str) -> None:
    document = {**make_doc(journey_id=str(uuid.uuid4()), name=name.strip() + str(uuid.uuid4())[:8]), **extra}
    journey_id = store.create(document).id
    assert store.load_draft(journey_id) == document
    version = store.publish(journey_id)
    assert store.load_version(journey_id, version) == document

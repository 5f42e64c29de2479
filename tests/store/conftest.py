"""Fixtures for the storage tests.

Every test that takes ``engine`` runs on a fresh SQLite file under tmp_path.
With JOURNEYS_TEST_PG_URL set, those taking ``any_url`` or ``engine`` run on
PostgreSQL too (see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine

from app.store.db import open_database
from app.store.journeys import JourneyStore

@pytest.fixture
def engine(any_url: str) -> Iterator[Engine]:
    """A migrated database on every configured backend."""
    eng = open_database(any_url)
    yield eng
    eng.dispose()


class FakeClock:
    """Deterministic, aware-UTC time that tests advance by hand."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> JourneyStore:
    return JourneyStore(engine, now=clock)


def _make_document(journey_id: str = "11111111-1111-4111-8111-111111111111", name: str = "Welcome") -> dict:
    """A small journey document in the "journey/1" shape the model writes."""
    return {
        "format": "journey/1",
        "id": journey_id,
        "name": name,
        "description": "Greets new subscribers",
        "nodes": [
            {"id": "n-trigger", "kind": "trigger", "version": 1, "config": {"event": "signed_up"},
             "position": [0.0, 0.0]},
            {"id": "n-send", "kind": "send_template", "version": 1,
             "config": {"channel": "email", "subject": "Hi {{ contact.first_name }} ☀"},
             "position": [240.5, 10.25]},
        ],
        "edges": [{"id": "e1", "source": "n-trigger", "source_port": "out", "target": "n-send"}],
    }  # fmt: skip


@pytest.fixture
def make_doc() -> Callable[..., dict]:
    """Factory: make_doc(journey_id=..., name=...) -> a fresh journey document."""
    return _make_document

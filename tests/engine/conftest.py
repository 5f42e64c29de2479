"""Fixtures for the engine scenarios."""
from __future__ import annotations

from typing import Iterator

import pytest

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.outbox import RecordingChannel
from app.store.db import open_database

from .helpers import START, World, t


@pytest.fixture
def world(any_url: str) -> Iterator[World]:
    """Every scenario runs on a SQLite file, and on PostgreSQL when configured."""
    db = open_database(any_url)
    clock = VirtualClock(t(START))
    channel = RecordingChannel()
    yield World(db, clock, channel, JourneyEngine(db, clock, channel))
    db.dispose()

"""Fixtures for the connector tests: a world on a SQLite file (and PostgreSQL when configured) with a
virtual clock, the local Shopify- and WooCommerce-shaped servers, and a throwaway keyring."""
from __future__ import annotations

from typing import Iterator

import pytest

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.outbox import RecordingChannel
from app.store.db import open_database
from tests.delivery.keyrings import file_keyring, no_keyring  # noqa: F401 - fixtures
from tests.engine.helpers import World

from .fake_shopify import START, FakeShopify
from .fake_woo import FakeWoo

SECRET_VARIABLES = ("JOURNEYS_SHOPIFY_TOKEN", "JOURNEYS_WOOCOMMERCE_KEY", "JOURNEYS_WOOCOMMERCE_SECRET")


@pytest.fixture(autouse=True)
def _no_shop_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def world(any_url: str) -> Iterator[World]:
    db = open_database(any_url)
    clock = VirtualClock(START)
    channel = RecordingChannel()
    yield World(db, clock, channel, JourneyEngine(db, clock, channel))
    db.dispose()


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    server = FakeShopify()
    with server:
        yield server


@pytest.fixture
def woo() -> Iterator[FakeWoo]:
    server = FakeWoo()
    with server:
        yield server

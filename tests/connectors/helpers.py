"""Shortcuts for the connector tests."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.connectors.poller import PollReport, poll
from app.connectors.shopify import ShopifySource
from app.connectors.store import save_connection
from app.connectors.woocommerce import WooSource
from app.store.tables import events, runs
from tests.engine.helpers import World

from .fake_shopify import TOKEN, FakeShopify
from .fake_woo import KEY, SECRET, FakeWoo


class Sleeps(list[float]):
    """Records each wait instead of spending it."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connect_shopify(world: World, server: FakeShopify) -> str:
    return save_connection(world.db, "shopify", server.url, world.clock.now())


def connect_woo(world: World, server: FakeWoo) -> str:
    return save_connection(world.db, "woocommerce", server.url, world.clock.now())


def poll_shopify(world: World, server: FakeShopify, cid: str, sleeps: Sleeps | None = None,
                 token: str = TOKEN) -> PollReport:
    source = ShopifySource(server.url, token, sleep=sleeps if sleeps is not None else Sleeps())
    try:
        return poll(world.engine, cid, source=source)
    finally:
        source.close()


def poll_woo(world: World, server: FakeWoo, cid: str, sleeps: Sleeps | None = None) -> PollReport:
    source = WooSource(server.url, KEY, SECRET, sleep=sleeps if sleeps is not None else Sleeps())
    try:
        return poll(world.engine, cid, source=source)
    finally:
        source.close()


def stored_events(db: Engine, kind: str | None = None) -> list[dict[str, Any]]:
    query = select(events.c.contact_id, events.c.type, events.c.properties, events.c.idempotency_key).order_by(events.c.id)
    if kind:
        query = query.where(events.c.type == kind)
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def run_count(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(runs)).scalar_one())

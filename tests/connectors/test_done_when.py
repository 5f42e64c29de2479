"""Issue 13's "done when", the poller variant: the connectors' job (as the service schedules it) sees a
Shopify checkout on the local Shopify-shaped server; after the hour's wait the checkout recovery
journey's email reaches the local SMTP server through the real outbox dispatcher; an order placed
during the wait exits that shopper's run. Virtual time: the engine's and the dispatcher's clock."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import select

from app.connectors.jobs import connector_jobs
from app.connectors.store import save_connection
from app.delivery.channels import live_dispatcher
from app.delivery.settings import load_settings, save_settings
from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.simulator import install_journey
from app.examples import load_example
from app.store.db import open_database
from app.store.tables import run_log, runs
from tests.delivery.smtp_servers import SmtpServer

from .fake_shopify import START, TOKEN, checkout, order


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(security="none", users={}) as server:
        yield server


def test_a_polled_checkout_gets_its_cart_email_after_an_hour_unless_an_order_comes(any_url, shopify, smtp,
                                                                                    monkeypatch):
    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)       # the service's secret, as on a headless machine
    db = open_database(any_url)
    clock = VirtualClock(START)
    settings = load_settings(db)
    settings.email = smtp.settings(sender="Corner Shop <hello@cornershop.example>")
    save_settings(db, settings)
    install_journey(db, load_example("checkout_recovery"), clock.now())
    save_connection(db, "shopify", shopify.url, clock.now())
    engine = JourneyEngine(db, clock)
    [(name, poll_job, seconds)] = connector_jobs(db, clock)
    dispatcher = live_dispatcher(db, clock)

    def service_round(at):
        """What `journeys serve` does at time `at`: the connectors' job, the tick, the outbox."""
        clock.set(at)
        poll_job()
        engine.tick(at)
        dispatcher.dispatch()

    assert (name, seconds) == ("connectors", 10.0)
    service_round(START)                                      # first connection: the (empty) history
    placed = START + timedelta(minutes=1)
    shopify.checkouts += [checkout(1, "ann@example.com", "25.00", placed),
                          checkout(2, "bo@example.com", "25.00", placed)]
    service_round(START + timedelta(minutes=2))               # the poller sees both checkouts
    with db.connect() as conn:
        assert sorted(conn.execute(select(runs.c.contact_id, runs.c.status))) == [
            ("ann@example.com", "active"), ("bo@example.com", "active")]
    shopify.orders.append(order(2, "bo@example.com", "25.00", START + timedelta(minutes=30)))
    for minute in range(3, 61):                               # a poll every minute through the hour
        service_round(START + timedelta(minutes=minute))
    assert smtp.received == []                                # not before the hour is up
    service_round(placed + timedelta(hours=1, minutes=1))
    assert [r.rcpt_tos for r in smtp.received] == [["ann@example.com"]]
    body = smtp.received[0].message.get_body(("plain",)).get_content()
    assert "/recover?key=k1" in body and "Blue mug" in body and "25.00" in body
    with db.connect() as conn:
        exited = conn.execute(select(run_log.c.contact_id, run_log.c.reason).where(
            run_log.c.action == "exited")).all()
    assert [tuple(r) for r in exited] == [("bo@example.com", "exit_condition")]
    for minute in range(62, 70):                              # later polls change nothing, send nothing twice
        service_round(START + timedelta(hours=1, minutes=minute))
    assert len(smtp.received) == 1
    db.dispose()

"""The receiver end to end with the engine (virtual time): Shopify's checkouts/create through HTTP starts
the checkout recovery example, whose reminder an hour later carries the cart's link; orders/create
during the wait exits the run (the service's own done-when test adds SMTP and a closed app)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.engine.clock import VirtualClock
from app.engine.engine import JourneyEngine
from app.engine.outbox import RecordingChannel
from app.intake.apply import apply_pending
from app.journey.fileformat import load
from app.paths import EXAMPLES

from tests.engine.helpers import World

from .conftest import Receiver
from .fixtures.shopify import CHECKOUT, ORDER, fresh
from .shop import post_shopify

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_checkouts_create_then_an_hour_sends_the_cart_email_and_an_order_meanwhile_exits(receiver: Receiver) -> None:
    clock = VirtualClock(START)
    channel = RecordingChannel()
    world = World(receiver.db, clock, channel, JourneyEngine(receiver.db, clock, channel))
    world.install(load(EXAMPLES / "checkout_recovery.json"))
    carts = {who: fresh(CHECKOUT, id=CHECKOUT["id"] + i, token=f"tok-{who}", email=f"{who}@example.com",
                        created_at=START.isoformat(),
                        abandoned_checkout_url=f"https://shop.example/checkouts/tok-{who}/recover?key=k",
                        customer={**CHECKOUT["customer"], "email": f"{who}@example.com", "first_name": who.title()})
             for i, who in enumerate(("ann", "bo"))}     # two checkouts: two ids (their key)
    with receiver.client() as http:
        for body in carts.values():
            assert post_shopify(http, "checkouts/create", body).status_code == 200
        apply_pending(world.engine)
        world.advance_to(START + timedelta(minutes=30))
        order = fresh(ORDER, email="bo@example.com", financial_status="paid", created_at=(START + timedelta(minutes=30)).isoformat(),
                      customer={**ORDER["customer"], "email": "bo@example.com"})
        assert post_shopify(http, "orders/create", order).status_code == 200
        apply_pending(world.engine)
    world.advance_to(START + timedelta(minutes=59))
    assert world.sent() == []
    world.advance_to(START + timedelta(hours=1, minutes=1))
    sent = world.sent()
    assert [m["contact_id"] for m in sent] == ["ann@example.com"]              # Bo ordered: his run exited
    assert "https://shop.example/checkouts/tok-ann/recover?key=k" in sent[0]["body_text"]
    assert "IPod Nano - 8GB" in sent[0]["body_text"]
    assert {r["contact_id"]: r["reason"] for r in world.log(action="exited")}.get("bo@example.com") == "exit_condition"

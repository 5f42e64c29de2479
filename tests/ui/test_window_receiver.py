"""While the window runs the engine (it holds the engine lease) it also runs the HTTP receiver, at the
receiver's listen setting, so Shopify's webhooks keep arriving when no `journeys serve` runs; it stops
listening when it gives the lease back or another process runs the engine."""
from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy import select

from app.intake.config import LISTEN_KEY
from app.store.app_settings import set_setting
from app.store.lease import Lease
from app.store.tables import events
from app.ui.engine_host import EngineHost
from tests.intake.fixtures.shopify import CHECKOUT, fresh
from tests.intake.shop import post_shopify

SECRET = "shpss_window_secret"


@pytest.fixture(autouse=True)
def quick_lease(monkeypatch):
    monkeypatch.setattr(EngineHost, "LEASE_SECONDS", 1.5)
    monkeypatch.setattr(EngineHost, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setenv("JOURNEYS_SHOPIFY_WEBHOOK_SECRET", SECRET)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listen_here(window) -> str:
    port = _free_port()
    set_setting(window.store.engine, LISTEN_KEY, f"127.0.0.1:{port}")
    return f"http://127.0.0.1:{port}"


def _checkouts(db) -> list[dict]:
    with db.connect() as conn:
        return [dict(r.properties) for r in conn.execute(select(events.c.properties)
                                                          .where(events.c.type == "checkout_started"))]


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_a_signed_checkout_posted_to_the_window_is_stored_and_applied(window, qtbot):
    url = _listen_here(window)
    window.start_engine()
    qtbot.waitUntil(lambda: window.host.listener is not None, timeout=20_000)
    assert window.host.listener.url == url
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == f"Receiver: listening on {url}", timeout=5_000)
    body = fresh(CHECKOUT, email="ann@example.com", customer=None)
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_shopify(http, "checkouts/create", body, secret=SECRET).status_code == 200
        assert post_shopify(http, "checkouts/create", body, secret="wrong").status_code == 401
    # Woken by the stored request, the window's intake job applies it.
    qtbot.waitUntil(lambda: len(_checkouts(window.store.engine)) == 1, timeout=30_000)
    [checkout] = _checkouts(window.store.engine)
    assert checkout["checkout_id"] == str(CHECKOUT["id"]) and checkout["cart_url"]
    window.host.shutdown()                                # closing gives the lease back and stops listening
    assert window.host.listener is None and _refused(url)


def test_the_window_listens_only_while_it_runs_the_engine(window, qtbot):
    db = window.store.engine
    url = _listen_here(window)
    service = Lease(db, "service", ttl=30)
    assert service.acquire()                              # the background service runs the engine
    window.start_engine()
    qtbot.waitUntil(window.engine_status.isVisible, timeout=10_000)
    assert window.host.listener is None and _refused(url)    # the service's own receiver takes webhooks
    service.release()
    qtbot.waitUntil(lambda: window.host.listener is not None, timeout=20_000)
    assert not _refused(url)


def test_an_address_in_use_is_said_and_the_engine_runs_on(window, qtbot):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        set_setting(window.store.engine, LISTEN_KEY, f"127.0.0.1:{taken.getsockname()[1]}")
        window.start_engine()
        qtbot.waitUntil(lambda: window.host.live is not None, timeout=20_000)
        qtbot.waitUntil(lambda: "Receiver: not listening in this window" in window.statusBar().currentMessage(),
                        timeout=5_000)
        assert "is already in use" in window.statusBar().currentMessage()
        assert window.host.listener is None and window.host.runs_engine()
    finally:
        taken.close()

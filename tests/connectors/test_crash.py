"""A poll that dies half-way resumes without gaps or repeats: the cursor is written in the transaction
of the events it covers. Three ways to die: an exception between pages, an exception inside a page's
transaction (after its events were written, before the cursor), and kill -9 of a child `journeys
connections poll` process while it waits for the next page."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

import app.connectors.apply as apply_module
from app.connectors.poller import poll
from app.connectors.shopify import PAGE_SIZE, ShopifySource
from app.connectors.store import cursors_of, get_connection, save_connection
from app.store.db import open_database

from .fake_shopify import START, TOKEN, hours, order
from .helpers import Sleeps, connect_shopify, poll_shopify, stored_events

ROOT = Path(__file__).resolve().parents[2]


PAGE = PAGE_SIZE["orders"]


def _orders(n: int) -> list[dict]:
    return [order(i, f"c{i}@example.com", "10.00", START + timedelta(minutes=i)) for i in range(1, n + 1)]


def _keys_once(db) -> None:
    counted = Counter(e["properties"]["order_id"] for e in stored_events(db, "order_placed"))
    assert all(v == 1 for v in counted.values())


class _Dies(ShopifySource):
    """Raises after `pages` pages of orders were handed out (between two pages)."""

    def __init__(self, *args, pages: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.left = pages

    def page(self, resource, cursor, now):
        if resource == "orders":
            if self.left == 0:
                raise RuntimeError("the power went out")
            self.left -= 1
        return super().page(resource, cursor, now)


def test_an_exception_between_pages_resumes_at_the_next_page(world, shopify):
    shopify.orders += _orders(70)
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))
    dying = _Dies(shopify.url, TOKEN, sleep=Sleeps(), pages=2)
    with pytest.raises(RuntimeError):
        poll(world.engine, cid, source=dying)
    dying.close()
    assert len(stored_events(world.db)) == 2 * PAGE              # two pages in, with their cursor
    assert "the power went out" in get_connection(world.db, cid).last_error
    before = len(shopify.graphql)
    assert poll_shopify(world, shopify, cid).applied.stored == 70 - 2 * PAGE
    resumed = [q for q in shopify.graphql[before:] if q["field"] == "orders"]
    assert resumed[0]["after"] is not None                       # page 3, not page 1 again
    assert len(stored_events(world.db)) == 70
    _keys_once(world.db)
    assert get_connection(world.db, cid).phase == "live" and not get_connection(world.db, cid).failing


def test_a_failure_inside_a_pages_transaction_leaves_neither_its_events_nor_its_cursor(world, shopify, monkeypatch):
    shopify.orders += _orders(60)
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))
    real = apply_module.write_cursor
    calls = []

    def dies_on_the_third_page(conn, cid_, resource, cursor, now, received=0):
        if resource == "orders":
            calls.append(cursor)
            if len([c for c in calls]) in (2, 3):     # the page's events are written; the commit never comes
                raise OSError("disk unplugged")
        return real(conn, cid_, resource, cursor, now, received)
    monkeypatch.setattr(apply_module, "write_cursor", dies_on_the_third_page)
    with pytest.raises(OSError):
        poll_shopify(world, shopify, cid)
    assert len(stored_events(world.db)) == PAGE                  # page 1 only; page 2 rolled back whole
    monkeypatch.setattr(apply_module, "write_cursor", real)
    assert poll_shopify(world, shopify, cid).applied.stored == 60 - PAGE
    assert len(stored_events(world.db)) == 60
    _keys_once(world.db)


def _child(url: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app.cli", "connections", "poll", "--db", url], env=env,
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("hold_at", [3, 5])
def test_kill_9_of_a_polling_journeys_process_resumes_without_gaps_or_repeats(tmp_path, shopify, hold_at):
    url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    db = open_database(url)
    shopify.orders += _orders(120)              # 12 pages of PAGE (10)
    cid = save_connection(db, "shopify", shopify.url, START)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JOURNEYS_SHOPIFY_TOKEN": TOKEN,
           "JOURNEYS_LOG_FILE": str(tmp_path / "child.log")}
    shopify.hold_at = hold_at                   # request 1: customers; 2…: orders pages; this one stalls
    child = _child(url, env)
    try:
        assert shopify.held.wait(60), "the child never asked for the page to stall at"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    pages_in = hold_at - 2                      # the orders pages applied before the stalled request
    assert len(stored_events(db)) == PAGE * pages_in
    cursor = cursors_of(db, cid)["orders"]
    assert cursor["after"] is not None and cursor["since"] is None
    shopify.hold_at = None
    shopify.release.set()
    child = _child(url, env)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert f"{120 - PAGE * pages_in} new event(s)" in out
    assert len(stored_events(db)) == 120
    _keys_once(db)
    asked = [q for q in shopify.graphql if q["field"] == "orders"]
    # every page was answered once, but the stalled one (answered to a dead process) and the restart's
    assert [q["after"] for q in asked].count(None) == 1
    db.dispose()


def test_a_shutdown_ends_a_long_poll_after_its_page_and_the_next_start_goes_on(world, shopify, monkeypatch):
    from app.connectors import jobs

    shopify.orders += _orders(80)
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))
    [(_, job, _)] = jobs.connector_jobs(world.db, world.clock, world.engine)
    asked = 0
    original = shopify.answer

    def shutdown_during_page_two(request):
        nonlocal asked
        if "orders(" in (request.json or {}).get("query", ""):
            asked += 1
            if asked == 2:
                jobs.stop_polls()             # SIGTERM arrives while page 2 is on its way
        return original(request)
    shopify.answer = shutdown_during_page_two
    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    [report] = jobs.poll_due(world.engine)
    assert report.stopped and report.error is None and len(stored_events(world.db)) == 2 * PAGE
    assert get_connection(world.db, cid).phase == "history"        # not done: still history next time
    [(_, job, _)] = jobs.connector_jobs(world.db, world.clock, world.engine)     # the next start
    world.clock.set(START + hours(4))
    job()
    assert len(stored_events(world.db)) == 80 and get_connection(world.db, cid).phase == "live"
    _keys_once(world.db)

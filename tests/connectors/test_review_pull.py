"""Review of the pull connectors (issue 13 §3) as a shop owner and an attacker: a WooCommerce site
whose time zone is not UTC, Shopify's single-query cost limit, addresses typed as people type them,
a connection removed while it polls."""
from __future__ import annotations

from datetime import timedelta

import pytest

from .fake_shopify import START, hours
from .fake_woo import woo_order
from .helpers import connect_woo, poll_woo, stored_events


@pytest.mark.parametrize("offset", [2, 10, -5, 0])
def test_a_woocommerce_site_in_any_time_zone_loses_no_order_between_two_polls(world, woo, offset):
    """WordPress turns a `modified_after` carrying a zone into the SITE's local time before comparing it
    with the GMT column: sent as `…Z`, a site at UTC+2 skipped every order modified in the two hours
    after the cursor, for good (the next order moved the cursor past them)."""
    woo.site_offset = hours(offset)
    woo.add_order(woo_order(1, "ann@example.com", "10.00", START))
    cid = connect_woo(world, woo)
    world.clock.set(START + hours(1))
    assert poll_woo(world, woo, cid).applied.stored == 1                 # history: the first order
    woo.add_order(woo_order(2, "bo@example.com", "20.00", START + timedelta(minutes=50)))
    world.clock.set(START + hours(2))
    report = poll_woo(world, woo, cid)
    assert report.error is None and report.applied.stored == 1         # Bo's order, 50 minutes later
    woo.add_order(woo_order(3, "cy@example.com", "30.00", START + hours(4)))
    world.clock.set(START + hours(5))
    poll_woo(world, woo, cid)
    assert sorted(e["properties"]["order_id"] for e in stored_events(world.db, "order_placed")) == ["1", "2", "3"]
    asked = [r.query.get("modified_after") for r in woo.requests if r.path.endswith("/orders")]
    assert all(a is None or not a.endswith("Z") for a in asked)      # UTC, written without a zone


def test_every_shopify_query_fits_the_single_query_cost_limit(world, shopify):
    """Shopify refuses, before running it, a query whose requested cost is over 1,000 (MAX_COST_EXCEEDED):
    orders(first: 25) with lineItems(first: 50) asked for about 4,000, so no real shop's orders or
    checkouts ever came in."""
    from app.connectors.shopify import COST, PAGE_SIZE, QUERIES

    from .fake_shopify import MAX_QUERY_COST, checkout, customer, order, requested_cost
    for resource, text in QUERIES.items():
        cost = requested_cost(text, {"first": PAGE_SIZE[resource]})
        assert cost <= MAX_QUERY_COST * 0.9, resource              # room for Shopify to price a field higher
        assert COST[resource] >= cost, resource                    # the wait before a query is long enough
    shopify.orders.append(order(1, "ann@example.com", "10.00", START))
    shopify.customers.append(customer(1, "ann@example.com", START))
    shopify.checkouts.append(checkout(1, "bo@example.com", "5.00", START))
    from .helpers import connect_shopify, poll_shopify
    report = poll_shopify(world, shopify, connect_shopify(world, shopify))
    assert report.error is None and report.applied.stored == 2


@pytest.mark.parametrize(("typed", "stored"), [
    ("corner-shop", "corner-shop.myshopify.com"),
    ("HTTPS://Corner-Shop.myshopify.com/", "corner-shop.myshopify.com"),
    ("https://admin.shopify.com/store/corner-shop/orders?inContextTimeframe=today", "corner-shop.myshopify.com"),
    ("http://corner-shop.myshopify.com", "corner-shop.myshopify.com"),        # never the token in clear text
    ("  corner-shop.myshopify.com/admin/settings ", "corner-shop.myshopify.com"),
])
def test_a_shopify_address_is_stored_one_way_whatever_was_typed(typed, stored):
    from app.connectors.setup import normalise
    assert normalise("shopify", typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [
    ("shop.example", "https://shop.example"),
    ("HTTPS://Shop.Example/", "https://shop.example"),
    ("https://shop.example/wp-admin/admin.php?page=wc-settings&tab=advanced", "https://shop.example"),
    ("https://example.com/boutique/wp-json/wc/v3/", "https://example.com/boutique"),
])
def test_a_woocommerce_address_is_stored_one_way_whatever_was_typed(typed, stored):
    from app.connectors.setup import normalise
    assert normalise("woocommerce", typed) == stored


@pytest.mark.parametrize(("kind", "typed", "said"), [
    ("shopify", "corner shop", "has a space"),
    ("shopify", "https://admin.shopify.com/", "the Shopify admin, not a shop"),
    ("woocommerce", "http://shop.example", "https:// only"),
    ("woocommerce", "ftp://shop.example", "not a web address"),
    ("woocommerce", "https://shop.example:http", "not a web address"),
])
def test_an_unusable_address_is_said_in_a_sentence_and_nothing_is_saved(db_url, file_keyring, capsys, kind, typed,
                                                                        said):
    from app.cli import main
    from app.connectors.store import list_connections
    from app.store.db import open_database

    from .fake_woo import KEY, SECRET
    where = ["--shop", typed, "--token", "shpat_x"] if kind == "shopify" else ["--url", typed, "--key", KEY,
                                                                               "--secret", SECRET]
    code = main(["connect", kind, *where, "--db", db_url])
    err = capsys.readouterr().err
    assert code != 0 and said in err and "Traceback" not in err
    db = open_database(db_url)
    assert list_connections(db) == []
    db.dispose()


def test_the_same_shop_typed_two_ways_is_one_connection(world, file_keyring):
    from app.connectors.setup import connect
    from app.connectors.store import list_connections
    first, _ = connect(world.db, "shopify", "corner-shop", {"token": "shpat_a"}, START, check=False)
    second, _ = connect(world.db, "shopify", "https://admin.shopify.com/store/Corner-Shop", {"token": "shpat_b"},
                        START, check=False)
    assert first == second == "shopify:corner-shop.myshopify.com" and len(list_connections(world.db)) == 1


def test_a_shop_removed_while_it_is_polled_stops_after_the_page_in_hand(world, shopify):
    """Remove (the app's button, `journeys connections remove`) while the scheduler's poll is mid-import:
    the poll ends quietly — no traceback, no cursor left behind for a shop that is gone, and no page
    applied after the removal — and adding the shop again starts a fresh history import."""
    from sqlalchemy import func, select

    from app.connectors.poller import poll
    from app.connectors.shopify import PAGE_SIZE, ShopifySource
    from app.connectors.store import get_connection, remove_connection
    from app.store.tables import connection_cursors

    from .fake_shopify import TOKEN, order
    from .helpers import Sleeps, connect_shopify
    shopify.orders += [order(n, f"c{n}@example.com", "10.00", START + timedelta(minutes=n)) for n in range(1, 41)]
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))

    class RemovedMidway(ShopifySource):
        pages = 0

        def page(self, resource, cursor, now):
            found = super().page(resource, cursor, now)
            if resource == "orders":
                self.pages += 1
                if self.pages == 2:
                    remove_connection(world.db, cid)         # the user clicks Remove meanwhile
            return found

    source = RemovedMidway(shopify.url, TOKEN, sleep=Sleeps())
    try:
        report = poll(world.engine, cid, source=source)
    finally:
        source.close()
    assert get_connection(world.db, cid) is None
    with world.db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(connection_cursors)).scalar_one() == 0
    assert len(stored_events(world.db, "order_placed")) == PAGE_SIZE["orders"]     # the page before the removal
    assert report.stopped and "removed" in (report.error or report.summary())
    again = connect_shopify(world, shopify)
    assert get_connection(world.db, again).phase == "history"


@pytest.fixture
def site():
    from .fake_http import FakeServer

    server = FakeServer()
    with server:
        yield server


def test_a_wordpress_with_plain_permalinks_is_not_said_to_be_connected(site):
    """With "Plain" permalinks /wp-json/… is the shop's home page, answered 200: Test connection said
    "Connected to …: ? orders, ? customers" and saved a shop no poll could ever read."""
    from app.connectors.errors import ConnectorError
    from app.connectors.setup import test_connection

    from .fake_woo import KEY, SECRET
    site.answer = lambda request: (200, b"<!DOCTYPE html><html><body>Welcome to my shop</body></html>", {})
    with pytest.raises(ConnectorError) as found:
        test_connection("woocommerce", site.url, {"key": KEY, "secret": SECRET})
    assert "web page" in str(found.value) and "Permalinks" in str(found.value)


@pytest.mark.parametrize("kind", ["woocommerce", "shopify"])
def test_a_shop_that_redirects_elsewhere_names_the_address_to_use(site, kind):
    """shop.example answering 301 → www.shop.example (WordPress's canonical address) read as "no JSON;
    is it a WooCommerce store?"; it now says which address to give."""
    from app.connectors.errors import ConnectorError
    from app.connectors.setup import test_connection

    from .fake_woo import KEY, SECRET
    site.answer = lambda request: (301, {}, {"Location": f"https://www.shop.example{request.path}"})
    secrets = {"key": KEY, "secret": SECRET} if kind == "woocommerce" else {"token": "shpat_x"}
    with pytest.raises(ConnectorError) as found:
        test_connection(kind, site.url, secrets)
    said = str(found.value)
    assert ("give https://www.shop.example instead" if kind == "woocommerce" else "give www.shop.example instead") \
        in said


@pytest.mark.parametrize("interval", ["inf", "nan", "-5", "0", "a minute"])
def test_an_interval_that_is_no_number_of_seconds_is_refused_in_a_sentence(db_url, shopify, file_keyring, capsys,
                                                                         interval):
    """`--interval inf` was saved, and the scheduler's job then failed every 10 s with OverflowError."""
    from app.cli import main

    from .fake_shopify import TOKEN
    code = main(["connect", "shopify", "--shop", shopify.url, "--token", TOKEN, "--interval", interval, "--db", db_url])
    err = capsys.readouterr().err
    assert code == 2 and "--interval" in err and "Traceback" not in err


def test_a_stored_interval_out_of_range_never_stops_the_polls(world, shopify):
    from app.connectors.jobs import poll_due
    from app.connectors.store import save_connection

    from .fake_shopify import order
    shopify.orders.append(order(1, "ann@example.com", "10.00", START))
    odd = [1e300, -1.0, "sixty"] + ([float("inf"), float("nan")] if world.db.dialect.name == "sqlite" else [])
    for value in odd:
        cid = save_connection(world.db, "shopify", shopify.url, world.clock.now(), {"interval": value})
        world.clock.advance(days=400)
        poll_due(world.engine)                             # no OverflowError
    assert cid


def test_a_checkout_made_after_connecting_starts_its_journey_even_while_the_history_is_read(world, shopify):
    """The first poll (a big shop's history: many pages, minutes or hours) applied EVERYTHING it read as
    history — a shopper who abandoned a cart after the owner clicked Save, while the import ran, never
    got the reminder. History is what happened before the connection was made."""
    from sqlalchemy import select

    from app.examples import load_example
    from app.store.tables import runs

    from .fake_shopify import checkout
    from .helpers import connect_shopify, poll_shopify
    world.install(load_example("checkout_recovery"))
    shopify.checkouts.append(checkout(1, "old@example.com", "25.00", START - hours(5)))       # the past
    cid = connect_shopify(world, shopify)                                                       # at START
    shopify.checkouts.append(checkout(2, "new@example.com", "25.00", START + timedelta(minutes=20)))
    world.clock.set(START + timedelta(minutes=30))                  # the history import reaches checkouts
    report = poll_shopify(world, shopify, cid)
    assert report.history and report.error is None and report.applied.stored == 2
    with world.db.connect() as conn:
        assert [(r.contact_id, r.status) for r in conn.execute(select(runs))] == [("new@example.com", "active")]


@pytest.mark.parametrize("resource", ["orders", "customers", "checkouts"])
def test_a_shop_bigger_than_shopifys_pagination_limit_is_read_whole(world, shopify, resource):
    """Shopify pages 25,000 objects deep at most: a bigger shop's first import hit that wall, failed at
    the same cursor at every poll, and never went live. (Scaled down: the fake shop pages 35 deep, the
    walk starts a new list every 30 objects.)"""
    from app.connectors.poller import poll
    from app.connectors.shopify import ShopifySource

    from .fake_shopify import TOKEN, checkout, customer, order
    from .helpers import Sleeps, connect_shopify
    make = {"orders": lambda n, at: order(n, f"c{n}@example.com", "10.00", at),
            "customers": lambda n, at: customer(n, f"c{n}@example.com", at),
            "checkouts": lambda n, at: checkout(n, f"c{n}@example.com", "10.00", at)}[resource]
    store = {"orders": shopify.orders, "customers": shopify.customers, "checkouts": shopify.checkouts}[resource]
    # several share a second, and ids do not follow times (checkouts are listed by id)
    store += [make(n, START + timedelta(seconds=(n * 7919) % 90 // 2)) for n in range(1, 121)]
    shopify.max_depth = 35
    cid = connect_shopify(world, shopify)
    world.clock.set(START + hours(3))
    source = ShopifySource(shopify.url, TOKEN, sleep=Sleeps())
    source.window = 30
    try:
        report = poll(world.engine, cid, source=source)
    finally:
        source.close()
    assert report.error is None
    if resource == "customers":
        assert report.applied.identified >= 120
    else:
        assert report.applied.stored == 120


def test_a_token_without_the_scopes_to_read_orders_is_not_saved(db_url, shopify, file_keyring, capsys):
    """A token lacking read_orders passed Test connection ("Connected …; the token lacks read_orders"), was
    saved, and then every poll failed with ACCESS_DENIED. It is now refused before anything is stored."""
    from app.cli import main
    from app.connectors.store import list_connections
    from app.store.db import open_database

    from .fake_shopify import TOKEN
    shopify.scopes = ["read_customers"]
    code = main(["connect", "shopify", "--shop", shopify.url, "--token", TOKEN, "--db", db_url])
    err = capsys.readouterr().err
    assert code == 1 and "Not saved" in err and "read_orders" in err
    db = open_database(db_url)
    assert list_connections(db) == []
    db.dispose()


def test_a_host_that_drops_the_authorization_header_still_connects_with_the_keys(world, woo):
    """Many shared hosts (Apache with CGI/FastCGI) drop the Authorization header: WooCommerce then answers
    401 as for wrong keys. Its documentation's remedy over HTTPS is the keys as query parameters."""
    from app.connectors.setup import test_connection

    from .fake_woo import KEY, SECRET
    woo.header_stripped = True
    woo.add_order(woo_order(1, "ann@example.com", "10.00", START))
    assert test_connection("woocommerce", woo.url, {"key": KEY, "secret": SECRET}).startswith("Connected")
    cid = connect_woo(world, woo)
    report = poll_woo(world, woo, cid)
    assert report.error is None and report.applied.stored == 1


def test_poll_now_works_after_this_processs_engine_stopped(world, shopify, monkeypatch):
    """The window's engine stops (stop_polls) when the background service takes the lease; "Poll now"
    must still poll, not stop before its first page."""
    from app.connectors import jobs

    from .fake_shopify import TOKEN, order
    from .helpers import connect_shopify
    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    shopify.orders.append(order(1, "ann@example.com", "10.00", START))
    cid = connect_shopify(world, shopify)
    jobs.stop_polls()
    try:
        report = jobs.poll_now(world.engine, cid)
    finally:
        jobs._STOP.clear()
    assert report is not None and not report.stopped and report.applied.stored == 1


def test_a_shop_is_named_on_the_command_line_as_it_was_typed_when_connecting(world, capsys, db_url):
    """`journeys connections remove corner-shop` (as typed at `connect`) said "no connection"."""
    from app.cli import main
    from app.connectors.store import list_connections, save_connection
    from app.store.db import open_database

    db = open_database(db_url)
    save_connection(db, "shopify", "corner-shop.myshopify.com", START)
    save_connection(db, "woocommerce", "https://shop.example", START)
    assert main(["connections", "remove", "corner-shop", "--db", db_url]) == 0
    assert main(["connections", "remove", "HTTPS://Shop.Example/", "--db", db_url]) == 0
    assert list_connections(db) == []
    db.dispose()


def test_a_server_without_a_keyring_connects_with_the_environment_variable(db_url, shopify, no_keyring, monkeypatch,
                                                                          capsys):
    """The README's headless case: no keyring, JOURNEYS_SHOPIFY_TOKEN set. `journeys connect` tested the
    shop, then refused to save ("no keyring … set JOURNEYS_SHOPIFY_TOKEN instead" — already set): a dead
    end. The token is read from the variable at every poll, so nothing needs the keyring."""
    from app.cli import main

    from .fake_shopify import TOKEN, order
    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    shopify.orders.append(order(1, "ann@example.com", "19.90", START))
    assert main(["connect", "shopify", "--shop", shopify.url, "--db", db_url]) == 0
    assert "JOURNEYS_SHOPIFY_TOKEN" in capsys.readouterr().out
    assert main(["connections", "poll", "--db", db_url]) == 0
    assert "1 new event(s)" in capsys.readouterr().out

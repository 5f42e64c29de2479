"""`journeys connect shopify|woocommerce` (tested for real before anything is saved) and
`journeys connections [list|poll|remove]`."""
from __future__ import annotations

import socket

import keyring

from app.cli import main
from app.connectors.store import list_connections
from app.delivery.secrets import SERVICE
from app.store.db import open_database

from .fake_shopify import START, TOKEN, checkout, order
from .fake_woo import KEY, SECRET, woo_order


def _saved(url):
    db = open_database(url)
    try:
        return [c.id for c in list_connections(db)]
    finally:
        db.dispose()


def test_a_wrong_token_is_said_and_nothing_is_saved(db_url, shopify, file_keyring, capsys):
    code = main(["connect", "shopify", "--shop", shopify.url, "--token", "shpat_wrong", "--db", db_url])
    err = capsys.readouterr().err
    assert code == 1 and "Not saved" in err and "refused the Admin API access token (HTTP 401)" in err
    assert _saved(db_url) == [] and keyring.get_password(SERVICE, f"shopify:{shopify.url}:token") is None


def test_connect_then_list_then_poll_a_shopify_shop(db_url, shopify, file_keyring, capsys):
    shopify.orders.append(order(1, "ann@example.com", "19.90", START))
    shopify.checkouts.append(checkout(2, "bo@example.com", "25.00", START))
    assert main(["connect", "shopify", "--shop", shopify.url, "--token", TOKEN, "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "Connected to Corner Shop (corner.myshopify.com)" in out and f"Saved as shopify:{shopify.url}" in out
    assert keyring.get_password(SERVICE, f"shopify:{shopify.url}:token") == TOKEN
    assert main(["connections", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "status: importing history" in out and "last poll never" in out
    assert main(["connections", "poll", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "2 new event(s)" in out and "history: nothing started" in out
    assert main(["connections", "list", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "status: live" in out and "2 event(s) received" in out and "orders: since=" in out


def test_a_shop_that_cannot_be_reached_is_said(db_url, file_keyring, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]           # closed again: nobody listens there
    code = main(["connect", "woocommerce", "--url", f"http://127.0.0.1:{port}", "--key", KEY, "--secret", SECRET,
                 "--db", db_url])
    assert code == 1 and "did not answer" in capsys.readouterr().err and _saved(db_url) == []


def test_woocommerce_keys_checked_then_saved_and_polled(db_url, woo, file_keyring, capsys):
    woo.orders.append(woo_order(7, "ann@example.com", "12.00", START))
    code = main(["connect", "woocommerce", "--url", woo.url, "--key", KEY, "--secret", "cs_wrong", "--db", db_url])
    assert code == 1 and "woocommerce_rest_cannot_view" in capsys.readouterr().err
    assert main(["connect", "woocommerce", "--url", woo.url + "/", "--key", KEY, "--secret", SECRET,
                 "--interval", "120", "--db", db_url]) == 0
    assert f"Connected to {woo.url}: 1 orders, 0 customers" in capsys.readouterr().out
    assert main(["connections", "poll", woo.url, "--db", db_url]) == 0
    assert "1 new event(s)" in capsys.readouterr().out
    assert main(["connections", "--db", db_url]) == 0
    assert "every 120 s" in capsys.readouterr().out
    assert main(["connections", "remove", woo.url, "--db", db_url]) == 0
    assert _saved(db_url) == [] and keyring.get_password(SERVICE, f"woocommerce:{woo.url}:key") is None


def test_without_a_keyring_nothing_is_saved_and_the_variables_are_named(db_url, shopify, no_keyring, capsys):
    code = main(["connect", "shopify", "--shop", shopify.url, "--token", TOKEN, "--db", db_url])
    assert code == 2 and "JOURNEYS_SHOPIFY_TOKEN" in capsys.readouterr().err and _saved(db_url) == []


def test_a_headless_machine_polls_with_the_environment_variable(db_url, shopify, no_keyring, monkeypatch, capsys):
    from app.connectors.store import save_connection

    db = open_database(db_url)
    save_connection(db, "shopify", shopify.url, START)
    db.dispose()
    shopify.orders.append(order(1, "ann@example.com", "19.90", START))
    assert main(["connections", "poll", "--db", db_url]) == 1          # no token anywhere: said, exit 1
    assert "no token stored" in capsys.readouterr().out
    monkeypatch.setenv("JOURNEYS_SHOPIFY_TOKEN", TOKEN)
    assert main(["connections", "poll", "--db", db_url]) == 0
    assert "1 new event(s)" in capsys.readouterr().out


def test_an_unknown_connection_is_said(db_url, capsys):
    assert main(["connections", "poll", "nope", "--db", db_url]) == 2
    assert "no connection 'nope'" in capsys.readouterr().err


def test_an_empty_address_or_a_missing_key_is_said_before_anything_is_called(db_url, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["connect", "shopify", "--shop", "  ", "--token", TOKEN, "--db", db_url]) == 2
    assert "give the shop's address" in capsys.readouterr().err
    assert main(["connect", "woocommerce", "--url", "https://shop.example", "--key", KEY, "--db", db_url]) == 2
    assert "give the consumer secret with --secret (or set JOURNEYS_WOOCOMMERCE_SECRET)" in capsys.readouterr().err
    assert _saved(db_url) == []

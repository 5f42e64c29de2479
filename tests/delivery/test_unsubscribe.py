"""Unsubscribe tokens and links: one signed token per message, readable only with this database's key."""
from __future__ import annotations

import pytest

from app.delivery.settings import DeliverySettings, EmailSettings, save_settings
from app.delivery.unsubscribe import (ONE_CLICK, links_for, list_unsubscribe, read_token, signing_key,
                                      unsubscribe_token, unsubscribe_url)
from app.store.db import open_database

SECRET = bytes(range(32))


@pytest.mark.parametrize("key", ["run:1:a1b2", "run:123456789:0f8c1b0e-1111-2222-3333-444455556666",
                                 "test:Zoë:☕", "with.dots.and:colons"])
def test_a_token_reads_back_to_its_key_and_is_stable(key):
    token = unsubscribe_token(key, SECRET)
    assert read_token(token, SECRET) == key
    assert unsubscribe_token(key, SECRET) == token
    assert all(c.isalnum() or c in "-_." for c in token)        # fits a URL path and a subject as it is


@pytest.mark.parametrize("spoil", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),                 # signature edited
    lambda t: "cnVuOjI6YTFiMg" + t[t.rindex("."):],                    # another message's key, same signature
    lambda t: t[:len(t) // 2],                                         # cut by a mail client
    lambda t: t.replace(".", ""), lambda t: "", lambda t: "...", lambda t: "%%%.%%%",
])
def test_an_edited_or_broken_token_names_no_message(spoil):
    token = unsubscribe_token("run:1:a1b2", SECRET)
    assert read_token(spoil(token), SECRET) is None


def test_a_token_from_another_installation_names_no_message():
    assert read_token(unsubscribe_token("run:1:a1b2", SECRET), bytes(32)) is None


def test_the_key_is_made_once_per_database_and_kept(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'j.sqlite3'}")
    first = signing_key(db)
    assert len(first) == 32 and signing_key(db) == first
    with db.begin() as conn:
        assert signing_key(conn) == first
    other = open_database(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    assert signing_key(other) != first
    db.dispose()
    other.dispose()


def test_links_follow_the_settings(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'j.sqlite3'}")
    with db.begin() as conn:
        assert links_for(conn).url("run:1:x") == ""                  # nowhere to send a request to yet
    save_settings(db, DeliverySettings(email=EmailSettings(unsubscribe_address="bye@café.example"),
                                       public_url=""))
    with db.begin() as conn:
        links = links_for(conn)
    assert links.url("run:1:x").startswith("mailto:bye@xn--caf-dma.example?subject=unsubscribe%20")
    save_settings(db, DeliverySettings(email=EmailSettings(unsubscribe_address="bye@shop.example"),
                                       public_url="https://shop.example/"))
    with db.begin() as conn:
        links = links_for(conn)
    token = links.url("run:1:x").rsplit("/", 1)[1]
    assert links.url("run:1:x") == f"https://shop.example/u/{token}"
    assert read_token(token, signing_key(db)) == "run:1:x"
    db.dispose()


def test_headers_and_body_links():
    token = unsubscribe_token("run:1:x", SECRET)
    assert unsubscribe_url(token, public_url="shop.example") == f"https://shop.example/u/{token}"
    assert unsubscribe_url(token, address="bye@shop.example") == f"mailto:bye@shop.example?subject=unsubscribe%20{token}"
    assert list_unsubscribe(token) == {}
    both = list_unsubscribe(token, public_url="https://shop.example", address="bye@shop.example")
    assert both == {"List-Unsubscribe": f"<mailto:bye@shop.example?subject=unsubscribe%20{token}>, "
                                        f"<https://shop.example/u/{token}>",
                    "List-Unsubscribe-Post": ONE_CLICK}


@pytest.mark.parametrize("public_url", ["https://shop.example/u>, <mailto:someone@evil.example",
                                        "https://shop.example/a b\"c", "https://shop.example/x\r\nBcc: e@evil.example"])
def test_a_stored_public_url_cannot_add_a_link_to_list_unsubscribe(public_url):
    """Whatever the setting holds (written to the database by hand, say), List-Unsubscribe keeps exactly
    the app's links: each is one URI (RFC 3986), nothing in it can close its <…> early."""
    import re

    token = unsubscribe_token("run:1:x", SECRET)
    value = list_unsubscribe(token, public_url=public_url, address="bye@shop.example")["List-Unsubscribe"]
    links = re.findall(r"<([^<>]*)>", value)
    assert len(links) == 2 and links[0].startswith("mailto:bye@shop.example") and links[1].startswith("https://shop.example/")
    assert not re.search(r"[\s\"<>]", links[1]) and links[1].endswith(f"/u/{token}")
    assert value == ", ".join(f"<{link}>" for link in links)


def test_an_international_public_url_is_written_in_its_ascii_form():
    token = unsubscribe_token("run:1:x", SECRET)
    assert unsubscribe_url(token, public_url="https://café.example/js") == f"https://xn--caf-dma.example/js/u/{token}"

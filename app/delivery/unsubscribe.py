"""Unsubscribe links and headers: a signed token per message, its mailto: and HTTPS forms.

Every journey email is marketing, so every one carries a way out (RFC 2369 `List-Unsubscribe`; the
one-click HTTPS form of RFC 8058, which Gmail and Yahoo require of bulk senders since 2024).

The token names the message: it is the message's idempotency key (`run:<run id>:<step id>`, or a
test send's key) with an HMAC-SHA256 signature, so a request to unsubscribe cannot be forged for
another message by editing the token. The HMAC key is made once per database (`app_settings`,
key `KEY_SETTING`) and read with `signing_key`.

Token shape: ``<base64url(key)>.<base64url(first 16 bytes of HMAC-SHA256(secret, key))>``, only the
characters ``A-Z a-z 0-9 - _ .``, so it fits a URL path and a mail subject as it is.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.store.app_settings import get_setting
from app.store.sql import write_transaction
from app.store.tables import app_settings

from .settings import EMAIL_KEY, PUBLIC_URL_KEY

KEY_SETTING = "delivery.unsubscribe_key"
"""The `app_settings` key of the HMAC key (64 hex digits), made on first use."""

SUBJECT_WORD = "unsubscribe"
"""The first word of the subject of an unsubscribe mail: ``unsubscribe TOKEN`` (what the mailto: link writes)."""

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The `List-Unsubscribe-Post` value of RFC 8058 (section 3.1)."""

_SIGNATURE_BYTES = 16       # 128 bits: far beyond guessing, and the token stays short


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(db: Engine | Connection) -> bytes:
    """The database's unsubscribe HMAC key (32 bytes), made and stored the first time it is asked for.

    With a Connection, a new key is written inside the caller's transaction (in a savepoint, so a
    concurrent writer that stored one first is read instead of failing the transaction)."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            stored = get_setting(conn, KEY_SETTING)
        if stored:
            return bytes.fromhex(stored)
        with write_transaction(db) as conn:
            return signing_key(conn)
    stored = get_setting(db, KEY_SETTING)
    if not stored:
        made = secrets.token_hex(32)
        try:
            with db.begin_nested():
                db.execute(app_settings.insert().values(key=KEY_SETTING, value=made))
            stored = made
        except IntegrityError:          # another process made it first: theirs is the key
            stored = get_setting(db, KEY_SETTING) or made
    return bytes.fromhex(stored)


def _signature(key: str, secret: bytes) -> bytes:
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def unsubscribe_token(key: str, secret: bytes) -> str:
    """The token of the message whose idempotency key is `key`, signed with `secret` (`signing_key`).
    The same key always gives the same token."""
    return f"{_b64(key.encode('utf-8'))}.{_b64(_signature(key, secret))}"


def read_token(token: str, secret: bytes) -> str | None:
    """The idempotency key a token names, or None when the token is malformed or its signature is not
    this database's (edited, truncated by a mail client, from another installation)."""
    text = token.strip()
    body, dot, signature = text.rpartition(".")
    if not dot or not body or len(text) > 2000:
        return None
    try:
        raw_key, given = _unb64(body), _unb64(signature)
        key = raw_key.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if _b64(raw_key) != body or _b64(given) != signature:
        return None         # not the one canonical spelling (base64's spare bits set): an edited token
    return key if hmac.compare_digest(given, _signature(key, secret)) else None


def https_base(public_url: str) -> str:
    """`public_url` as an https:// base without a trailing slash ("" when none is set); a bare host
    ("shop.example") is taken as https. Another scheme (http://) is kept for the body link only."""
    url = public_url.strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url
    # Whatever the stored setting holds, the link stays one URI (RFC 3986): a space, "<", ">" or a quote
    # would end it early inside List-Unsubscribe's <…> and let the rest read as another link.
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not host.isascii():
        try:                    # an international domain in its xn-- form (RFC 5891), as mail programs need
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return quote(f"{scheme}{sep}{host}{slash}{path}", safe="/:@!$&'()*+,;=%~-._[]")


def mailto_link(address: str, token: str | None) -> str:
    """``mailto:ADDRESS?subject=unsubscribe%20TOKEN`` (RFC 6068), or "" without an address. Without a
    token (no signing key at hand) the subject is only "unsubscribe": the request is then known by
    the address it comes from."""
    address = address.strip()
    if not address:
        return ""
    subject = f"{SUBJECT_WORD}%20{token}" if token else SUBJECT_WORD
    return f"mailto:{quote(address, safe='@')}?subject={subject}"


def unsubscribe_url(token: str, *, public_url: str = "", address: str = "") -> str:
    """The link for `{{ unsubscribe_url }}` in a message body: ``PUBLIC_URL/u/TOKEN`` when a public
    URL is configured, else the mailto: link to `address` (the settings' unsubscribe address),
    else "" (nowhere to send an unsubscribe request to: validation and the settings page say so)."""
    base = https_base(public_url)
    return f"{base}/u/{token}" if base else mailto_link(address, token)


def list_unsubscribe(token: str | None, *, public_url: str = "", address: str = "") -> dict[str, str]:
    """The `List-Unsubscribe` header (RFC 2369, section 3.2) with the mailto: link when an address is
    set and the HTTPS link when the public URL is https, plus `List-Unsubscribe-Post:
    List-Unsubscribe=One-Click` (RFC 8058) with the HTTPS link; {} when neither is set. `address`
    must already be ASCII (an IDN domain in its xn-- form). `token` None (no signing key): the mailto:
    link without a token, and no HTTPS link (a click could not say whose it is)."""
    links = []
    if address.strip():
        links.append(mailto_link(address, token))
    base = https_base(public_url) if token else ""
    one_click = base.startswith("https://")     # RFC 8058 section 3.1: the URI MUST be HTTPS
    if one_click:
        links.append(f"{base}/u/{token}")
    if not links:
        return {}
    headers = {"List-Unsubscribe": ", ".join(f"<{link}>" for link in links)}
    if one_click:
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


@dataclass(frozen=True)
class UnsubscribeLinks:
    """What a render context needs to give each message its `{{ unsubscribe_url }}`: the database's
    HMAC key, the public URL and the unsubscribe address (read once per engine batch)."""

    secret: bytes
    public_url: str = ""
    address: str = ""

    def url(self, key: str) -> str:
        """The unsubscribe link of the message whose idempotency key is `key`."""
        return unsubscribe_url(unsubscribe_token(key, self.secret), public_url=self.public_url,
                               address=self.address)


def links_for(conn: Connection | Engine) -> UnsubscribeLinks:
    """The unsubscribe link settings stored in the database (`channel.email`'s `unsubscribe_address`,
    `public_url`) with its HMAC key (made now if it was never made). With an Engine, a short read (and
    the key's own write transaction the first time)."""
    if isinstance(conn, Engine):
        secret = signing_key(conn)
        with conn.connect() as read:
            found = links_for_settings(read)
        return UnsubscribeLinks(secret, found.public_url, found.address)
    links = links_for_settings(conn)
    return UnsubscribeLinks(signing_key(conn), links.public_url, links.address)


def links_for_settings(conn: Connection) -> UnsubscribeLinks:
    """The stored link settings with an empty key (for `links_for`)."""
    address = ""
    try:
        email = json.loads(get_setting(conn, EMAIL_KEY) or "{}")
        if isinstance(email, dict) and isinstance(email.get("unsubscribe_address"), str):
            address = email["unsubscribe_address"].strip()
    except ValueError:
        pass
    public_url = (get_setting(conn, PUBLIC_URL_KEY) or "").strip().rstrip("/")
    return UnsubscribeLinks(b"", public_url, _ascii_address(address))


def _ascii_address(address: str) -> str:
    """An address with an IDN domain in its xn-- form, for links (unchanged when it cannot be)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address

"""The receiver's settings: its token, where it listens, and the providers' signing secrets.

- The **token** (`receiver.token` in `app_settings`) is made on first start (32 random bytes,
  URL-safe) and shown, copied and rotated in Settings → Receiver or with `journeys receiver token
  [--rotate]`. Every endpoint needs it (`Authorization: Bearer TOKEN`, or `?token=TOKEN`) except those
  a provider signs: Segment calls carry it as the basic-auth user (`writeKey`), Shopify and
  WooCommerce sign with their webhook secret, Twilio with the auth token, Meta with the app secret,
  and unsubscribe, click and open links carry the app's own signed tokens.
- The **signing secrets** live in the keyring (app/delivery/secrets.py), or in an environment
  variable for a headless service: `JOURNEYS_SHOPIFY_WEBHOOK_SECRET`, `JOURNEYS_WOOCOMMERCE_WEBHOOK_SECRET`,
  `JOURNEYS_META_APP_SECRET` (Twilio's is the channel's `JOURNEYS_TWILIO_AUTH_TOKEN`).
- Meta's **verify token** (`receiver.meta_verify_token`, any text you choose) answers Meta's
  subscription handshake; the **listen address** (`receiver.listen`) defaults to 127.0.0.1:8765.
  The receiver never opens a public port itself: see the README, "The receiver".
"""
from __future__ import annotations

import hmac
import logging
import secrets as random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.engine import Engine

from app.delivery import secrets
from app.delivery.settings import PUBLIC_URL_KEY
from app.store.app_settings import get_setting, set_setting
from app.store.sql import insert_or_ignore, write_transaction
from app.store.tables import app_settings

log = logging.getLogger(__name__)

TOKEN_KEY = "receiver.token"
LISTEN_KEY = "receiver.listen"
META_VERIFY_KEY = "receiver.meta_verify_token"
DEFAULT_LISTEN = "127.0.0.1:8765"

SHOPIFY_SECRET = "shopify_webhook_secret"
WOOCOMMERCE_SECRET = "woocommerce_webhook_secret"
META_APP_SECRET = "meta_app_secret"
# Registered beside the channels' secrets, so `get_secret` reads them the same way (variable, then keyring).
secrets.ENVIRONMENT.setdefault(SHOPIFY_SECRET, "JOURNEYS_SHOPIFY_WEBHOOK_SECRET")
secrets.ENVIRONMENT.setdefault(WOOCOMMERCE_SECRET, "JOURNEYS_WOOCOMMERCE_WEBHOOK_SECRET")
secrets.ENVIRONMENT.setdefault(META_APP_SECRET, "JOURNEYS_META_APP_SECRET")

MAX_BODY = 1_000_000
"""Bytes a webhook or a single call may carry (Shopify's largest orders are a few hundred kB)."""
MAX_BATCH_BODY = 4_000_000
"""Bytes of a `/v1/batch` request (Segment's own limit is 500 kB a batch; tools that send bigger
batches are served up to this)."""


def _same(given: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def _new_token() -> str:
    return random.token_urlsafe(32)


def receiver_token(db: Engine) -> str:
    """The receiver's token, made (and stored) the first time it is asked for."""
    with db.connect() as conn:
        found = get_setting(conn, TOKEN_KEY)
    if found:
        return found
    with write_transaction(db) as conn:
        conn.execute(insert_or_ignore(app_settings, conn.dialect.name, ["key"]),
                     [{"key": TOKEN_KEY, "value": _new_token()}])
        stored = get_setting(conn, TOKEN_KEY)      # another process's, if it was first
    assert stored
    return stored


def rotate_token(db: Engine) -> str:
    """Replaces the token with a new one: a running receiver takes the new one at once, and refuses the
    old one from then on (within `Config.TOKEN_RECHECK` seconds at the latest)."""
    token = _new_token()
    set_setting(db, TOKEN_KEY, token)
    return token


def listen_address(db: Engine) -> str:
    with db.connect() as conn:
        return (get_setting(conn, LISTEN_KEY) or DEFAULT_LISTEN).strip()


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) as (host, port); raises ValueError saying what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT such as 127.0.0.1:8765")
    return host.strip("[]"), int(port)


@dataclass
class Config:
    """What the endpoints check requests with, read from the database and the keyring. Once `start`ed,
    a thread reads it all again every `TTL` seconds (a rotated token or a changed secret takes effect
    within that), so a keyring that is slow to answer never holds up a request; before, or without,
    the thread, `get` reads it when it is older than `TTL`."""
    db: Engine
    secret_reader: Callable[[str], str | None] = secrets.get_secret
    TTL: float = 5.0
    _read_at: float = field(default=-1e9, repr=False)
    _values: dict[str, str | None] = field(default_factory=dict, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def _read(self) -> dict[str, str | None]:
        values: dict[str, str | None] = {"token": receiver_token(self.db)}
        with self.db.connect() as conn:
            values["meta_verify"] = get_setting(conn, META_VERIFY_KEY)
            values["public_url"] = (get_setting(conn, PUBLIC_URL_KEY) or "").strip().rstrip("/")
        for name in (SHOPIFY_SECRET, WOOCOMMERCE_SECRET, META_APP_SECRET, secrets.TWILIO_AUTH_TOKEN):
            values[name] = (self.secret_reader(name) or "").strip() or None
        return values

    def _fresh(self) -> dict[str, str | None]:
        now = time.monotonic()
        if now - self._read_at > self.TTL and (self._thread is None or not self._values):
            self._values, self._read_at = self._read(), now
        return self._values

    def get(self, name: str) -> str | None:
        return self._fresh().get(name)

    TOKEN_RECHECK: float = 0.2
    _token_read_at: float = field(default=-1e9, repr=False)

    def token_is(self, given: str) -> bool:
        """Whether `given` is the receiver's token (constant-time compare). A token that is not the one
        held is checked once more against the database (at most every TOKEN_RECHECK seconds, so a flood
        of wrong tokens costs little): a token rotated in the app works at once, and from then on the
        old one is refused (the refresh thread also re-reads the token every TOKEN_RECHECK seconds)."""
        if _same(given, self.get("token") or ""):
            return True
        now = time.monotonic()
        if now - self._token_read_at < self.TOKEN_RECHECK:
            return False
        held = self._values.get("token")
        try:
            fresh = self._read_token()
        except Exception:  # noqa: BLE001 - the database is busy: the token held stays in force
            log.warning("the receiver could not read its token again; the one held stays in force")
            fresh = held or ""
        if fresh == held:
            self._token_read_at = now      # nothing changed: wrong tokens wait TOKEN_RECHECK for the next look
        return _same(given, fresh)

    def _read_token(self) -> str:
        with self.db.connect() as conn:
            fresh = get_setting(conn, TOKEN_KEY)
        if fresh and fresh != self._values.get("token"):
            self._values = {**self._values, "token": fresh}
        return fresh or ""

    def forget(self) -> None:
        """Reads everything again now (after a rotation in this process)."""
        self._values, self._read_at = self._read(), time.monotonic()

    def start(self) -> None:
        """Reads now, then again every TTL seconds on a thread of its own (until `stop`)."""
        self.forget()
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh, name="intake-config", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def _refresh(self) -> None:
        # The token every TOKEN_RECHECK seconds (a rotated one ends at once), everything else every TTL.
        while not self._stop.wait(min(self.TOKEN_RECHECK, self.TTL)):
            try:
                if time.monotonic() - self._read_at >= self.TTL:
                    self._values, self._read_at = self._read(), time.monotonic()
                else:
                    self._read_token()
            except Exception:  # noqa: BLE001 - the last values stay in force; said in the log
                log.exception("the receiver could not read its settings again; the last ones stay in force")

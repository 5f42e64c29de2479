"""Adding a shop: the address normalised, the connection really tested, then saved (CLI and app alike).

Nothing is stored unless the shop answered: a typo in the token or the address is said at once, not
at the first poll. The secrets go to the keyring (app/connectors/secrets.py), the rest to the
database (app/connectors/store.py), whose first poll then imports the shop's history.
"""
from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Callable

from sqlalchemy.engine import Engine

from .errors import ConnectorError
from app.delivery.secrets import SecretsUnavailable

from .secrets import ENVIRONMENT, PARTS, set_secrets
from .store import connection_id, save_connection


def normalise(kind: str, address: str) -> str:
    """The address as stored for `kind`; raises ValueError (empty, unknown kind)."""
    if kind == "shopify":
        from .shopify import normalise_address

        return normalise_address(address)
    if kind == "woocommerce":
        from .woocommerce import normalise_address as woo_address

        return woo_address(address)
    raise ValueError(f"unknown connector {kind!r}: use shopify or woocommerce")


def test_connection(kind: str, address: str, secrets: dict[str, str | None],
                    sleep: Callable[[float], None] | None = None) -> str:
    """Calls the shop's API with these values (saved or not); returns what it said ("Connected to …").
    Raises ConnectorError (AuthFailed, Unreachable…) or ValueError (a value missing)."""
    address = normalise(kind, address)
    missing = [p for p in PARTS[kind] if not (secrets.get(p) or "").strip()]
    if missing:
        raise ValueError(f"give the {' and the '.join(missing)}")
    extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    source: Any
    if kind == "shopify":
        from .shopify import ShopifySource

        source = ShopifySource(address, str(secrets["token"]).strip(), **extra)
    else:
        from .woocommerce import WooSource

        source = WooSource(address, str(secrets["key"]).strip(), str(secrets["secret"]).strip(), **extra)
    try:
        return str(source.check())
    finally:
        source.close()


def connect(db: Engine, kind: str, address: str, secrets: dict[str, str | None], now: datetime, *,
            interval: float | None = None, check: bool = True) -> tuple[str, str]:
    """Tests the shop (unless `check` is False), stores its secrets in the keyring and the connection in
    the database; returns (connection id, what the shop said). Raises ConnectorError or ValueError
    (nothing stored), SecretsUnavailable (no keyring: nothing stored; the message names the
    environment variables)."""
    address = normalise(kind, address)
    said = test_connection(kind, address, secrets) if check else "not tested"
    cid = connection_id(kind, address)
    values = {p: (secrets.get(p) or "").strip() or None for p in PARTS[kind]}
    try:
        set_secrets(cid, values)
    except SecretsUnavailable:
        # A server without a keyring: fine when every secret comes from its environment variable, which
        # each poll reads (app/connectors/secrets.py); else nothing is stored and the message names them.
        if not all(values[p] and os.environ.get(ENVIRONMENT[(kind, p)], "").strip() == values[p] for p in values):
            raise
        said += f" (the {' and '.join(PARTS[kind])} come from {', '.join(ENVIRONMENT[(kind, p)] for p in values)}" \
                ": this computer has no keyring)"
    options: dict[str, Any] = {"interval": float(interval)} if interval else {}
    save_connection(db, kind, address, now, options)
    return cid, said


__all__ = ["ConnectorError", "connect", "normalise", "test_connection"]

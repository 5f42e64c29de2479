"""A connected shop's token or API keys, kept in the operating system's keyring, never in the database.

Stored under the keyring service `journey-studio` (as the channels' secrets: app/delivery/secrets.py)
with the name `<connection id>:<part>` ("shopify:corner.myshopify.com:token"). A headless machine
without a keyring sets environment variables instead, which win over the keyring:
JOURNEYS_SHOPIFY_TOKEN, JOURNEYS_WOOCOMMERCE_KEY and JOURNEYS_WOOCOMMERCE_SECRET (one shop of each
kind per machine that way).
"""
from __future__ import annotations

import os

from app.delivery.secrets import SERVICE, SecretsUnavailable, _keyring_usable

PARTS = {"shopify": ("token",), "woocommerce": ("key", "secret")}
ENVIRONMENT = {("shopify", "token"): "JOURNEYS_SHOPIFY_TOKEN", ("woocommerce", "key"): "JOURNEYS_WOOCOMMERCE_KEY",
               ("woocommerce", "secret"): "JOURNEYS_WOOCOMMERCE_SECRET"}


def _kind(cid: str) -> str:
    return cid.split(":", 1)[0]


def _name(cid: str, part: str) -> str:
    return f"{cid}:{part}"


def get_part(cid: str, part: str) -> str | None:
    """The secret `part` ("token", "key", "secret") of connection `cid`: its environment variable when
    set, else the keyring's entry, else None."""
    variable = ENVIRONMENT.get((_kind(cid), part))
    if variable and os.environ.get(variable):
        return os.environ[variable]
    usable, _ = _keyring_usable()
    if not usable:
        return None
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, _name(cid, part))
    except KeyringError:
        return None


def get_secrets(cid: str) -> dict[str, str | None]:
    """Every part the connection's kind needs, by part name (None: missing)."""
    return {part: get_part(cid, part) for part in PARTS.get(_kind(cid), ())}


def set_secrets(cid: str, values: dict[str, str | None]) -> None:
    """Stores each part in the keyring (None or "" deletes it). Raises SecretsUnavailable, naming the
    environment variables to set instead, when this machine has no usable keyring."""
    usable, why = _keyring_usable()
    if not usable:
        names = ", ".join(ENVIRONMENT[(_kind(cid), p)] for p in values if (_kind(cid), p) in ENVIRONMENT)
        raise SecretsUnavailable(f"This computer has no keyring to keep the shop's keys in ({why}). Set "
                                 f"{names or 'the environment variables'} instead (README, \"Connecting a shop\"), "
                                 "or install a keyring service (on Linux desktops: gnome-keyring or KWallet).")
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    for part, value in values.items():
        try:
            if value:
                keyring.set_password(SERVICE, _name(cid, part), value)
            else:
                try:
                    keyring.delete_password(SERVICE, _name(cid, part))
                except PasswordDeleteError:
                    pass
        except KeyringError as exc:
            raise SecretsUnavailable(f"The keyring refused the shop's {part} ({exc or type(exc).__name__}).") from exc


def forget_secrets(cid: str) -> None:
    """Deletes the connection's secrets from the keyring (nothing when there is no keyring)."""
    try:
        set_secrets(cid, {part: None for part in PARTS.get(_kind(cid), ())})
    except SecretsUnavailable:
        pass

"""Channel secrets (passwords, tokens) in the operating system's keyring, never in the database.

The `keyring` library picks the platform's store (macOS Keychain, Windows Credential Locker, the
Secret Service on Linux desktops). Headless machines often have none: then each secret may come from
an environment variable instead (named in `ENVIRONMENT` and the README), and storing one raises
`SecretsUnavailable` saying so. An environment variable, when set, wins over the keyring, so a
service or CI can override a stored secret without touching it.
"""
from __future__ import annotations

import os

SERVICE = "journey-studio"
"""The keyring service name every secret is stored under."""

SMTP_PASSWORD = "smtp_password"
IMAP_PASSWORD = "imap_password"
TWILIO_AUTH_TOKEN = "twilio_auth_token"
META_ACCESS_TOKEN = "meta_access_token"

ENVIRONMENT = {
    SMTP_PASSWORD: "JOURNEYS_SMTP_PASSWORD",
    IMAP_PASSWORD: "JOURNEYS_IMAP_PASSWORD",
    TWILIO_AUTH_TOKEN: "JOURNEYS_TWILIO_AUTH_TOKEN",
    META_ACCESS_TOKEN: "JOURNEYS_META_ACCESS_TOKEN",
}
"""Each secret's environment variable, read before the keyring."""


class SecretsUnavailable(Exception):
    """No usable keyring on this machine; the message names the environment variable to use instead."""


def _unavailable(name: str, why: str) -> SecretsUnavailable:
    return SecretsUnavailable(
        f"This computer has no keyring to keep the {name.replace('_', ' ')} in ({why}). "
        f"Set the environment variable {ENVIRONMENT[name]} instead (see the README, \"Secrets\"), "
        "or install a keyring service (on Linux desktops: gnome-keyring or KWallet).")


def _keyring_usable() -> tuple[bool, str]:
    import keyring
    from keyring.backends import fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False, "no keyring backend was found"
    # A low-priority backend (an unencrypted file from keyrings.alt) only when chosen on purpose
    # with PYTHON_KEYRING_BACKEND: a password must not land in a plain file by accident.
    priority = getattr(backend, "priority", 1)
    if isinstance(priority, (int, float)) and priority < 1 and not os.environ.get("PYTHON_KEYRING_BACKEND"):
        return False, f"only the {type(backend).__name__} keyring, which does not encrypt"
    return True, ""


def get_secret(name: str) -> str | None:
    """The secret `name` (one of the constants above): its environment variable when set, else the
    keyring's entry, else None (never stored, or no keyring on this machine)."""
    value = os.environ.get(ENVIRONMENT[name])
    if value:
        return value
    usable, _ = _keyring_usable()
    if not usable:
        return None
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, name)
    except KeyringError:
        return None


def set_secret(name: str, value: str | None) -> None:
    """Stores `value` as the secret `name` in the keyring (None or "" deletes it).

    Raises SecretsUnavailable, naming the environment variable to use, when there is no keyring."""
    usable, why = _keyring_usable()
    if not usable:
        raise _unavailable(name, why)
    import keyring
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        if value:
            keyring.set_password(SERVICE, name, value)
        else:
            try:
                keyring.delete_password(SERVICE, name)
            except PasswordDeleteError:
                pass            # nothing stored: already as asked
    except KeyringError as exc:
        raise _unavailable(name, str(exc) or type(exc).__name__) from exc


def secret_source(name: str) -> str:
    """Where the secret comes from, for the settings page: "environment", "keyring" or "missing"."""
    if os.environ.get(ENVIRONMENT[name]):
        return "environment"
    return "keyring" if get_secret(name) else "missing"

""""Test connection": does a channel's set-up work, and if not, what exactly is wrong.

`check_channel(settings, name)` first judges what it can without the network (stage "settings": a
missing host, sender, SID or secret, a password over an unencrypted connection, no keyring on this
machine), each time saying where to set it; then it asks the channel's own check, which really
connects and authenticates (`check_email` in app.delivery.smtp, `check_twilio` in app.delivery.twilio,
`check_meta` in app.delivery.meta; `check_imap` here for the mailbox). It never raises: whatever goes
wrong comes back as a CheckResult with the stage and one sentence.
"""
from __future__ import annotations

import logging
import os
import socket
import ssl
from typing import Callable

from . import secrets
from .base import CheckResult
from .secrets import ENVIRONMENT, SecretsUnavailable
from .settings import DeliverySettings, ImapSettings, TwilioSettings
from .setting_fields import SECRET_WORDS, secret_for

log = logging.getLogger(__name__)

CHANNELS = ("email", "sms", "whatsapp")
CHECKABLE = (*CHANNELS, "imap")
_PAGE = {"email": "Email", "imap": "Mailbox", "sms": "SMS", "whatsapp": "WhatsApp"}
_CLI_NAME = {secrets.SMTP_PASSWORD: "smtp_password", secrets.IMAP_PASSWORD: "imap_password",
             secrets.TWILIO_AUTH_TOKEN: "twilio_auth_token", secrets.META_ACCESS_TOKEN: "meta_access_token"}


def where_to_set(section: str, key: str) -> str:
    """"in Settings → Channels → Email, or with `journeys channels set email host=…`"."""
    return f"in Settings → Channels → {_PAGE.get(section, 'General')}, or with `journeys channels set {section} {key}=…`"


def keyring_problem(name: str) -> str | None:
    """Why the secret `name` cannot come from a keyring on this machine (the SecretsUnavailable sentence,
    naming the environment variable), or None when a keyring is usable."""
    from .secrets import _keyring_usable     # the one judge of "usable" (a plain-text file keyring is not)

    try:
        usable, why = _keyring_usable()
    except Exception as exc:   # noqa: BLE001 - a broken keyring install must not stop the settings page
        usable, why = False, str(exc) or type(exc).__name__
    if usable:
        return None
    return str(secrets._unavailable(name, why))


def secret_state(name: str) -> tuple[str, str]:
    """Where the secret `name` comes from, without revealing it: ("environment", "from environment
    (JOURNEYS_SMTP_PASSWORD)"), ("keyring", "stored in keyring"), ("missing", "not set"), or
    ("unavailable", "no keyring on this computer: set JOURNEYS_SMTP_PASSWORD") — `keyring_problem(name)`
    has the whole sentence then."""
    if os.environ.get(ENVIRONMENT[name]):
        return "environment", f"from environment ({ENVIRONMENT[name]})"
    if keyring_problem(name) is not None:
        return "unavailable", f"not set; no keyring on this computer: set {ENVIRONMENT[name]}"
    try:
        stored = secrets.get_secret(name)
    except Exception as exc:  # noqa: BLE001 - a keyring that fails to answer (locked, D-Bus gone)
        return "unavailable", f"the keyring did not answer ({exc}); set {ENVIRONMENT[name]} instead"
    return ("keyring", "stored in keyring") if stored else ("missing", "not set")


def _missing_secret(name: str, section: str) -> CheckResult:
    problem = keyring_problem(name)
    if problem is not None:
        return CheckResult(False, "settings", problem)
    return CheckResult(False, "settings", (
        f"No {SECRET_WORDS[name]} is stored: type it in Settings → Channels → {_PAGE[section]} and save, or run "
        f"`journeys channels secret {_CLI_NAME[name]}`; on a computer without a keyring, set the environment "
        f"variable {ENVIRONMENT[name]}."))


def _get(name: str, given: str | None) -> str | None:
    if given:
        return given
    try:
        return secrets.get_secret(name)
    except SecretsUnavailable:
        return None


def settings_problem(settings: DeliverySettings, name: str, secret: str | None = None) -> CheckResult | None:
    """What keeps channel `name` (email, sms, whatsapp, imap) from working before any connection is
    tried, as a failed CheckResult of stage "settings"; None when nothing is missing. `secret`: a secret
    typed but not stored yet (the settings page tests before saving)."""
    needed: list[tuple[bool, str, str]] = []
    if name == "email":
        e = settings.email
        needed = [(bool(e.host), "host", "No SMTP server is set"),
                  (bool(e.sender), "sender", "No default sender (From) is set")]
    elif name == "imap":
        m = settings.imap
        needed = [(bool(m.host), "host", "No IMAP server is set"),
                  (bool(m.username), "username", "No mailbox user name is set")]
    elif name in ("sms", "whatsapp"):
        if name == "whatsapp" and settings.whatsapp.provider == "meta":
            needed = [(bool(settings.whatsapp.meta.phone_number_id), "phone_number_id",
                       "No WhatsApp phone number ID (Meta) is set")]
        else:
            t = settings.sms.twilio if name == "sms" else settings.whatsapp.twilio
            needed = [(bool(t.account_sid), "account_sid", "No Twilio account SID is set"),
                      (bool(t.sender or t.messaging_service_sid), "sender",
                       "Neither a sender number nor a Messaging Service SID is set")]
    else:
        return CheckResult(False, "settings", f"{name!r} is no channel; test one of {', '.join(CHECKABLE)}")
    for ok, key, sentence in needed:
        if not ok:
            return CheckResult(False, "settings", f"{sentence}: set it {where_to_set(name, key)}.")
    secret_name = secret_for(settings, name)
    assert secret_name is not None
    password = _get(secret_name, secret)
    if name == "email":
        if settings.email.username and not password:
            return _missing_secret(secret_name, name)
        if password and settings.email.security == "none":
            return CheckResult(False, "settings", (
                "The security is set to none, and a password is never sent over an unencrypted connection: "
                f"choose STARTTLS (port 587) or TLS (port 465) {where_to_set('email', 'security')}."))
        return None
    if name == "imap" and settings.imap.security == "none" and password:
        from .addresses import loopback

        if not loopback(settings.imap.host):
            return CheckResult(False, "settings", (
                "The mailbox's security is set to none: a password is never sent over an unencrypted "
                f"connection; choose TLS (port 993) or STARTTLS (port 143) {where_to_set('imap', 'security')}."))
    if not password:
        return _missing_secret(secret_name, name)
    return None


def _provider_check(name: str, settings: DeliverySettings, secret: str | None) -> CheckResult:
    """Calls the channel's own check (imported when needed: each lives with its channel)."""
    if name == "email":
        from .smtp import check_email      # type: ignore[import-not-found, unused-ignore]

        return check_email(settings.email, secret)
    if name == "imap":
        return check_imap(settings.imap, secret)
    if name == "whatsapp" and settings.whatsapp.provider == "meta":
        from .meta import check_meta        # type: ignore[import-not-found, unused-ignore]

        return check_meta(settings.whatsapp.meta, secret)
    from .twilio import check_twilio        # type: ignore[import-not-found, unused-ignore]

    twilio: TwilioSettings = settings.sms.twilio if name == "sms" else settings.whatsapp.twilio
    # WhatsApp has its own sender rules (the sandbox number, WhatsApp senders): the check must know.
    return check_twilio(twilio, secret, whatsapp=name == "whatsapp")


def check_channel(settings: DeliverySettings, name: str, secret: str | None = None) -> CheckResult:
    """Tests channel `name` (email, sms, whatsapp, imap): its settings first (stage "settings"), then a
    real connection and sign-in through the channel's own check. `secret` overrides the stored secret
    (a password typed on the settings page, not saved yet). Blocks for up to the channel's timeout: call
    it off the GUI thread. Never raises."""
    try:
        problem = settings_problem(settings, name, secret)
        if problem is not None:
            return problem
        secret_name = secret_for(settings, name)
        assert secret_name is not None
        return _provider_check(name, settings, _get(secret_name, secret))
    except ImportError as exc:
        log.warning("no check for %s: %s", name, exc)
        return CheckResult(False, "settings", f"This build cannot test {name} connections yet ({exc}).")
    except Exception as exc:  # noqa: BLE001 - a test button must say what happened, never crash the app
        log.exception("testing the %s channel failed", name)
        return CheckResult(False, "connect", f"The test stopped with an unexpected error: {exc}")


def check_imap(settings: ImapSettings, password: str | None) -> CheckResult:
    """Connects to the mailbox over IMAP (IMAPClient), signs in and opens the folder read-only.

    Stages: dns (the host has no address), connect (refused, timed out), tls (handshake or certificate),
    auth (user name or password refused), settings (no such folder)."""
    from imapclient import IMAPClient  # type: ignore[import-untyped, unused-ignore]
    from imapclient.exceptions import IMAPClientError, LoginError  # type: ignore[import-untyped, unused-ignore]

    host, port = settings.host, settings.port
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror as exc:
        return CheckResult(False, "dns", f"The IMAP server {host!r} was not found ({exc.strerror}); check its name.")
    context = ssl.create_default_context()
    step: Callable[[], IMAPClient] = lambda: IMAPClient(host, port=port, ssl=settings.security == "tls",
                                                        ssl_context=context, timeout=20)
    try:
        client = step()
    except ssl.SSLError as exc:
        return CheckResult(False, "tls", f"The TLS handshake with {host}:{port} failed ({exc.reason or exc}); "
                                         "check the port and security (TLS: 993, STARTTLS: 143).")
    except (OSError, IMAPClientError) as exc:
        return CheckResult(False, "connect", f"Could not connect to {host}:{port} ({exc}); check the host, the "
                                             "port and that the server is reachable.")
    try:
        if settings.security == "starttls":
            try:
                client.starttls(context)
            except (ssl.SSLError, IMAPClientError, OSError) as exc:
                return CheckResult(False, "tls", f"STARTTLS with {host}:{port} failed ({exc}).")
        try:
            client.login(settings.username, password or "")
        except (LoginError, IMAPClientError) as exc:
            return CheckResult(False, "auth", f"The mailbox refused the user name or password ({_text(exc)}). "
                                              "Gmail and Microsoft 365 need an app password here.")
        try:
            client.select_folder(settings.folder or "INBOX", readonly=True)
        except IMAPClientError as exc:
            return CheckResult(False, "settings", f"The folder {settings.folder!r} cannot be opened ({_text(exc)}); "
                                                  f"set the folder {where_to_set('imap', 'folder')}.")
        return CheckResult(True, "", f"Signed in to {host} and opened {settings.folder or 'INBOX'}.")
    except OSError as exc:
        return CheckResult(False, "connect", f"The connection to {host}:{port} broke ({exc}).")
    finally:
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - closing a connection that already failed
            pass


def _text(exc: Exception) -> str:
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") or type(exc).__name__

"""Connecting to the sender's mailbox over IMAP (IMAPClient), and "Test connection" for it.

Every failure is a MailboxError naming its stage (dns, connect, tls, auth, folder, flags, settings)
and saying what to do, never a traceback."""
from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Any

from .base import CheckResult
from .settings import ImapSettings

TIMEOUT = 30.0                 # seconds for connecting and each command


class MailboxError(Exception):
    """The mailbox could not be read: `stage` (dns, connect, tls, auth, folder, flags, settings) and a
    sentence saying what failed and what to do."""

    def __init__(self, stage: str, detail: str) -> None:
        super().__init__(detail)
        self.stage, self.detail = stage, detail


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def connect(settings: ImapSettings, password: str, *, ssl_context: ssl.SSLContext | None = None,
            timeout: float = TIMEOUT) -> Any:
    """A logged-in `imapclient.IMAPClient` (nothing selected).

    `security`: "tls" (implicit TLS, port 993), "starttls" (port 143, upgraded before the password
    is sent) or "none" — allowed only for a loopback address (127.0.0.1, ::1), where the connection
    never leaves the computer (a local bridge such as Proton Mail Bridge); anywhere else a password
    would cross the network in the clear. Raises MailboxError naming the stage that failed."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    if not settings.configured:
        raise MailboxError("settings", "The mailbox is not set up: give the IMAP host and user name "
                                       "(Settings → Channels → Mailbox).")
    if settings.security not in ("tls", "starttls", "none"):
        raise MailboxError("settings", f"Unknown IMAP security {settings.security!r}: use tls, starttls or none.")
    if settings.security == "none" and not _loopback(settings.host):
        raise MailboxError("settings", f"Refusing to send the mailbox password to {settings.host} unencrypted: "
                                       "use security tls (port 993) or starttls (port 143).")
    context = ssl_context or ssl.create_default_context()
    where = f"{settings.host}:{settings.port}"
    try:
        client = IMAPClient(settings.host, port=settings.port, ssl=settings.security == "tls",
                            ssl_context=context, timeout=timeout)
    except socket.gaierror as exc:
        raise MailboxError("dns", f"Cannot find the mail server {settings.host!r} ({exc.strerror}): "
                                  "check the IMAP host name.") from None
    except ssl.SSLError as exc:
        raise MailboxError("tls", f"No secure connection with {where}: {exc.reason or exc}. Check the port "
                                  "(993 for tls, 143 for starttls) and the server's certificate.") from None
    except (OSError, IMAPClientError) as exc:
        raise MailboxError("connect", f"Cannot connect to {where}: {exc}. Check the host, the port and "
                                      "that this computer may reach it.") from None
    try:
        if settings.security == "starttls":
            try:
                client.starttls(context)
            except ssl.SSLError as exc:
                raise MailboxError("tls", f"STARTTLS with {where} failed: {exc.reason or exc}.") from None
            except IMAPClientError as exc:
                raise MailboxError("tls", f"{where} does not offer STARTTLS ({exc}): use security tls "
                                          "(port 993).") from None
        try:
            if (settings.username + password).isascii():
                client.login(settings.username, password)
            else:
                # LOGIN's quoted strings are ASCII (imaplib refuses "pässwörd"); AUTHENTICATE PLAIN
                # carries UTF-8 (RFC 4616), which Dovecot, Gmail and Microsoft 365 take.
                client.plain_login(settings.username, password)
        except LoginError as exc:
            raise MailboxError("auth", f"The mail server refused the user name or password for "
                                       f"{settings.username!r} ({server_text(exc)}). Gmail and Microsoft 365 need "
                                       "an app password when two-step verification is on.") from None
    except BaseException:
        close_client(client)
        raise
    return client


def server_text(exc: BaseException) -> str:
    text = str(exc)
    return text[2:-1] if text.startswith(("b'", 'b"')) else text


def close_client(client: Any) -> None:
    try:
        client.logout()
    except Exception:      # noqa: BLE001 - a connection that is gone already is closed enough
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def check_mailbox(settings: ImapSettings, password: str | None, *,
                  ssl_context: ssl.SSLContext | None = None) -> CheckResult:
    """"Test connection" for the mailbox: connects, logs in and opens the folder (read-only).
    Never raises: the result names the failing stage and says what to do."""
    if not password:
        return CheckResult(False, "settings", "No mailbox password: store it in Settings → Channels or set "
                                              "JOURNEYS_IMAP_PASSWORD.")
    try:
        client = connect(settings, password, ssl_context=ssl_context)
    except MailboxError as exc:
        return CheckResult(False, exc.stage, exc.detail)
    try:
        client.select_folder(settings.folder, readonly=True)
    except Exception as exc:   # noqa: BLE001 - any refusal is reported, never raised
        return CheckResult(False, "folder", f"The folder {settings.folder!r} cannot be opened: {server_text(exc)}.")
    finally:
        close_client(client)
    return CheckResult(True, "ok", f"Connected to {settings.host} as {settings.username}; "
                                   f"{settings.folder} can be read.")

""""Test connection" for email: really resolves, connects, sets up TLS, logs in and offers the sender,
and names the first stage that fails (settings, dns, connect, tls, auth, sender) with a sentence
saying what failed and what to do. Sends no message."""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import replace

from .base import CheckResult, DeliveryFailure, NotConfigured
from .email_message import parse_mailbox
from .settings import EmailSettings
from .smtp import SECURITY, EmailChannel, Refused, reply_text

_SECURITY_WORDS = {"starttls": "STARTTLS", "tls": "TLS", "none": "no encryption"}


def check(settings: EmailSettings, password: str | None, *,
          ssl_context: ssl.SSLContext | None = None) -> CheckResult:
    """"Test connection" for email: really resolves the host (stage dns), connects (connect), sets up
    TLS (tls: an untrusted certificate is named), logs in (auth) and offers the default sender with
    MAIL FROM, then RSET (sender: "not verified" when refused). Sends no message. Never raises: the
    result names the first stage that failed with a sentence saying what failed and what to do."""
    s, password = settings, password or None
    where = f"{s.host}:{s.port}"
    problem = _settings_problem(s, password)
    if problem:
        return CheckResult(False, "settings", problem)
    sender = parse_mailbox(s.sender, "the default sender", NotConfigured)
    timeout = min(s.timeout_seconds, 20.0)
    try:
        socket.getaddrinfo(s.host, s.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return CheckResult(False, "dns", f"The server name {s.host!r} could not be found ({_why(exc)}). Check "
                                         "its spelling (e.g. smtp.gmail.com) and that this computer is online.")
    try:
        socket.create_connection((s.host, s.port), timeout).close()
    except ConnectionRefusedError:
        return CheckResult(False, "connect", f"Nothing answers on port {s.port} of {s.host}: check the port "
                                             "(587 for STARTTLS, 465 for TLS) and that the server runs.")
    except (socket.timeout, TimeoutError):
        return CheckResult(False, "connect", f"{where} did not answer within {timeout:g} s: the port may be "
                                             "wrong, or a firewall or the internet provider blocks it.")
    except OSError as exc:
        return CheckResult(False, "connect", f"Could not connect to {where} ({_why(exc)}).")
    channel = EmailChannel(replace(s, timeout_seconds=timeout), password, ssl_context=ssl_context)
    try:
        smtp = channel.open_connection()
    except Refused as exc:              # the greeting, EHLO or STARTTLS refused with 5xx
        return CheckResult(False, exc.stage, f"{where} refused to talk: {_sentence(exc)}")
    except NotConfigured as exc:
        stage = "auth" if exc.code not in ("tls", "no_starttls") else "tls"
        return CheckResult(False, stage, _sentence(exc))
    except DeliveryFailure as exc:
        if exc.code and exc.code.isdigit():     # the greeting or EHLO refused (421 too busy, 554…)
            return CheckResult(False, "connect", f"{where} refused to talk: {_sentence(exc)} Try again later, "
                                                 "or check the host and port.")
        hint = (" If the port expects TLS from the first byte (465), choose TLS; for 587 choose STARTTLS."
                if exc.code in ("timeout", "disconnected") else "")
        return CheckResult(False, "connect", f"{where} answered, but not as a mail server should: "
                                             f"{_sentence(exc)}{hint}")
    try:
        options: list[str] = []
        if sender.smtputf8:        # a non-ASCII local part (zoë@…): only with SMTPUTF8 (RFC 6531)
            if not smtp.has_extn("smtputf8"):
                return CheckResult(False, "sender", f"The sender {sender.address} has a non-ASCII name before the @, "
                                                    f"which needs an internationalised mail server (SMTPUTF8), and "
                                                    f"{where} is not one: use an ASCII address as the sender.")
            options = ["SMTPUTF8"]
        code, reply = smtp.mail(sender.address, options)
        if code == 530 or (code in (535, 550, 554) and "auth" in reply_text(reply).lower() and not password):
            return CheckResult(False, "auth", f"{where} wants a login before it sends ({code} "
                                              f"{reply_text(reply)}): fill in the user name and password.")
        if code != 250:
            return CheckResult(False, "sender", f"The server refused the sender {sender.address} ({code} "
                                                f"{reply_text(reply)}): the sender is not verified for this "
                                                "account. Use an address the provider lets you send from (Amazon "
                                                "SES: a verified identity; Microsoft 365: the mailbox or one it "
                                                "may send as; Gmail: the account or an alias).")
        smtp.rset()
    except (OSError, smtplib.SMTPException, UnicodeError) as exc:
        return CheckResult(False, "sender", f"The connection to {where} failed while checking the sender "
                                            f"({_why(exc)}). Try again.")
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    login = f", logged in as {s.username}" if password else ""
    return CheckResult(True, "ok", f"Connected to {where} with {_SECURITY_WORDS[s.security]}{login}; the "
                                   f"server accepts {sender.address} as the sender.")


def _settings_problem(s: EmailSettings, password: str | None) -> str:
    if not s.host.strip():
        return "No SMTP server is set: fill in the host (e.g. smtp.gmail.com) and the port."
    if not 0 < s.port < 65536:
        return f"The port {s.port} is not a port number: use 587 (STARTTLS) or 465 (TLS)."
    if s.security not in SECURITY:
        return f"The security {s.security!r} is not one of STARTTLS, TLS, none."
    if s.security == "none" and password:
        return ("A password must not cross the network unencrypted: choose STARTTLS (port 587) or TLS "
                "(port 465), or remove the password.")
    if password and not s.username.strip():
        return "A password is set but no user name: fill in the user name (usually the full email address)."
    if not s.sender.strip():
        return "No default sender is set: fill in the From address, e.g. Corner Shop <hello@shop.example>."
    try:
        parse_mailbox(s.sender, "the default sender", NotConfigured)
    except NotConfigured as exc:
        return _sentence(exc)
    return ""


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)


def _sentence(exc: DeliveryFailure) -> str:
    text = exc.text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."

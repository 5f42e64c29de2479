"""Email over SMTP (RFC 5321) with `smtplib`: the email channel and its "Test connection".

`EmailChannel` keeps one connection open across messages (a server that closed it in between is
reconnected to before anything of the next message was sent) and classifies every failure for the
dispatcher (app/delivery/base.py):

- SMTP 4xx replies (421, 450, 451, 452…) → `Transient` with the code; connection refused, DNS
  failure, a timeout or a dropped connection *before the message data was sent* → `Transient`.
- SMTP 5xx replies (550, 552, 553, 554…) → `Permanent` with the code and the server's text.
- A connection dropped or timing out *after the message data was sent* and before the server's
  final reply → `Uncertain`: the server may have taken the message (RFC 5321 section 4.1.1.4 —
  only the reply after the final "." says it did), so it is never resent by itself.
- Authentication refused (535…), a server without STARTTLS when `security` is "starttls", an
  untrusted certificate, a password with `security` "none" → `NotConfigured`: the messages wait
  until the settings are fixed.

Security: "starttls" (port 587, RFC 3207: upgrading is required, a server not offering it is
refused), "tls" (implicit TLS, port 465, RFC 8314), "none" (no encryption: only without a password).
Certificates are verified against the system's CAs (or `ssl_context`, which tests give a test CA).
"""
from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from functools import lru_cache

from .base import CheckResult, DeliveryFailure, NotConfigured, Outgoing, Permanent, Sent, Transient, Uncertain
from .email_message import BuiltEmail, build_message, parse_mailbox
from .settings import EmailSettings
from .smtp_replies import Refused, reply_text, ses_message_id  # noqa: F401 - Refused, reply_text: for smtp_check
from .smtp_replies import by_code as _by_code, connection_refused as _connection_refused, sender_refused as _sender_refused
from .unsubscribe import list_unsubscribe, unsubscribe_token

SECURITY = ("starttls", "tls", "none")


@lru_cache(maxsize=1)
def _ehlo_name() -> str:
    """The name given in EHLO: the computer's name when it is a domain name, else "localhost".
    (smtplib's default, `getfqdn()`, waits on a reverse DNS lookup that may never answer offline.)"""
    name = socket.gethostname()
    return name if "." in name and name.isascii() else "localhost"


def _network(exc: BaseException, where: str) -> DeliveryFailure:
    """A failure of the network before the message was handed over: worth trying again."""
    if isinstance(exc, socket.gaierror):
        host = where.rpartition(":")[0] or where
        return Transient(f"the mail server's name {host} could not be found (DNS): {exc.strerror or exc}",
                         code="dns")
    if isinstance(exc, ConnectionRefusedError):
        return Transient(f"the mail server {where} refused the connection", code="connection_refused")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return Transient(f"the mail server {where} did not answer in time", code="timeout")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Transient(f"the mail server {where} closed the connection", code="disconnected")
    return Transient(f"the connection to the mail server {where} failed: {exc}", code="network")


def _tls_failure(exc: ssl.SSLError, where: str) -> NotConfigured:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return NotConfigured(
            f"the mail server {where} showed a certificate this computer does not trust "
            f"({str(exc.verify_message or exc.reason).rstrip('.')}); check the host name (it must match the "
            "certificate) or ask the provider", code="tls")
    return NotConfigured(
        f"the TLS connection to {where} failed ({exc.reason or exc}); check that the port matches the "
        "security setting (465: implicit TLS, 587: STARTTLS)", code="tls")


def login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH with `user` and `password` (after EHLO). `smtplib.login` encodes both as ASCII and fails on
    a password such as "pässword"; RFC 4616 (PLAIN) and common LOGIN servers take UTF-8, so a non-ASCII
    user or password is sent as UTF-8 with PLAIN, else LOGIN.

    Raises smtplib.SMTPAuthenticationError when refused, smtplib.SMTPException when no usable
    mechanism is offered."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    offered = smtp.esmtp_features.get("auth", "").upper().split()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if "PLAIN" in offered:
        code, reply = smtp.docmd("AUTH", "PLAIN " + b64(b"\0" + user.encode() + b"\0" + password.encode()))
    elif "LOGIN" in offered:
        code, reply = smtp.docmd("AUTH", "LOGIN " + b64(user.encode()))
        if code == 334:
            code, reply = smtp.docmd(b64(password.encode()))
    else:
        raise smtplib.SMTPException(f"the server offers no login mechanism this app can use ({' '.join(offered)})")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class _Dropped(Exception):
    """The connection failed after the message data was sent (its fate is unknown)."""


class EmailChannel:
    """Sends `Outgoing` emails through one SMTP server (see the module's docstring for failures).

    `settings`: host, port, security, username, default sender, Reply-To, unsubscribe address,
    timeout. `password`: the SMTP password (None or "" logs in with none). `public_url`: where the
    one-click unsubscribe link points (HTTPS). `unsubscribe_key`: the database's HMAC key
    (`unsubscribe.signing_key(db)`) that signs each message's unsubscribe token; without it the
    List-Unsubscribe header has only the mailto: link, with no token. `ssl_context`: the
    certificates to trust (default: the system's). One thread at a time; `close()` ends the
    connection."""

    def __init__(self, settings: EmailSettings, password: str | None, *, public_url: str = "",
                 ssl_context: ssl.SSLContext | None = None, unsubscribe_key: bytes | None = None) -> None:
        self.settings = settings
        self.password = password or None
        self.public_url = public_url
        self.unsubscribe_key = unsubscribe_key
        self.ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- connection --------------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def open_connection(self) -> smtplib.SMTP:
        """A new connection, greeted, upgraded to TLS and logged in as the settings say (the channel does
        not keep it: `send` manages its own). Raises NotConfigured or Transient like `send`."""
        s = self.settings
        if not s.host.strip():
            raise NotConfigured("no SMTP server is set: fill in Settings → Channels → Email")
        if s.security not in SECURITY:
            raise NotConfigured(f"the email security setting {s.security!r} is not one of starttls, tls, none")
        if s.security == "none" and self.password:
            raise NotConfigured(
                f"a password must not be sent over an unencrypted connection: set the security of "
                f"{self.where} to STARTTLS (port 587) or TLS (port 465)", code="insecure")
        smtp: smtplib.SMTP
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, local_hostname=_ehlo_name(), timeout=s.timeout_seconds,
                                        context=self._context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=_ehlo_name(), timeout=s.timeout_seconds)
        except smtplib.SMTPConnectError as exc:       # the greeting was not 220 (e.g. 421 too busy, 554)
            raise _connection_refused(exc.smtp_code, reply_text(exc.smtp_error), "its greeting",
                                      self.where) from None
        except ssl.SSLError as exc:
            raise _tls_failure(exc, self.where) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _network(exc, self.where) from None
        try:
            self._greet(smtp)
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def _greet(self, smtp: smtplib.SMTP) -> None:
        """EHLO, STARTTLS when asked for, and AUTH: a connection ready for MAIL FROM."""
        s = self.settings
        try:
            code, reply = smtp.ehlo()
            if code != 250:
                raise _connection_refused(code, reply_text(reply), "EHLO", self.where)
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise NotConfigured(
                        f"the mail server {self.where} does not offer STARTTLS, so nothing (least of all the "
                        "password) would be encrypted; choose TLS on port 465, or ask the provider which "
                        "port offers STARTTLS", code="no_starttls")
                try:
                    smtp.starttls(context=self._context())      # raises unless the reply is 220
                except smtplib.SMTPResponseException as exc:
                    raise _connection_refused(exc.smtp_code, reply_text(exc.smtp_error), "STARTTLS", self.where,
                                              "tls") from None
                smtp.ehlo()
            if self.password:
                if not smtp.has_extn("auth"):
                    raise NotConfigured(f"the mail server {self.where} offers no login (AUTH); check the "
                                        "port (submission is 587 or 465) and the security setting", code="no_auth")
                try:
                    login(smtp, s.username, self.password)
                except (smtplib.SMTPResponseException, smtplib.SMTPServerDisconnected):
                    raise
                except smtplib.SMTPException as exc:     # no mechanism both sides know
                    raise NotConfigured(f"the mail server {self.where} offers no login this app can use "
                                        f"({exc}); ask the provider for SMTP AUTH PLAIN or LOGIN",
                                        code="no_auth") from None
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:     # 454 "temporary authentication failure": try again later
                raise _by_code(exc.smtp_code, reply_text(exc.smtp_error), "the login") from None
            raise NotConfigured(
                f"the mail server {self.where} refused the login of {s.username!r} "
                f"({exc.smtp_code} {reply_text(exc.smtp_error)}); check the user name and password "
                "(Gmail and Microsoft 365 need an app password)", code=str(exc.smtp_code)) from None
        except smtplib.SMTPResponseException as exc:
            raise _connection_refused(exc.smtp_code, reply_text(exc.smtp_error), "the login", self.where) from None
        except ssl.SSLError as exc:
            raise _tls_failure(exc, self.where) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _network(exc, self.where) from None

    def close(self) -> None:
        """Says QUIT and closes the connection (if one is open); the channel may be used again."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            _quietly_close(smtp)

    # -- sending -----------------------------------------------------------------------------------

    def build(self, message: Outgoing) -> BuiltEmail:
        """The MIME message for `message`, with its List-Unsubscribe headers (see `build_message`)."""
        address = self.settings.unsubscribe_address.strip()
        if address:
            address = parse_mailbox(address, "the unsubscribe address in Settings → Channels → Email",
                                    NotConfigured).address
        token = (unsubscribe_token(message.idempotency_key, self.unsubscribe_key)
                 if self.unsubscribe_key is not None else None)
        headers = list_unsubscribe(token, public_url=self.public_url, address=address)
        return build_message(message, self.settings, extra_headers=headers, id_salt=self.unsubscribe_key)

    def send(self, message: Outgoing) -> Sent:
        """Sends `message` (an email); returns Sent(provider_id=its Message-ID).

        Raises Transient, Permanent, Uncertain or NotConfigured (see the module's docstring)."""
        built = self.build(message)
        data = built.message.as_bytes()
        while True:
            fresh = self._smtp is None
            if self._smtp is None:
                self._smtp = self.open_connection()
            try:
                answer = self._transaction(self._smtp, built, data)
                return Sent(provider_id=ses_message_id(self.settings.host, answer) or built.message_id,
                            status="sent")
            except _Stale as stale:
                # Nothing of this message went out. A kept connection the server closed while it was
                # idle is opened again once; on a fresh connection the failure stands.
                self._forget()
                if fresh:
                    raise stale.failure from None
            except _Dropped as exc:
                self._forget()
                raise Uncertain(f"the connection to {self.where} was lost after the message was handed over "
                                f"and before the server confirmed it ({exc}); it may or may not have been "
                                "delivered", code="dropped_after_data") from None
            except DeliveryFailure:
                self._reset()
                raise

    def _transaction(self, smtp: smtplib.SMTP, built: BuiltEmail, data: bytes) -> str:
        """MAIL FROM, RCPT TO, DATA; the server's words accepting the message. Raises `_Stale` when the connection was found dead before anything of
        the message was accepted, `_Dropped` when it died after the data went, else a DeliveryFailure."""
        options: list[str] = []
        if built.smtputf8:
            if not smtp.has_extn("smtputf8"):
                raise Permanent(f"the address {built.recipient} needs an internationalised mail server "
                                f"(SMTPUTF8), and {self.where} is not one", code="smtputf8")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        elif smtp.has_extn("8bitmime"):
            options = ["BODY=8BITMIME"]
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        try:
            code, reply = smtp.mail(built.envelope_from, options)
            if code == 421:         # "closing the channel": often an idle connection the server ends
                raise _Stale(_by_code(code, reply_text(reply), "MAIL FROM"))
            if code != 250:
                raise _sender_refused(code, reply_text(reply), built.envelope_from) or _by_code(
                    code, reply_text(reply), f"the sender {built.envelope_from} (MAIL FROM)")
            code, reply = smtp.rcpt(built.recipient)
            if code not in (250, 251):
                raise _by_code(code, reply_text(reply), f"the recipient {built.recipient} (RCPT TO)")
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise _by_code(code, reply_text(reply), "DATA")
        except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            # smtplib turns a timeout while reading a reply into SMTPServerDisconnected: a server that is
            # too slow is not a stale connection (waiting for it twice would only double the wait).
            if isinstance(exc.__context__, TimeoutError):
                raise _network(exc.__context__, self.where) from None
            raise _Stale(_network(exc, self.where)) from None
        except DeliveryFailure:
            raise
        except (OSError, smtplib.SMTPException) as exc:
            raise _network(exc, self.where) from None
        payload = smtplib._quote_periods(data)  # type: ignore[attr-defined]  # RFC 5321 4.5.2 dot-stuffing
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        try:
            smtp.send(payload + b".\r\n")
        except (OSError, smtplib.SMTPException) as exc:
            # The final "." did not go: the server cannot have taken an unfinished message.
            self._forget()
            raise _network(exc, self.where) from None
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            raise _Dropped(str(exc) or type(exc).__name__) from None
        if code != 250:
            raise _sender_refused(code, reply_text(reply), built.envelope_from) or _by_code(
                code, reply_text(reply), "the message data")
        return reply_text(reply)

    def _reset(self) -> None:
        """After a refused message: RSET, so the kept connection can carry the next one (closed if it cannot)."""
        if self._smtp is None:
            return
        try:
            code, _ = self._smtp.rset()
            if code == 250:
                return
        except (OSError, smtplib.SMTPException):
            pass
        self._forget()

    def _forget(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _quietly_close(smtp)


class _Stale(Exception):
    """The connection was found closed before anything of the message was accepted: on a kept
    connection, open a new one and try once more; on a fresh one, `failure` stands."""

    def __init__(self, failure: DeliveryFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass


# -- "Test connection" ---------------------------------------------------------------------------------

def check_email(settings: EmailSettings, password: str | None, *,
                ssl_context: ssl.SSLContext | None = None) -> CheckResult:
    """"Test connection" for email (see `app.delivery.smtp_check.check`): the first stage that fails
    (settings, dns, connect, tls, auth, sender) with a sentence saying what failed and what to do."""
    from .smtp_check import check

    return check(settings, password, ssl_context=ssl_context)

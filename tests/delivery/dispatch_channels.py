"""Small TEST channels that really send over the network (to the servers of dispatch_servers.py) and
raise app/delivery/base.py's failures from the real answers, as the real channels do.

`factory(db)` (the kill test's and the benchmark's pluggable entry point, named by an import path such as
`tests.delivery.dispatch_channels:factory`) reads the ports from the environment:
JOURNEYS_TEST_SMTP_PORT (email) and JOURNEYS_TEST_HTTP_URL (sms, whatsapp). The real channels'
entry point is `app.delivery.channels:channel_factory`.
"""
from __future__ import annotations

import hashlib
import os
import smtplib
from email.message import EmailMessage
from typing import Any, Callable

import httpx
from sqlalchemy.engine import Engine

from app.delivery.base import Channel, NotConfigured, Outgoing, Permanent, Sent, Transient, Uncertain


class _Smtp(smtplib.SMTP):
    """Knows whether the message itself went on the wire (then a lost answer is `Uncertain`)."""

    handed = False

    def send(self, s: Any) -> None:
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.handed = True          # before the bytes go: a failure while they go is uncertain too
        super().send(s)


def message_id(key: str) -> str:
    """The Message-ID a message's idempotency key gives (a digest: keys hold ':' and '@')."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@dispatch.test>"


class SmtpTestChannel:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: _Smtp | None = None

    def _connect(self) -> _Smtp:
        if self.conn is None:
            try:
                self.conn = _Smtp(self.host, self.port, timeout=self.timeout)
            except OSError as exc:
                raise Transient(f"cannot connect to {self.host}:{self.port}: {exc}", code="connect") from None
        return self.conn

    def send(self, message: Outgoing) -> Sent:
        mail = EmailMessage()
        mail["From"] = message.sender or "shop@dispatch.test"
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or ""
        mail["Message-ID"] = message_id(message.idempotency_key)
        mail.set_content(message.body_text or "")
        conn = self._connect()
        conn.handed = False
        try:
            conn.ehlo_or_helo_if_needed()
            for command in (lambda: conn.mail(mail["From"]), lambda: conn.rcpt(message.recipient),
                            lambda: conn.data(mail.as_bytes())):
                code, text = command()
                if code >= 400:
                    raise smtplib.SMTPResponseException(code, text)
        except smtplib.SMTPResponseException as exc:
            self.close()
            reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            kind = Transient if 400 <= exc.smtp_code < 500 else Permanent
            raise kind(reply, code=str(exc.smtp_code)) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            handed = conn.handed
            self.close()
            if handed:
                raise Uncertain(f"the connection was lost after the message was sent: {exc}", code="lost") from None
            raise Transient(f"the connection was lost: {exc}", code="connection") from None
        return Sent(mail["Message-ID"])

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


class HttpTestChannel:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def send(self, message: Outgoing) -> Sent:
        try:
            response = self.client.post("/messages", json={"to": message.recipient, "body": message.body_text},
                                        headers={"Idempotency-Key": message.idempotency_key})
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise Transient(f"cannot connect: {exc}", code="connect") from None
        except httpx.TransportError as exc:        # the request went; the answer did not come
            raise Uncertain(f"no answer: {exc!r}", code="lost") from None
        if response.status_code < 300:
            return Sent(response.json().get("sid"))
        try:
            body = response.json()
        except ValueError:
            body = {}
        text = str(body.get("message") or response.reason_phrase)
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise Transient(text, code=str(response.status_code), retry_after=float(after) if after else None)
        raise Permanent(text, code=str(body.get("code") or response.status_code))

    def close(self) -> None:
        self.client.close()


def open_test_channel(name: str, smtp_port: int | None, http_url: str | None) -> Channel:
    if name == "email":
        if not smtp_port:
            raise NotConfigured("no test SMTP port")
        return SmtpTestChannel("127.0.0.1", smtp_port)
    if not http_url:
        raise NotConfigured("no test HTTP server")
    return HttpTestChannel(http_url)


def factory(db: Engine) -> Callable[[str], Channel]:
    """The pluggable factory: ports from JOURNEYS_TEST_SMTP_PORT and JOURNEYS_TEST_HTTP_URL."""
    port = int(os.environ.get("JOURNEYS_TEST_SMTP_PORT", "0")) or None
    url = os.environ.get("JOURNEYS_TEST_HTTP_URL") or None
    return lambda name: open_test_channel(name, port, url)

"""A server that refuses the *connection* (its greeting, EHLO, STARTTLS or the login) refuses every
message alike: that is no verdict on one message, so no message may fail for it. The messages wait
(NotConfigured) for a transient refusal's retry or for the settings to be fixed, and "Test connection"
names the stage."""
from __future__ import annotations

import socket
import ssl
import threading
from typing import Iterator

import pytest
import trustme

from app.delivery.base import NotConfigured, Outgoing, Permanent, Transient
from app.delivery.settings import EmailSettings
from app.delivery.smtp import EmailChannel
from app.delivery.smtp_check import check
from tests.delivery.smtp_servers import client_context

CA = trustme.CA()


class ScriptedSmtp:
    """A minimal SMTP server on 127.0.0.1 (a thread, raw socket) answering each command by its verb from
    `replies` ("greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "."), 250 by default;
    `features` are the EHLO keywords it offers. Counts the messages whose final "." it accepted."""

    def __init__(self, replies: dict[str, str], features: tuple[str, ...] = ("AUTH PLAIN LOGIN",)) -> None:
        self.replies, self.features = replies, features
        # Implicit TLS (port 465 style), so that a login may be offered: a password never goes in clear.
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        CA.issue_cert("127.0.0.1").configure_cert(self.tls)
        self.accepted = 0
        self.tls_off = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                if self.tls_off:
                    with conn:
                        self._session(conn)
                    continue
                with self.tls.wrap_socket(conn, server_side=True) as secure:
                    self._session(secure)
            except OSError:
                pass

    def _session(self, conn: socket.socket) -> None:
        file = conn.makefile("rb")

        def say(text: str) -> None:
            conn.sendall(text.encode() + b"\r\n")

        greeting = self.replies.get("greeting", "220 scripted ESMTP")
        say(greeting)
        if not greeting.startswith("220"):
            return
        in_data = False
        for raw in file:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    reply = self.replies.get(".", "250 2.0.0 queued")
                    self.accepted += reply.startswith("250")
                    say(reply)
                continue
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                reply = self.replies.get("EHLO")
                if reply:
                    say(reply)
                    continue
                lines = ["scripted", *self.features]
                for i, feature in enumerate(lines):
                    say(f"250{'-' if i < len(lines) - 1 else ' '}{feature}")
            elif verb == "QUIT":
                say("221 bye")
                return
            elif verb == "DATA":
                reply = self.replies.get("DATA", "354 go ahead")
                say(reply)
                in_data = reply.startswith("354")
            elif verb == "STARTTLS":
                say(self.replies.get("STARTTLS", "454 4.7.0 TLS not available"))
            elif verb == "AUTH":
                say(self.replies.get("AUTH", "235 2.7.0 ok"))
            elif verb == "RSET":
                say("250 ok")
            else:
                say(self.replies.get(verb, "250 ok"))

    def settings(self, **changes: object) -> EmailSettings:
        values = dict(host="127.0.0.1", port=self.port, security="tls", sender="hello@shop.example",
                      username="shop", timeout_seconds=5.0)
        values.update(changes)
        return EmailSettings(**values)  # type: ignore[arg-type]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[list[ScriptedSmtp]]:
    made: list[ScriptedSmtp] = []
    yield made
    for server in made:
        server.close()


def _server(made: list[ScriptedSmtp], replies: dict[str, str], **kwargs: object) -> ScriptedSmtp:
    server = ScriptedSmtp(replies, **kwargs)  # type: ignore[arg-type]
    made.append(server)
    return server


def _channel(server: ScriptedSmtp, password: str | None, *, starttls: bool = False) -> EmailChannel:
    if starttls:            # a plain server offering STARTTLS, then refusing it
        server.tls_off = True
        server.features = ("STARTTLS",)
        return EmailChannel(server.settings(security="starttls"), password)
    return EmailChannel(server.settings(), password, ssl_context=client_context(CA))


def _outgoing(recipient: str = "ann@example.com") -> Outgoing:
    return Outgoing(message_id=1, idempotency_key="run:1:send", channel="email", recipient=recipient,
                    subject="Hello", body_text="Hi")


CONNECTION_REFUSALS = {
    "greeting 554 (this computer is on a block list)": {"greeting": "554 5.7.1 Service unavailable; Client host blocked"},
    "greeting 550": {"greeting": "550 no SMTP service here"},
    "EHLO 550": {"EHLO": "550 5.7.1 EHLO refused"},
    "EHLO 502": {"EHLO": "502 5.5.2 command not recognized"},
    "AUTH 538 (encryption required)": {"AUTH": "538 5.7.11 Encryption required for requested authentication mechanism"},
    "AUTH 554 (too many failures)": {"AUTH": "554 5.7.0 Too many failed authentication attempts"},
    "AUTH 504": {"AUTH": "504 5.5.4 Unrecognized authentication type"},
    "STARTTLS 554": {"STARTTLS": "554 5.7.3 TLS not available for this client"},
}


@pytest.mark.parametrize("name", CONNECTION_REFUSALS)
def test_a_refused_connection_or_login_fails_no_message_it_waits(scripted, name):
    server = _server(scripted, CONNECTION_REFUSALS[name])
    starttls = name.startswith("STARTTLS")
    channel = _channel(server, "secret" if name.startswith("AUTH") else None, starttls=starttls)
    with pytest.raises(NotConfigured) as caught:
        channel.send(_outgoing())
    code = CONNECTION_REFUSALS[name][next(iter(CONNECTION_REFUSALS[name]))][:3]
    assert caught.value.code == code and code in caught.value.text
    assert server.accepted == 0


@pytest.mark.parametrize("replies, klass, code", [
    ({"greeting": "421 4.3.2 too busy, try later"}, Transient, "421"),
    ({"EHLO": "421 4.7.0 try again later"}, Transient, "421"),
    ({"AUTH": "454 4.7.0 Temporary authentication failure"}, Transient, "454"),
    ({"STARTTLS": "454 4.7.0 TLS not available due to temporary reason"}, Transient, "454"),
    ({"RCPT": "550 5.1.1 <ann@example.com>: user unknown"}, Permanent, "550"),
    ({"RCPT": "452 4.2.2 mailbox full, try later"}, Transient, "452"),
    ({"MAIL": "552 5.3.4 message too big"}, Permanent, "552"),
    ({".": "554 5.7.1 rejected as spam"}, Permanent, "554"),
    ({".": "450 4.7.1 greylisted"}, Transient, "450"),
])
def test_a_refusal_of_the_message_itself_keeps_its_class(scripted, replies, klass, code):
    server = _server(scripted, replies)
    channel = _channel(server, "secret" if "AUTH" in replies else None, starttls="STARTTLS" in replies)
    with pytest.raises(klass) as caught:
        channel.send(_outgoing())
    assert type(caught.value) is klass and caught.value.code == code


@pytest.mark.parametrize("replies, stage", [
    ({"greeting": "554 5.7.1 Client host blocked"}, "connect"),
    ({"EHLO": "550 5.7.1 EHLO refused"}, "connect"),
    ({"STARTTLS": "554 5.7.3 TLS not available"}, "tls"),
])
def test_test_connection_names_the_connect_stage_for_a_refused_greeting(scripted, replies, stage):
    server = _server(scripted, replies)
    if "STARTTLS" in replies:
        server.tls_off, server.features = True, ("STARTTLS",)
        result = check(server.settings(security="starttls"), None)
    else:
        result = check(server.settings(), None, ssl_context=client_context(CA))
    assert not result.ok and result.stage == stage
    assert replies[next(iter(replies))][:3] in result.detail


def test_test_connection_with_an_international_sender_says_what_the_server_lacks_never_raises(scripted):
    """A default sender such as zoë@shop.example needs SMTPUTF8 (RFC 6531): Test connection offers it with
    that option when the server has it, and says so at the sender stage when it has not."""
    plain = _server(scripted, {}, features=("AUTH PLAIN LOGIN",))
    result = check(plain.settings(sender="Zoë <zoë@shop.example>"), None, ssl_context=client_context(CA))
    assert (result.ok, result.stage) == (False, "sender") and "SMTPUTF8" in result.detail
    modern = _server(scripted, {}, features=("AUTH PLAIN LOGIN", "SMTPUTF8", "8BITMIME"))
    result = check(modern.settings(sender="Zoë <zoë@shop.example>"), None, ssl_context=client_context(CA))
    assert result.ok, result.detail


@pytest.mark.parametrize("replies", [
    {".": "554 Message rejected: Email address is not verified. The following identities failed the check in "
          "region EU-WEST-1: hello@shop.example"},                                        # Amazon SES
    {".": "554 5.2.252 SendAsDenied; hello@shop.example not allowed to send as boss@shop.example"},   # Microsoft 365
    {".": "550 5.7.60 SMTP; Client does not have permissions to send as this sender"},          # Microsoft 365
    {"MAIL": "553 5.7.1 <hello@shop.example>: Sender address rejected: not owned by user shop"},   # Postfix
    {".": "554 Sending suspended for this account. For more information, please check the inbox of the "
          "email address associated with your AWS account."},                                   # Amazon SES
])
def test_a_sender_the_provider_has_not_verified_keeps_every_message_waiting(scripted, replies):
    """Providers refuse an unverified sender at MAIL FROM or only after the data: every message from it
    would fail alike, so none fails; the messages wait, and the words say to verify the sender."""
    server = _server(scripted, replies)
    with pytest.raises(NotConfigured) as caught:
        _channel(server, None).send(_outgoing())
    assert caught.value.code == next(iter(replies.values()))[:3]
    assert "hello@shop.example" in caught.value.text and "verify" in caught.value.text
    assert server.accepted == 0


@pytest.mark.parametrize("reply", ["550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
                                   "550 5.1.0 Recipient address not verified",
                                   "554 5.7.1 Message rejected as spam"])
def test_a_refusal_about_the_recipient_or_the_content_still_fails_the_message(scripted, reply):
    server = _server(scripted, {".": reply})
    with pytest.raises(Permanent):
        _channel(server, None).send(_outgoing())

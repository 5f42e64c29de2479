"""Real SMTP servers (aiosmtpd) on 127.0.0.1 for the delivery tests, the dispatcher's kill test and
the benchmark.

Start one with `start_smtp_server(...)` (stop it with `.stop()`, or use it as a context manager), or
use the pytest fixtures below (import them into a conftest.py or a test module):

    smtp_ca                  a trustme test CA (session-wide); `client_context(smtp_ca)` trusts it
    smtp_server              STARTTLS (required before MAIL) + AUTH LOGIN/PLAIN, user/password USER/PASSWORD
    smtp_tls_server          implicit TLS (the "465" way) + AUTH LOGIN/PLAIN
    smtp_plain_server        no TLS, no AUTH (for tests and benchmarks that measure the dispatcher, not TLS)

`SmtpServer(security=, users=, ca=, refused_senders=, auth=, smtputf8=, names=)` starts one with
other choices (`names`: the names on its certificate); `server.settings(**changes)` gives
EmailSettings that reach it, `server.password` the password, `server.client_context()` an SSL
context trusting its CA, `server.connections` how many connections clients opened.

Every server records what it accepted (`server.received`: `Received` with the envelope and the
parsed message) and misbehaves on request, chosen by the recipient's address so that one server
serves every case (see `BEHAVIOURS`):

    421@x, 450@x, 451@x, 452@x, 550@x, 552@x, 553@x, 554@x   that reply to RCPT TO
    data-451@x, data-550@x, data-554@x                        that reply after the message data
    drop-before-data@x       the server closes the connection at RCPT TO (nothing was handed over)
    drop-after-data@x        the server takes the whole message, then closes without a reply
    hang-before-data@x       the server never answers RCPT TO (until stopped): a timeout before the data
    hang-after-data@x        the server takes the whole message and never replies (until stopped)

A sender (MAIL FROM) in `refused_senders`, or whose local part starts with "refused", is answered
``553 5.7.1 Sender address not verified``. `server.drop_idle()` closes every open connection (as
servers do with idle ones), for testing that a kept connection is opened again.

Run one in its own process with ``python -m tests.delivery.smtp_servers`` (see `main`).

Messages taken by `drop-after-data`/`hang-after-data` are recorded in `server.swallowed`, not in
`received`: the client cannot know whether they arrived.
"""
from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from dataclasses import dataclass
from functools import cached_property
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from app.delivery.settings import EmailSettings

# aiosmtpd warns on every login that a legacy attribute is deprecated: not the tests' business.
logging.getLogger("mail.log").setLevel(logging.ERROR)

USER, PASSWORD = "shop", "s3cret-pässword"
SENDER = "Corner Shop <hello@shop.example>"

RCPT_CODES = {
    "421": "421 4.3.2 Service not available, closing transmission channel",
    "450": "450 4.2.1 Mailbox busy, try again later",
    "451": "451 4.3.0 Local error in processing",
    "452": "452 4.5.3 Insufficient system storage",
    "550": "550 5.1.1 No such user here",
    "552": "552 5.2.2 Mailbox full",
    "553": "553 5.1.3 Mailbox name not allowed",
    "554": "554 5.7.1 Transaction failed: rejected by policy",
}
DATA_CODES = {
    "data-451": "451 4.7.1 Greylisted, please try again later",
    "data-550": "550 5.7.1 Message rejected as spam",
    "data-554": "554 5.6.0 Message content rejected",
}
DROPS = ("drop-before-data", "drop-after-data", "hang-before-data", "hang-after-data")
BEHAVIOURS = tuple(RCPT_CODES) + tuple(DATA_CODES) + DROPS
"""The recipient local parts that make a server misbehave (see the module's docstring)."""


@dataclass
class Received:
    """One message a server accepted: the envelope as given, the bytes, and (on first use) the message
    parsed with `email.policy.default` (headers decoded: ``message["From"].addresses[0].display_name``).
    Parsing waits until asked, so a benchmark's server spends no time on it."""

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    data: bytes
    user: str | None = None       # who logged in (None: no AUTH)

    @cached_property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]

    @cached_property
    def message_id(self) -> str:
        """The Message-ID header, read without parsing the whole message."""
        head = self.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        found = re.search(r"(?im)^message-id:\s*(<[^>]*>)", head)
        return found.group(1) if found else ""


def _local(address: str) -> str:
    return address.rpartition("@")[0].lower()


class _Handler:
    """The aiosmtpd handler: records, refuses and misbehaves (see the module's docstring)."""

    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_MAIL(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if address.lower() in self.server.refused_senders or _local(address).startswith("refused"):
            return "553 5.7.1 Sender address not verified"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        local = _local(address)
        if local in RCPT_CODES:
            if local == "421":
                asyncio.get_running_loop().call_soon(smtp.transport.close)   # 421 closes the channel
            return RCPT_CODES[local]
        if local == "drop-before-data":
            smtp.transport.abort()
            return "250 OK"        # never reaches the client: the connection is gone
        if local == "hang-before-data":
            await self.server.hang()
            return "451 4.3.0 Shutting down"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        locals_ = {_local(a) for a in envelope.rcpt_tos}
        for name, reply in DATA_CODES.items():
            if name in locals_:
                return reply
        received = Received(str(envelope.mail_from), list(envelope.rcpt_tos), list(envelope.mail_options), data,
                            session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword)
                            else None)
        if "drop-after-data" in locals_:
            self.server.swallowed.append(received)
            smtp.transport.abort()
            return "250 OK"
        if "hang-after-data" in locals_:
            self.server.swallowed.append(received)
            await self.server.hang()
            return "451 4.3.0 Shutting down"
        self.server.received.append(received)
        return f"250 OK queued as {len(self.server.received)}"


def _authenticator(users: dict[str, str]) -> Any:
    def check(smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode("utf-8"), auth_data.password.decode("utf-8")
            if users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        # aiosmtpd answers a failed AUTH with 535 5.7.8 (RFC 4954 section 6).
        return AuthResult(success=False, handled=False)
    return check


class _Controller(Controller):
    """aiosmtpd's threaded controller, listening on a socket bound to 127.0.0.1 port 0 (the OS picks
    a free port; no race with other tests for a port number)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        self._sock = sock
        self.protocols: list[SMTP] = []     # every connection's protocol object, for drop_idle
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def factory(self) -> SMTP:
        protocol = super().factory()
        self.protocols.append(protocol)
        return protocol

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, *, security: str = "starttls", users: dict[str, str] | None = None,
                 ca: trustme.CA | None = None, refused_senders: tuple[str, ...] = (),
                 auth: bool | None = None, smtputf8: bool = True,
                 names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> None:
        self.security = security
        self.users = dict(users if users is not None else {USER: PASSWORD})
        self.ca = ca if ca is not None or security == "none" else trustme.CA()
        self.refused_senders = {s.lower() for s in refused_senders}
        self.received: list[Received] = []
        self.swallowed: list[Received] = []
        self._release: asyncio.Event | None = None
        server_context = None
        if self.ca is not None and security != "none":
            server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ca.issue_cert(*names).configure_cert(server_context)
        with_auth = bool(self.users) if auth is None else auth
        kwargs: dict[str, Any] = dict(
            enable_SMTPUTF8=smtputf8, auth_exclude_mechanism=[] if with_auth else ["LOGIN", "PLAIN"],
            authenticator=_authenticator(self.users) if with_auth else None)
        if security == "starttls":
            kwargs.update(tls_context=server_context, require_starttls=True, auth_require_tls=True)
        elif security == "tls":
            kwargs.update(ssl_context=server_context, auth_require_tls=False)   # the whole connection is TLS
        else:
            kwargs.update(auth_require_tls=False)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.host, self.port = "127.0.0.1", sock.getsockname()[1]
        self._controller = _Controller(_Handler(self), sock, **kwargs)
        self._controller.start()
        self._controller.protocols.clear()     # the controller's own start-up probe is no client

    @property
    def connections(self) -> int:
        """How many connections clients opened to this server so far."""
        return len(self._controller.protocols)

    # -- for the client side ----------------------------------------------------------------------

    def settings(self, **changes: Any) -> EmailSettings:
        """EmailSettings that reach this server as user USER (change any field with keywords)."""
        values: dict[str, Any] = dict(host=self.host, port=self.port, security=self.security,
                                      username=USER if self.users else "", sender=SENDER, timeout_seconds=10.0)
        values.update(changes)
        return EmailSettings(**values)

    @property
    def password(self) -> str | None:
        return self.users.get(USER) if self.users else None

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this server's test CA (and nothing else)."""
        return client_context(self.ca)

    def by_message_id(self) -> dict[str, int]:
        """How many times each Message-ID arrived (the kill test's duplicate check)."""
        counts: dict[str, int] = {}
        for item in self.received:
            counts[item.message_id] = counts.get(item.message_id, 0) + 1
        return counts

    # -- misbehaviour ------------------------------------------------------------------------------

    async def hang(self) -> None:
        """Waits until the server stops (the hang-after-data behaviour)."""
        if self._release is None:
            self._release = asyncio.Event()
        await self._release.wait()

    def drop_idle(self) -> None:
        """Closes every open client connection now (as a server does with connections left idle)."""
        def close_all() -> None:
            for protocol in self._controller.protocols:
                if protocol.transport is not None:
                    protocol.transport.close()

        asyncio.run_coroutine_threadsafe(_call(close_all), self._controller.loop).result(10)

    def stop(self) -> None:
        loop = self._controller.loop
        if self._release is not None:
            loop.call_soon_threadsafe(self._release.set)
        self._controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _call(function: Any) -> None:
    function()


def start_smtp_server(**kwargs: Any) -> SmtpServer:
    """Starts a server (keywords as `SmtpServer`); the caller stops it."""
    return SmtpServer(**kwargs)


def client_context(ca: trustme.CA | None) -> ssl.SSLContext:
    """A client SSL context that trusts `ca` only (the system's CAs are left out on purpose)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        ca.configure_trust(context)
    return context


# -- pytest fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def smtp_ca() -> trustme.CA:
    """One test CA for every server of the session."""
    return trustme.CA()


@pytest.fixture
def smtp_server(smtp_ca: trustme.CA) -> Iterator[SmtpServer]:
    """STARTTLS (required) + AUTH LOGIN/PLAIN; log in as USER/PASSWORD; trust via `client_context()`."""
    with SmtpServer(security="starttls", ca=smtp_ca) as server:
        yield server


@pytest.fixture
def smtp_tls_server(smtp_ca: trustme.CA) -> Iterator[SmtpServer]:
    """Implicit TLS + AUTH LOGIN/PLAIN."""
    with SmtpServer(security="tls", ca=smtp_ca) as server:
        yield server


@pytest.fixture
def smtp_plain_server() -> Iterator[SmtpServer]:
    """No encryption, no login (settings with security "none" and no password)."""
    with SmtpServer(security="none", users={}) as server:
        yield server


# -- a server in its own process ------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m tests.delivery.smtp_servers [--security none|starttls|tls] [--ca-file PATH]``: runs a
    server in this process (so a benchmark or a kill test does not share the GIL with it). Prints one
    JSON line ``{"port": N, "user": …, "password": …, "ca_file": PATH or null}`` when it listens, serves
    until its standard input closes (or SIGTERM), then prints ``{"received": N, "message_ids":
    {Message-ID: times received}, "swallowed": N}`` and exits."""
    import argparse
    import json
    import signal
    import sys
    import threading

    parser = argparse.ArgumentParser(prog="smtp_servers")
    parser.add_argument("--security", choices=("none", "starttls", "tls"), default="none")
    parser.add_argument("--ca-file", help="where to write the test CA's certificate (PEM) for the client")
    args = parser.parse_args(argv)
    server = SmtpServer(security=args.security, users={} if args.security == "none" else None)
    if args.ca_file and server.ca is not None:
        server.ca.cert_pem.write_to_path(args.ca_file)
    print(json.dumps({"port": server.port, "user": USER if server.users else None, "password": server.password,
                      "ca_file": args.ca_file if server.ca is not None else None}), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    server.stop()
    print(json.dumps({"received": len(server.received), "message_ids": server.by_message_id(),
                      "swallowed": len(server.swallowed)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The plumbing of the local provider servers (see tests/delivery/provider_servers.py): a real HTTP/1.1
server on 127.0.0.1 in a thread, that records every request and answers through `answer()`, and the
scriptable `Behaviour` of a recipient."""
from __future__ import annotations

import sys

import json
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Behaviour:
    """What the server does for one recipient.

    kind: "ok" (accept; the message then walks `path`), "error" (answer `http_status` with the
    provider's `code` and `message`), "retry" (429 with `Retry-After: retry_after`), "server_error"
    (500), "slow" (answer after `delay` seconds), "drop" (close the connection without answering)."""

    kind: str = "ok"
    http_status: int = 400
    code: int | None = None
    message: str = ""
    retry_after: int = 1
    retry_after_as_date: bool = False   # Retry-After as an HTTP date (RFC 9110 10.2.3) instead of seconds
    delay: float = 2.0
    path: tuple[str, ...] = ()          # statuses after acceptance; () = the server's default path
    error_code: int | None = None       # Twilio: the Message resource's error_code once undelivered/failed


OK = Behaviour()


@dataclass
class Recorded:
    """One request as received: method, path, query and form (lists of values), headers, raw body, JSON."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None

    def one(self, name: str) -> str | None:
        """The first value of form field `name` (Twilio), or None."""
        values = self.form.get(name)
        return values[0] if values else None


class _Handler(BaseHTTPRequestHandler):
    # Headers and body go in two writes: with Nagle's algorithm on, the second waits for the client's
    # delayed ACK (40 ms on Linux) — a stall the real providers' servers do not have.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"        # keep-alive, as the providers speak it
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:      # noqa: A002 - stdlib's name
        pass                                                       # quiet tests

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        record = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        kind = self.headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in kind:
            record.form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        elif "json" in kind and body:
            try:
                record.json = json.loads(body)
            except ValueError:
                record.json = None
        with self.server.owner.lock:
            self.server.owner.requests.append(record)
        reply = self.server.owner.answer(record)
        if reply is None:                 # "drop": the request was read; no answer ever comes
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        status, payload, headers = reply
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:                  # the client gave up waiting (a "slow" answer): nothing to tell
            self.close_connection = True

    do_GET = do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False               # a "slow" answer still sleeping must not hold up shutdown
    owner: "ProviderServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-request (killed, timed out) is what some tests do on purpose.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


Reply = tuple[int, Any, dict[str, str]]


class ProviderServer:
    """A provider on 127.0.0.1:<free port>, started by `start()` (or `with`), stopped by `stop()`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.behaviours: dict[str, Behaviour] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        # A short poll interval: stop() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, recipient: str, behaviour: Behaviour) -> None:
        """Makes `recipient` (E.164, without any `whatsapp:` prefix) behave so from now on."""
        self.behaviours[recipient] = behaviour

    def behaviour(self, recipient: str) -> Behaviour:
        return self.behaviours.get(recipient, OK)

    def posts(self) -> list[Recorded]:
        """The message sends received (POSTs), in order."""
        with self.lock:
            return [r for r in self.requests if r.method == "POST"]

    def answer(self, record: Recorded) -> Reply | None:
        raise NotImplementedError

    @staticmethod
    def pause(behaviour: Behaviour) -> None:
        time.sleep(behaviour.delay)

    @staticmethod
    def retry_header(behaviour: Behaviour) -> dict[str, str]:
        if behaviour.retry_after_as_date:
            return {"Retry-After": formatdate(time.time() + behaviour.retry_after, usegmt=True)}
        return {"Retry-After": str(behaviour.retry_after)}

"""Real local servers the dispatcher's tests send to, each recording every message it accepted.

- `RecordingSmtp`: an aiosmtpd server on 127.0.0.1. Per recipient, a list of scripted answers to the
  message's DATA ("450 4.2.1 Mailbox busy", "550 5.1.1 No such user", "421 …", or "drop": close the
  connection after the message was received, without answering); once the list is used up, 250.
  `accepted` holds the Message-ID of each message it took.
- `RecordingHttp`: a stdlib ThreadingHTTPServer taking `POST /messages` (JSON {to, body}) with an
  `Idempotency-Key` header. Per recipient, scripted answers: (status, json body, headers), or "drop"
  (close after reading the request, without answering), or ("delay", seconds) (answer 201, late); then
  201 {"sid": "SM…"}. `accepted` holds the key of each message it took; `requests` every request
  that arrived.

Both bind 127.0.0.1 only, on a port the OS picks, and are stopped by `close()`.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _SmtpHandler:
    def __init__(self, owner: "RecordingSmtp") -> None:
        self.owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.content)
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        answer = self.owner.next_answer(recipient)
        if answer == "drop":
            self.owner.dropped.append(message["Message-ID"])
            server.transport.close()       # the message arrived, the answer never does
            return "250 OK"
        if answer.startswith("250"):
            with self.owner.lock:
                self.owner.accepted.append(message["Message-ID"])
        return answer


class RecordingSmtp:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.dropped: list[str] = []
        self.script: dict[str, list[str]] = defaultdict(list)
        self.port = free_port()
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def answer(self, recipient: str, *answers: str) -> None:
        """Scripts the next answers to messages for `recipient` (then 250)."""
        with self.lock:
            self.script[recipient].extend(answers)

    def next_answer(self, recipient: str) -> str:
        with self.lock:
            queue = self.script.get(recipient)
            return queue.pop(0) if queue else "250 2.0.0 OK"

    def close(self) -> None:
        self.controller.stop()


class RecordingHttp:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.script: dict[str, list[Any]] = defaultdict(list)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"       # keep-alive: one connection per worker, as providers allow
            disable_nagle_algorithm = True      # headers and body leave at once, not 40 ms apart (delayed ACK)

            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass                        # the sender was killed mid-request: nothing arrived

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if len(raw) < length:
                    return                      # the sender died mid-request: nothing arrived
                body = json.loads(raw)
                key = self.headers.get("Idempotency-Key", "")
                with owner.lock:
                    owner.requests.append({"key": key, **body})
                    queue = owner.script.get(body.get("to", ""))
                    answer = queue.pop(0) if queue else None
                if isinstance(answer, tuple) and answer[0] == "delay":
                    time.sleep(answer[1])       # a slow provider: the answer comes, late
                    answer = None
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload, headers = answer if answer else (201, None, {})
                if status < 300:
                    with owner.lock:
                        owner.accepted.append(key)
                        payload = payload or {"sid": f"SM{len(owner.accepted):032d}", "status": "queued"}
                data = json.dumps(payload or {}).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, recipient: str, *answers: Any) -> None:
        """Scripts the next answers to requests for `recipient`: (status, json, headers) or "drop"."""
        with self.lock:
            self.script[recipient].extend(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    """Both servers in a process of their own (the benchmark's): prints "SMTP_PORT HTTP_URL", serves
    until its standard input closes."""
    import sys

    smtp, http = RecordingSmtp(), RecordingHttp()
    print(smtp.port, http.url, flush=True)
    try:
        sys.stdin.read()
    finally:
        smtp.close()
        http.close()


if __name__ == "__main__":
    main()

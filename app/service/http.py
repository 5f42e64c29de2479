"""The service's HTTP listener: the receiver's app under Uvicorn when it is installed, else a small
GET /health of our own — on a socket the service binds itself, so `--listen 127.0.0.1:0` picks a free
port and a port in use is one clear error before anything starts.

Both run on a thread of their own; `stop()` stops accepting and lets requests in progress finish
(Uvicorn's graceful shutdown, at most `GRACE` seconds), so a sender never gets a 2xx for a request
that was not written.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8765"
GRACE = 10            # seconds requests in progress get to finish when the service stops


class ListenError(ValueError):
    """`--listen` cannot be used: not HOST:PORT, or the port is taken (the message says what to do)."""


def parse_listen(text: str) -> tuple[str, int]:
    """"127.0.0.1:8765", "[::1]:8765" or "localhost:0" (0: any free port) as (host, port).
    Raises ListenError naming the expected form."""
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ListenError(f"--listen {text!r} is not HOST:PORT such as {DEFAULT_LISTEN}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1, localhost): nothing outside can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port). Raises ListenError when the address is taken or not ours."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        why = "is already in use (is another `journeys serve` running?)" if exc.errno in (98, 48, 10048) \
            else f"cannot be listened on ({exc.strerror or exc})"
        raise ListenError(f"{host}:{port} {why}; choose another with --listen HOST:PORT") from None
    return sock


class Listener:
    """What the service listens with (see the module's docstring); `port` is the bound one."""

    def __init__(self, sock: socket.socket, app: Any | None, health: Callable[[], dict[str, Any]]) -> None:
        self.sock, self.app, self.health = sock, app, health
        self.host, self.port = sock.getsockname()[:2]
        self._thread: threading.Thread | None = None
        self._uvicorn: Any = None
        self._http: ThreadingHTTPServer | None = None

    @property
    def kind(self) -> str:
        return "receiver" if self.app is not None else "health"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self.app is not None:
            from .parts import receiver_config

            uvicorn = importlib.import_module("uvicorn")     # installed with the receiver (app/intake)

            # The receiver's own settings (slow clients cut off, connection limits); the service's
            # logging stays as it is (log_config=None) and the socket is ours (host/port unused).
            config = receiver_config(self.app, self.host, self.port, log_config=None,
                                     timeout_graceful_shutdown=GRACE)
            self._uvicorn = uvicorn.Server(config)
            # On a thread that is not the main one, Uvicorn installs no signal handlers: the service does.
            self._thread = threading.Thread(target=self._uvicorn.run, kwargs={"sockets": [self.sock]},
                                            name="receiver", daemon=True)
        else:
            self._http = _health_server(self.sock, self.health)
            self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.2},
                                            name="health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting; requests in progress finish (at most GRACE seconds)."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=GRACE + 5)
        self.sock.close()


def _health_server(sock: socket.socket, health: Callable[[], dict[str, Any]]) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        server_version = "JourneyStudio"
        timeout = 10                 # a client that sends nothing is cut off

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.split("?")[0] == "/health":
                self._answer(200, health())
            else:
                self._answer(404, {"error": f"no such endpoint {self.path.split('?')[0]!r}; "
                                            "this service only answers GET /health (the receiver is not installed)"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            log.debug("health: " + format, *args)

    server = ThreadingHTTPServer(sock.getsockname()[:2], Health, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    return server

"""Running the receiver with Uvicorn: `serve(db, host, port)` (the standalone `python -m app.intake`,
the tests and the bench) and `uvicorn_config(app, host, port)` (for `journeys serve`).

Slow clients are cut off: a connection must finish sending a request's headers within
`HEADER_SECONDS` of its first byte (or of connecting), else it is closed (slowloris); a body must
arrive within app/intake/http.py's BODY_SECONDS (else 408); an idle keep-alive connection is closed
after `KEEP_ALIVE_SECONDS`; at most `MAX_CONNECTIONS` are served at once (more get 503). Headers are
limited by the HTTP parser (h11/httptools) to a few tens of kilobytes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

log = logging.getLogger("app.intake")

HEADER_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 15
MAX_CONNECTIONS = 1_000


def _guarded(base: type) -> type:
    """`base` (uvicorn's HTTP protocol) closing a connection whose request headers do not arrive in time."""

    class Guarded(base):
        header_seconds = HEADER_SECONDS
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.warning("closed a connection from %s: its request headers did not arrive within %gs",
                            self.client[0] if self.client else "?", self.header_seconds)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()           # the first bytes of the next request on a kept-alive connection
            super().data_received(data)

        def handle_events(self) -> None:      # h11: headers parsed as part of its events
            super().handle_events()
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()

        def on_headers_complete(self) -> None:     # httptools
            self._disarm()
            super().on_headers_complete()

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def protocol_class() -> type:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return _guarded(HttpToolsProtocol)
    except ImportError:          # httptools not installed: the pure-Python parser
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return _guarded(H11Protocol)


def uvicorn_config(app: Any, host: str, port: int, **more: Any) -> uvicorn.Config:
    """Uvicorn's settings for the receiver (see the module's docstring); `more` overrides them."""
    settings: dict[str, Any] = dict(host=host, port=port, http=protocol_class(), lifespan="on",
                                    timeout_keep_alive=KEEP_ALIVE_SECONDS, limit_concurrency=MAX_CONNECTIONS,
                                    access_log=False, log_level="warning", server_header=False, date_header=False,
                                    # X-Forwarded-* are not trusted for the client's address (tunnels differ)
                                    proxy_headers=False)
    settings.update(more)
    return uvicorn.Config(app, **settings)

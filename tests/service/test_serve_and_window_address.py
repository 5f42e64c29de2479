"""The window listens at the receiver's address while it runs the engine (app/ui/engine_host.py). A service
started meanwhile (at login, or from Settings) finds the address taken by the window: it waits instead of
failing, and listens there once the window gives the engine lease back. An address taken by anything
else is still refused at once."""
from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest

from app.service.http import ListenError
from app.service.serve import ServeOptions, Service
from app.store.db import open_database
from app.store.lease import Lease, current_holder


def _until(check, what: str) -> None:
    for _ in range(1200):
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(what)


@pytest.fixture
def db(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    yield engine
    engine.dispose()


def _taken() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock, f"127.0.0.1:{sock.getsockname()[1]}"


def test_a_service_waits_for_the_windows_address_and_listens_once_it_takes_over(db):
    window_socket, address = _taken()                      # the window runs the engine and listens here
    window = Lease(db, "app", ttl=30)
    assert window.acquire()
    said: list[str] = []
    service = Service(db, ServeOptions(listen=address, heartbeat_seconds=0.1, lease_seconds=1.0), say=said.append)
    try:
        service.start()                                   # no ListenError: the window holds the address
        assert service.listener is None and any("window listens there" in s for s in said)
        window_socket.close()                             # the window closes: stops listening, gives the lease back
        window.release()
        _until(lambda: service.listener is not None, "the service did not listen after taking over")
        assert current_holder(db).kind == "service" and service.keeper.running
        with urllib.request.urlopen(f"{service.listener.url}/health", timeout=10) as answer:
            assert answer.status in (200, 401)            # the receiver (token) or the bare health check answers
    except urllib.error.HTTPError as exc:                 # 401 without the token: it listens, that is the point
        assert exc.code == 401
    finally:
        service.stop()
        window_socket.close()


def test_an_address_taken_by_something_else_is_refused_at_once(db):
    other, address = _taken()
    try:
        with pytest.raises(ListenError, match="is already in use"):
            Service(db, ServeOptions(listen=address)).start()
        service = Lease(db, "service", ttl=30)            # another service runs the engine: still refused
        assert service.acquire()
        with pytest.raises(ListenError, match="is already in use"):
            Service(db, ServeOptions(listen=address)).start()
    finally:
        other.close()

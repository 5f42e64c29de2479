"""A real receiver for each test: uvicorn on 127.0.0.1 (a free port) in a thread, over a SQLite file
(and PostgreSQL when JOURNEYS_TEST_PG_URL is set), with the intake job applying what it stores."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.engine.engine import JourneyEngine
from app.intake.apply import apply_pending
from app.intake.config import Config, receiver_token
from app.intake.runner import uvicorn_config
from app.intake.server import create_app
from app.store.db import open_database
from app.store.tables import events, intake_requests

SECRETS = {"shopify_webhook_secret": "shpss_test_secret", "woocommerce_webhook_secret": "wc-secret",
           "meta_app_secret": "meta-app-secret", "twilio_auth_token": "12345"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    db: Engine
    url: str
    token: str
    engine: JourneyEngine
    server: uvicorn.Server

    def client(self, **more: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **more)

    def apply(self) -> Any:
        """Runs the intake job now (the tests apply explicitly, so what they read is settled)."""
        return apply_pending(self.engine)

    def inbox(self, status: str | None = None) -> int:
        query = select(func.count()).select_from(intake_requests)
        if status:
            query = query.where(intake_requests.c.status == status)
        with self.db.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def events(self, kind: str | None = None) -> list[Any]:
        query = select(events).order_by(events.c.id)
        if kind:
            query = query.where(events.c.type == kind)
        with self.db.connect() as conn:
            return list(conn.execute(query).all())


def start(db: Engine, **settings: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    config = Config(db, secret_reader=SECRETS.get)
    app = create_app(db, config=config)
    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, **settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "the receiver did not start"
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def receiver(any_url: str) -> Iterator[Receiver]:
    db = open_database(any_url)
    token = receiver_token(db)
    server, thread, url = start(db)
    yield Receiver(db, url, token, JourneyEngine(db), server)
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()

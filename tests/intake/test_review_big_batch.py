"""Review (issue 13): a big Segment batch (4 MB of small calls: tens of thousands) is read and checked off
the event loop, so while it is being checked every other request is still answered (a write key is often
public: one sender must not stall the Shopify webhooks, which give up after a few seconds)."""
from __future__ import annotations

import base64
import threading
from typing import Any

import pytest

from app.intake import server

from .conftest import Receiver


def test_other_requests_are_answered_while_a_big_batch_is_being_checked(receiver: Receiver,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inside, release = threading.Event(), threading.Event()
    real = server.event_from_data

    def held(call: Any, now: Any) -> Any:       # the first call's check waits until /health was answered
        if not inside.is_set():
            inside.set()
            release.wait(20)
        return real(call, now)

    monkeypatch.setattr(server, "event_from_data", held)
    calls = [{"type": "track", "event": "Viewed", "userId": f"u{i}", "messageId": f"big-{i}"} for i in range(3000)]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{receiver.token}:".encode()).decode()}
    answers: list[int] = []

    def send() -> None:
        with receiver.client() as http:
            answers.append(http.post("/v1/batch", json={"batch": calls}, headers=auth).status_code)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert inside.wait(20), "the batch never reached its checks"
        with receiver.client() as http:
            health = http.get("/health", headers={"Authorization": f"Bearer {receiver.token}"}, timeout=10)
        assert health.status_code == 200
    finally:
        release.set()
        sender.join(30)
    assert answers == [200] and receiver.inbox() == 3000

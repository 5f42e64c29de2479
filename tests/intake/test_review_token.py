"""Review (issue 13): a token rotated in the app (another process) works at once, and from then on the old
one is refused."""
from __future__ import annotations

import base64

from app.intake.config import rotate_token

from .conftest import Receiver

TRACK = {"type": "track", "event": "Viewed", "userId": "ann@example.com", "messageId": "m-rot-1",
         "timestamp": "2026-03-01T10:00:00Z"}


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def test_a_token_rotated_elsewhere_works_at_once_and_then_the_old_one_is_refused(receiver: Receiver) -> None:
    with receiver.client() as http:
        assert http.post("/v1/track", json=TRACK, headers=basic(receiver.token)).status_code == 200
        new = rotate_token(receiver.db)            # as the app's window or `journeys receiver token --rotate` does
        fresh = http.post("/v1/track", json={**TRACK, "messageId": "m-rot-2"}, headers=basic(new))
        old = http.post("/v1/track", json={**TRACK, "messageId": "m-rot-3"}, headers=basic(receiver.token))
        bearer_old = http.get("/health", headers={"Authorization": f"Bearer {receiver.token}"})
        bearer_new = http.get("/health", headers={"Authorization": f"Bearer {new}"})
    assert fresh.status_code == 200, fresh.text
    assert old.status_code == 401 and bearer_old.status_code == 401
    assert bearer_new.status_code == 200
    assert receiver.inbox() == 2


def test_a_second_rotation_is_taken_as_well(receiver: Receiver) -> None:
    with receiver.client() as http:
        first = rotate_token(receiver.db)
        assert http.post("/v1/track", json=TRACK, headers=basic(first)).status_code == 200
        second = rotate_token(receiver.db)
        assert http.post("/v1/track", json={**TRACK, "messageId": "m2"}, headers=basic(second)).status_code == 200
        assert http.post("/v1/track", json={**TRACK, "messageId": "m3"}, headers=basic(first)).status_code == 401

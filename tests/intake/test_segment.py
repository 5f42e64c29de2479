"""Segment-compatible endpoints: writeKey auth, the calls stored then applied, messageId idempotency."""
from __future__ import annotations

import base64

from sqlalchemy import select

from app.store.tables import contacts

from .conftest import Receiver


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


TRACK = {"type": "track", "userId": "u1", "event": "Order Completed", "messageId": "ajs-1",
         "timestamp": "2026-03-01T10:00:00.000Z",
         "properties": {"order_id": "50314b8e", "total": 27.5, "currency": "USD",
                        "products": [{"product_id": "507f1f77", "name": "Monopoly", "price": 19, "quantity": 1}]}}


def test_a_track_call_with_the_write_key_is_stored_then_applied_as_our_event(receiver: Receiver) -> None:
    with receiver.client() as http:
        answer = http.post("/v1/track", json=TRACK, headers=basic(receiver.token))
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert receiver.inbox("new") == 1          # stored before the answer
    receiver.apply()
    [event] = receiver.events()
    assert (event.contact_id, event.type) == ("u1", "order_placed")
    assert event.properties["items"][0]["name"] == "Monopoly" and event.properties["total"] == 27.5
    assert receiver.inbox("done") == 1


def test_the_same_message_id_twice_is_one_event(receiver: Receiver) -> None:
    with receiver.client() as http:
        for _ in range(3):
            assert http.post("/v1/track", json=TRACK, headers=basic(receiver.token)).status_code == 200
        batch = {"batch": [TRACK, {**TRACK, "messageId": "ajs-2", "event": "Coupon Applied"}]}
        assert http.post("/v1/batch", json=batch, headers=basic(receiver.token)).status_code == 200
    receiver.apply()
    assert receiver.inbox() == 2
    assert [e.type for e in receiver.events()] == ["order_placed", "coupon_applied"]


def test_identify_sets_the_contact_and_a_bearer_token_works_too(receiver: Receiver) -> None:
    call = {"userId": "u7", "traits": {"email": "Ann@Example.com", "firstName": "Ann"},
            "timestamp": "2026-03-01T10:00:00Z", "messageId": "id-7"}
    with receiver.client() as http:
        answer = http.post("/v1/identify", json=call, headers={"Authorization": f"Bearer {receiver.token}"})
    assert answer.status_code == 200
    receiver.apply()
    with receiver.db.connect() as conn:
        row = conn.execute(select(contacts.c.email, contacts.c.first_name).where(contacts.c.id == "u7")).one()
    assert row.first_name == "Ann" and row.email.lower() == "ann@example.com"


def test_a_wrong_or_missing_write_key_is_401_and_stores_nothing(receiver: Receiver, caplog) -> None:
    with receiver.client() as http:
        wrong = http.post("/v1/track", json=TRACK, headers=basic("not-the-token"))
        missing = http.post("/v1/batch", json={"batch": [TRACK]})
        query = http.post(f"/v1/track?token={receiver.token}", json=TRACK)
    assert wrong.status_code == missing.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert "token" in wrong.json()["error"]
    assert query.status_code == 200
    assert receiver.inbox() == 1
    assert any("refused POST /v1/track" in r.getMessage() for r in caplog.records)


def test_page_and_screen_calls_are_answered_but_not_stored(receiver: Receiver) -> None:
    page = {"type": "page", "userId": "u1", "name": "Home", "timestamp": "2026-03-01T10:00:00Z"}
    with receiver.client() as http:
        answer = http.post("/v1/batch", json={"batch": [page, TRACK]}, headers=basic(receiver.token))
    assert answer.status_code == 200 and answer.json()["ignored"] == 1
    assert receiver.inbox() == 1


def test_a_call_without_any_time_happened_when_it_came_as_segment_reads_it(receiver: Receiver) -> None:
    untimed = {k: v for k, v in TRACK.items() if k != "timestamp"}
    with receiver.client() as http:
        assert http.post("/v1/track", json=untimed, headers=basic(receiver.token)).status_code == 200
    receiver.apply()
    [event] = receiver.events()
    assert event.occurred_at is not None


def test_a_rotated_token_refuses_the_old_one(receiver: Receiver) -> None:
    from app.intake.config import rotate_token

    new = rotate_token(receiver.db)
    receiver.server.config.app.state.config.forget()      # as after Config.TTL seconds
    with receiver.client() as http:
        old = http.post("/v1/track", json=TRACK, headers=basic(receiver.token))
        fresh = http.post("/v1/track", json=TRACK, headers=basic(new))
    assert old.status_code == 401 and fresh.status_code == 200

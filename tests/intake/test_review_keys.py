"""Review (issue 13): a Segment write key is often public (it sits in a shop's pages), so a Segment call must
not take the idempotency key of an event the app makes itself: `messageId` "link:unsubscribe:run:7:…" would
be stored as that key, and the real one-click unsubscribe of run 7 would then be skipped as a repeat."""
from __future__ import annotations

import base64

import pytest

from .conftest import Receiver


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


@pytest.mark.parametrize("message_id", ["link:unsubscribe:run:7:send-1", " link:open:run:1:n", "run:3:send-1",
                                        "shopify:checkout:981820079255243537", "twilio:SM123:delivered",
                                        "imap:<abc@mail>", "meta:wamid.X:read", "woocommerce:x"])
def test_a_segment_message_id_in_the_apps_own_key_space_is_refused(receiver: Receiver, message_id: str) -> None:
    call = {"type": "track", "event": "Viewed", "userId": "eve@example.com", "messageId": message_id}
    with receiver.client() as http:
        single = http.post("/v1/track", json=call, headers=basic(receiver.token))
        batch = http.post("/v1/batch", json={"batch": [{**call, "messageId": "fine-1"}, call]},
                          headers=basic(receiver.token))
    assert single.status_code == 400 and single.json()["pointer"] == "/messageId"
    assert batch.status_code == 400 and batch.json()["pointer"] == "/batch/1/messageId"
    assert receiver.inbox() == 0


def test_ordinary_message_ids_are_taken(receiver: Receiver) -> None:
    with receiver.client() as http:
        for message_id in ("ajs-next-1701-abc", "0b9e-4c1a", "Link-click-1", 12345):
            call = {"type": "track", "event": "Viewed", "userId": "ann@example.com", "messageId": message_id}
            assert http.post("/v1/track", json=call, headers=basic(receiver.token)).status_code == 200
    assert receiver.inbox() == 4

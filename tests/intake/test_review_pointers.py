"""Review (issue 13): a Segment call with a field of the wrong type is refused with 400 naming that field by
its JSON pointer (README: "`pointer` is the field's JSON pointer"), in a single call and inside a batch."""
from __future__ import annotations

import base64
from typing import Any

import pytest

from .conftest import Receiver

GOOD = {"type": "track", "event": "Viewed", "userId": "ann@example.com", "timestamp": "2026-03-01T10:00:00Z"}


@pytest.mark.parametrize(("change", "field"), [
    ({"userId": {"a": 1}}, "userId"), ({"event": 5}, "event"), ({"properties": 5}, "properties"),
    ({"timestamp": "yesterday"}, "timestamp"), ({"timestamp": 5}, "timestamp")])
def test_a_wrong_type_is_refused_at_its_field(receiver: Receiver, change: dict[str, Any], field: str) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"{receiver.token}:".encode()).decode()}
    with receiver.client() as http:
        single = http.post("/v1/track", json={**GOOD, **change}, headers=auth)
        batch = http.post("/v1/batch", json={"batch": [GOOD, GOOD, {**GOOD, **change}]}, headers=auth)
    assert single.status_code == 400 and single.json()["pointer"] == f"/{field}", single.text
    assert batch.status_code == 400 and batch.json()["pointer"] == f"/batch/2/{field}", batch.text
    assert receiver.inbox() == 0

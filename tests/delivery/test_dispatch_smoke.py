from __future__ import annotations

from app.engine.clock import VirtualClock

from .dispatch_helpers import START, db, dispatcher, http, queue, rows, smtp  # noqa: F401 - fixtures


def test_smoke(db, smtp, http):
    clock = VirtualClock(START)
    queue(db, ["a@x.test", "b@x.test"])
    queue(db, ["+15550001"], channel="sms")
    done = dispatcher(db, clock, smtp, http).dispatch()
    print(done)
    print(rows(db))
    assert done.sent == 3
    assert len(smtp.accepted) == 2 and len(http.accepted) == 1

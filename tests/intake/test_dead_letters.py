"""The dead-letter list: what was accepted but could not be applied is kept with its reason, listed by
the CLI, and applied by "retry" once the cause is fixed; nothing is dropped or applied twice."""
from __future__ import annotations

import json

import pytest

from app.cli import main
from app.engine.ingest import EventIn
from app.intake.dead_letters import dead_letters, retry

from .conftest import SECRETS, Receiver
from .fixtures.shopify import CHECKOUT, fresh
from .shop import post_shopify
from .test_callbacks import NOW, _message, _status
from app.intake.signatures import twilio_signature


def _url(receiver: Receiver) -> str:
    return receiver.db.url.render_as_string(hide_password=False)


def test_a_status_that_came_before_its_message_is_listed_then_applied_by_retry(
        receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    form = {"MessageSid": "SMearly", "MessageStatus": "delivered"}
    with receiver.client() as http:
        http.post("/hooks/twilio/status", data=form, headers={"X-Twilio-Signature": twilio_signature(
            SECRETS["twilio_auth_token"], f"{receiver.url}/hooks/twilio/status", sorted(form.items()))})
        post_shopify(http, "checkouts/create", fresh(CHECKOUT, email=None, customer=None, billing_address=None))
    receiver.apply()
    total, found = dead_letters(receiver.db)
    assert total == 2 and {d.kind for d in found} == {"receiver"}
    assert any("SMearly" in d.reason for d in found) and any("no usable email" in d.reason for d in found)
    assert main(["receiver", "dead-letters", "--db", _url(receiver)]) == 1
    listed = capsys.readouterr().out
    assert "2 dead letter(s)" in listed and "twilio status SMearly" in listed and "--retry" in listed
    mid = _message(receiver, "sms", "SMearly")          # the cause fixed: the message is known now
    assert main(["receiver", "dead-letters", "--db", _url(receiver), "--retry"]) == 1
    said = capsys.readouterr().out
    assert "2 dead letter(s): 1 applied, 1 set aside again" in said.replace("Retried ", "")
    assert _status(receiver, mid)[0] == "delivered"
    assert main(["receiver", "dead-letters", "--db", _url(receiver), "--retry"]) == 1     # still no email: kept
    assert len(receiver.events("message_delivered")) == 1                                  # never twice


def test_engine_dead_events_are_in_the_same_list(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.engine import ingest

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the journey's condition could not be read")

    monkeypatch.setattr(ingest, "_record_order", broken)
    receiver.engine.ingest([EventIn("c9", "order_placed", NOW, {"order_id": "A1", "total": 5.0})])
    total, found = dead_letters(receiver.db)
    assert total == 1 and found[0].kind == "engine" and "could not be read" in found[0].reason
    monkeypatch.undo()
    done = retry(receiver.engine)
    assert done.still_dead == 0 and dead_letters(receiver.db)[0] == 0
    assert len(receiver.events("order_placed")) == 1


def test_receiver_token_rotate_and_status_from_the_cli(receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["receiver", "token", "--db", _url(receiver)]) == 0
    assert capsys.readouterr().out.strip() == receiver.token
    assert main(["receiver", "token", "--rotate", "--db", _url(receiver)]) == 0
    new = capsys.readouterr().out.strip()
    assert new != receiver.token and len(new) >= 40
    assert main(["receiver", "set", "--public-url", "https://hooks.example.com/", "--db", _url(receiver)]) == 0
    assert main(["receiver", "status", "--db", _url(receiver)]) == 0
    out = capsys.readouterr().out
    assert "Public URL: https://hooks.example.com" in out and "Inbox: 0 new, 0 done, 0 dead" in out


def test_applied_rows_are_pruned_after_a_week_new_and_dead_ones_never(receiver: Receiver) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from app.intake.apply import intake_job, prune_done
    from app.intake.inbox import InboxRow, write_rows
    from app.store.tables import intake_requests

    old = NOW - timedelta(days=8)
    write_rows(receiver.db, [InboxRow("segment", "track", "segment:old", json.dumps(
        {"type": "track", "userId": "u", "event": "Product Viewed", "timestamp": old.isoformat()})),
        InboxRow("twilio", "status", "twilio:SMx:delivered", json.dumps({"MessageSid": "SMx", "MessageStatus": "delivered"}))],
        old)
    intake_job(receiver.db, receiver.engine)()                    # applies both (one dead), prunes the applied one
    with receiver.db.connect() as conn:
        left = dict(conn.execute(select(intake_requests.c.idempotency_key, intake_requests.c.status)).all())
    assert left == {"twilio:SMx:delivered": "dead"}
    assert prune_done(receiver.db, NOW + timedelta(days=30)) == 0  # a dead letter waits for its retry
    assert len(receiver.events("product_viewed")) == 1            # the event itself stays

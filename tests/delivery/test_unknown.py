"""Messages with unknown fate: listed, never resent by themselves, resent once when asked (and only those)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.delivery.unknown import count_unknown, resend, unknown_messages
from app.engine.clock import VirtualClock
from app.engine.outbox import RecordingChannel as EngineRecorder, hand_off
from app.store.tables import messages
from tests.engine.helpers import run_cli

from .shop import NOW, add_message, make_shop


def _row(db, mid):
    with db.connect() as conn:
        return conn.execute(select(messages).where(messages.c.id == mid)).one()._mapping


def test_listed_newest_first_with_journey_and_reason(tmp_path):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    old = add_message(shop.db, "a", "unknown", journey_id=shop.journey_id, created_at=NOW - timedelta(hours=2))
    new = add_message(shop.db, "b", "unknown", channel="sms", recipient="+15550001", subject=None,
                      body_text="Your   cart\nis waiting")
    add_message(shop.db, "c", "sent")
    add_message(shop.db, "d", "failed")
    found = unknown_messages(shop.db, 10)
    assert [m.id for m in found] == [new, old] and count_unknown(shop.db) == 2
    assert found[0].subject == "Your cart is waiting" and found[1].journey == "Cart rescue"
    assert "handed over" in found[1].error
    assert [m.id for m in unknown_messages(shop.db, 1)] == [new]


def test_resend_queues_only_unknown_messages_once(tmp_path):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    unknown = add_message(shop.db, "a", "unknown", claim="lease-1", lease_until=NOW)
    others = {status: add_message(shop.db, status, status) for status in ("sent", "failed", "queued", "cancelled",
                                                                         "sending")}
    at = NOW + timedelta(days=1)
    assert resend(shop.db, [unknown, *others.values(), 999_999], at) == 1
    row = _row(shop.db, unknown)
    assert row["status"] == "queued" and row["claim"] is None and row["lease_until"] is None
    assert row["scheduled_at"].replace(tzinfo=None) == at.replace(tzinfo=None)
    for status, mid in others.items():
        assert _row(shop.db, mid)["status"] == status
    assert resend(shop.db, [unknown], at) == 0        # already queued: not twice
    assert resend(shop.db, [], at) == 0


def test_an_unknown_message_is_never_sent_again_by_itself(tmp_path):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    mid = add_message(shop.db, "a", "unknown")
    channel = EngineRecorder()
    hand_off(shop.db, channel, VirtualClock(NOW + timedelta(days=30)))
    assert channel.sent == [] and _row(shop.db, mid)["status"] == "unknown"


def test_cli_lists_and_resends(tmp_path, capsys):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    code, out, _ = run_cli(capsys, "outbox", "unknown", "--db", shop.url)
    assert code == 0 and "No messages with an unknown fate" in out
    mid = add_message(shop.db, "a", "unknown", journey_id=shop.journey_id)
    sent = add_message(shop.db, "b", "sent")
    code, out, _ = run_cli(capsys, "outbox", "unknown", "--db", shop.url)
    assert code == 0 and str(mid) in out and "ann@example.com" in out and "may arrive twice" in out
    code, out, err = run_cli(capsys, "outbox", "resend", str(mid), str(sent), "--db", shop.url)
    assert code == 1 and "Queued 1" in out and "1 id(s) were not messages with an unknown fate" in out
    assert _row(shop.db, sent)["status"] == "sent" and _row(shop.db, mid)["status"] == "queued"
    code, _, err = run_cli(capsys, "outbox", "resend", "seven", "--db", shop.url)
    assert code == 2 and "not a message id" in err and "Traceback" not in err


@pytest.mark.parametrize("args", [("resend", "99999999999999999999999"), ("resend", "0"), ("resend", "٣"),
                                  ("unknown", "--limit", "0"), ("unknown", "--limit", "-1"),
                                  ("unknown", "--limit", "99999999999999999999")])
def test_cli_input_that_names_no_message_or_count_exits_2(tmp_path, capsys, args):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    add_message(shop.db, "a", "unknown", journey_id=shop.journey_id)
    code, out, err = run_cli(capsys, "outbox", *args, "--db", shop.url)
    assert code == 2 and ("not a message id" in err or "not a count" in err), err
    assert "internal error" not in err and "No messages" not in out


def test_resend_ignores_ids_no_database_can_hold(tmp_path):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    mid = add_message(shop.db, "a", "unknown", journey_id=shop.journey_id)
    assert resend(shop.db, [mid, 2 ** 70, -4], NOW) == 1


def test_a_whatsapp_template_message_is_named_by_its_template(tmp_path, capsys):
    shop = make_shop(str(tmp_path / "s.sqlite3"))
    add_message(shop.db, "w", "unknown", channel="whatsapp", recipient="+4915123456789", subject=None, body_text=None,
                whatsapp_template={"name": "order_update", "language": "en_US", "variables": ["Ann", "C-1"]})
    [found] = unknown_messages(shop.db)
    assert found.subject == "WhatsApp template order_update (Ann, C-1)"
    code, out, _ = run_cli(capsys, "outbox", "unknown", "--db", shop.url)
    assert code == 0 and "WhatsApp template order_update (Ann, C-1)" in out

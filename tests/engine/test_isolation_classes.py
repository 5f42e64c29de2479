"""Issue 9 §3, the class: whatever raises — a step handler, a template, judging a trigger, an exit
condition or a goal, a time-based scan, the outbox hand-off, one event's data — fails only what it
belongs to. Each case runs beside the healthy cart journey, which must deliver exactly what it
delivers alone, at the same times; on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from types import SimpleNamespace
from datetime import timedelta
from typing import Any

from app.engine import entry, ingest
from app.engine.ingest import EventIn
from app.engine.outbox import RecordingChannel
from app.engine.scheduler import LiveEngine
from app.engine.stats import journey_stats

from .helpers import CONTACTS, World, send_node, simple_journey, t
from .test_isolation import CART, alone, log_file, poison, shop_day, two_waits  # noqa: F401 - fixtures

__all__ = ["alone", "log_file"]


def _poisoned_only(journey_id: str, function: Any) -> Any:
    """`function`, raising instead when it is asked about `journey_id` (a bug in one journey, simulated)."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if any(getattr(a, "id", None) == journey_id for a in args):
            raise RuntimeError("simulated bug in judging")
        return function(*args, **kwargs)
    return wrapper


def _trigger_errors(world: World, journey_id: str, journey) -> int:
    trigger = journey.trigger()
    return journey_stats(world.db, journey_id).nodes[trigger.id].errors


def test_a_trigger_that_raises_while_judging_events(world, alone, monkeypatch, log_file):
    journey, _, _ = two_waits()
    poisoned = world.install(journey)
    monkeypatch.setattr(entry, "in_audience", _poisoned_only(poisoned, entry.in_audience))

    assert shop_day(world) == alone
    assert not [r for r in world.runs() if r["journey_id"] == poisoned]       # nobody entered it
    assert _trigger_errors(world, poisoned, journey) == 3                      # one per cart, on the trigger
    assert "simulated bug in judging" in log_file.read_text(encoding="utf-8")


def test_an_exit_condition_that_raises(world, monkeypatch, log_file):
    from app.examples import load_example

    journey, _, _ = two_waits()
    journey.settings["exit_conditions"] = [{"event": "page_viewed", "conditions": []}]
    poisoned = world.install(journey)
    cart = world.install(load_example("cart_abandonment"))
    original = ingest._matches

    def matches(rule, event, contact):
        if rule.get("event") == "page_viewed":
            raise ValueError("bad exit rule")
        return original(rule, event, contact)

    monkeypatch.setattr(ingest, "_matches", matches)
    world.contacts(CONTACTS)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(c, "cart_abandoned", t("2026-03-02T10:00:00Z"), CART) for c in ("ann", "cho")])
    world.clock.set(t("2026-03-02T10:10:00Z"))
    done = world.engine.ingest([EventIn(c, "page_viewed", t("2026-03-02T10:10:00Z"), {"path": "/"})
                                for c in ("ann", "cho")])
    world.advance_to("2026-03-02T11:30:00Z")

    assert done.stored == 2 and done.dead == []
    assert {(r["status"], r["exit_reason"]) for r in world.runs() if r["journey_id"] == poisoned} == {
        ("exited", "error")}
    assert {m["contact_id"] for m in world.sent() if m["journey_id"] == cart} == {"ann", "cho"}
    assert journey_stats(world.db, poisoned).exited == {"error": 2}
    assert "bad exit rule" in log_file.read_text(encoding="utf-8")


def test_a_goal_that_raises(world, alone, monkeypatch):
    journey, _, _ = two_waits()
    poisoned = world.install(journey)
    monkeypatch.setattr(ingest, "_convert", _poisoned_only(poisoned, ingest._convert))

    assert shop_day(world) == alone
    # Judged before the contact entered (each shopper's cart is their first event): no run to end,
    # so the error is counted on the trigger, and the poisoned journey itself still runs.
    assert _trigger_errors(world, poisoned, journey) == 3
    assert {r["status"] for r in world.runs() if r["journey_id"] == poisoned} == {"completed"}


def test_a_template_that_raises_while_compiling(world, alone, log_file):
    journey, _, email = two_waits()
    poisoned = world.install(journey)
    deep = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"        # Jinja's parser recurses: RecursionError
    poison(world, poisoned, email, subject=deep)

    assert shop_day(world) == alone
    runs = [r for r in world.runs() if r["journey_id"] == poisoned]
    # bob opted out of email: his run skips the step without compiling it.
    assert {r["contact_id"]: (r["status"], r["exit_reason"], r["node_id"]) for r in runs} == {
        "ann": ("exited", "error", email), "bob": ("completed", None, email), "cho": ("exited", "error", email)}
    assert journey_stats(world.db, poisoned).nodes[email].errors == 2
    assert not [m for m in world.messages() if m["journey_id"] == poisoned]


def test_a_no_order_scan_that_raises(world, alone, log_file):
    journey = simple_journey("Win back")
    trigger = journey.trigger()
    trigger.config.update(mode="no_order", days=30)
    journey.connect(trigger.id, send_node(journey, subject="We miss you").id)
    poisoned = world.install(journey)
    poison(world, poisoned, trigger.id, days=10 ** 12)              # timedelta(days=10**12) overflows

    assert shop_day(world) == alone
    assert _trigger_errors(world, poisoned, journey) == 1    # counted once, though it failed at every scan
    assert "OverflowError" in log_file.read_text(encoding="utf-8")


def test_an_anniversary_entry_that_raises_skips_that_contact_only(world, monkeypatch):
    journey = simple_journey("Birthday")
    trigger = journey.trigger()
    trigger.config.update(mode="anniversary", date_attribute="birthday")
    journey.connect(trigger.id, send_node(journey, subject="Happy birthday").id)
    world.contacts("id,email,first_name,timezone,birthday\n"
                   "ann,ann@example.com,Ann,UTC,1990-03-03\nbob,bob@example.com,Bob,UTC,1985-03-03\n"
                   "cho,cho@example.com,Cho,UTC,1970-03-03\n")
    birthday = world.install(journey)
    original = entry.in_audience
    monkeypatch.setattr(entry, "in_audience", lambda j, c: (_ for _ in ()).throw(
        LookupError("bad birthday")) if c.id == "bob" else original(j, c))

    world.advance_to("2026-03-02T12:00:00Z")        # first scan: sets the cursor
    world.advance_to("2026-03-03T12:00:00Z")

    assert sorted(m["contact_id"] for m in world.sent()) == ["ann", "cho"]
    assert journey_stats(world.db, birthday).nodes[trigger.id].errors == 1


class _Flaky(RecordingChannel):
    def send(self, message: dict[str, Any]) -> str | None:
        if message["contact_id"] == "cho":
            raise ConnectionResetError("peer reset\nsecond line")
        return super().send(message)


def test_a_channel_that_raises_fails_that_message_only(world, log_file):
    world.engine.channel = world.channel = _Flaky()
    cart = world.install(__import__("app.examples", fromlist=["load_example"]).load_example("cart_abandonment"))
    world.contacts(CONTACTS)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(c, "cart_abandoned", t("2026-03-02T10:00:00Z"), CART) for c in ("ann", "cho")])
    world.advance_to("2026-03-02T11:30:00Z")

    by_contact = {m["contact_id"]: m for m in world.messages() if m["journey_id"] == cart}
    assert by_contact["ann"]["status"] == "sent"
    assert by_contact["cho"]["status"] == "failed"
    assert by_contact["cho"]["error"] == "the channel failed: ConnectionResetError: peer reset"
    world.engine.hand_off()                                     # never handed over again
    assert [m["contact_id"] for m in world.channel.sent] == ["ann"]
    assert "ConnectionResetError" in log_file.read_text(encoding="utf-8")


def test_an_event_the_database_refuses_is_dead_lettered_on_both_databases(world):
    """A NUL character: SQLite stores it, PostgreSQL refuses it; either way the other events are
    applied, and on PostgreSQL the refused one is dead-lettered (or cleaned at the boundary)."""
    world.contacts(CONTACTS)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    found = [EventIn(c, "page_viewed", t("2026-03-02T10:00:00Z") + timedelta(seconds=i), {"path": f"/p{i}"})
             for i, c in enumerate(("ann", "bob", "cho"))]
    found[1].properties["path"] = "/a\x00b"

    done = world.engine.ingest(found)

    assert done.stored + len(done.dead) == 3 and done.stored >= 2
    if done.dead:
        assert done.dead[0][0].contact == "bob"


def test_the_live_engine_keeps_ticking_beside_a_poisoned_journey(world, alone):
    """APScheduler's jobs go on: the healthy cart reminder goes out while the poisoned runs fail."""
    journey, bad_wait, _ = two_waits()
    poisoned = world.install(journey)
    poison(world, poisoned, bad_wait, delay={"amount": 10 ** 9, "unit": "days"})
    from app.examples import load_example

    cart = world.install(load_example("cart_abandonment"))
    world.contacts(CONTACTS)
    world.clock.set(t("2026-03-02T10:00:00Z"))
    world.engine.ingest([EventIn(c, "cart_abandoned", t("2026-03-02T10:00:00Z"), CART) for c in ("ann", "cho")])
    world.clock.set(t("2026-03-02T12:00:00Z"))
    errors: list[str] = []
    went = threading.Event()
    # The outbox job hands messages to the world's recording channel (in the app: the dispatcher).
    outbox = SimpleNamespace(dispatch=world.engine.hand_off, stop=lambda: None)
    live = LiveEngine(world.engine, outbox=outbox, tick_seconds=0.05, scan_seconds=0.05, outbox_seconds=0.05,
                      on_error=lambda name, exc: errors.append(name))
    original = world.channel.send

    def send(message: dict[str, Any]) -> str | None:
        result = original(message)
        if len(world.channel.sent) >= 2:
            went.set()
        return result

    world.channel.send = send  # type: ignore[method-assign]
    live.start()
    try:
        assert went.wait(30), "the cart reminders never went out"
    finally:
        live.stop()
    assert errors == []
    assert {m["contact_id"] for m in world.channel.sent if m["journey_id"] == cart} == {"ann", "cho"}
    assert {(r["status"], r["exit_reason"]) for r in world.runs() if r["journey_id"] == poisoned} == {
        ("exited", "error")}

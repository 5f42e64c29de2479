""""Who is here?" and "Who went this way?" on a step (issue 11, section 3)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.engine.here import who_is_here, who_went
from app.engine.importers import parse_contacts, parse_events, read_text
from app.engine.ingest import EventIn
from app.engine.simulator import simulate
from app.engine.stats import journey_stats
from app.journey.fileformat import load
from app.paths import RESOURCES
from app.store.db import open_database

from .helpers import t

CART = RESOURCES / "examples" / "cart_abandonment.json"


def _node(journey, title):
    return next(n for n in journey.nodes.values() if n.title == title)


def _crowd(url: str, n: int, until: str):
    """`n` contacts abandon a cart a minute apart from 09:00; the run stops at `until`."""
    journey = load(CART)
    lines = ["id,email,first_name,timezone,subscribed"] + [f"p{i:03},p{i}@example.com,P{i},UTC,email"
                                                           for i in range(n)]
    contacts, _ = parse_contacts("\n".join(lines) + "\n")
    start = t("2026-03-02T09:00:00Z")
    events = [EventIn(f"p{i:03}", "cart_abandoned", start + timedelta(minutes=i), {"total": 5, "items": []})
              for i in range(n)]
    sim = simulate(journey, contacts, events, db_url=url, keep_log=False, until=t(until))
    return journey, sim.journey_id


def test_who_is_here_on_a_wait_step_lists_the_waiting_soonest_first(any_url):
    journey, jid = _crowd(any_url, 5, "2026-03-02T09:30:00Z")
    db = open_database(any_url)
    try:
        wait = _node(journey, "Wait 1 hour")
        page = who_is_here(db, jid, wait.id)
        assert [c.contact_id for c in page.rows] == ["p000", "p001", "p002", "p003", "p004"]
        assert page.next is None
        first = page.rows[0]
        assert first.name == "P0" and first.email == "p0@example.com"
        assert first.due_at == t("2026-03-02T10:00:00Z")        # moves on an hour after the cart
        assert first.at == t("2026-03-02T09:00:00Z")            # here since
        assert who_is_here(db, jid, _node(journey, "Cart reminder email").id).rows == []
    finally:
        db.dispose()


def test_who_is_here_pages_through_the_crowd_in_order(any_url):
    journey, jid = _crowd(any_url, 23, "2026-03-02T09:59:00Z")
    db = open_database(any_url)
    try:
        wait = _node(journey, "Wait 1 hour")
        stats = journey_stats(db, jid)
        seen, after = [], None
        while True:
            page = who_is_here(db, jid, wait.id, limit=5, after=after)
            assert len(page.rows) <= 5
            seen += page.rows
            if page.next is None:
                break
            after = page.next
        assert len(seen) == stats.nodes[wait.id].waiting == 23
        assert [c.contact_id for c in seen] == [f"p{i:03}" for i in range(23)]
        with pytest.raises(ValueError):
            who_is_here(db, jid, wait.id, limit=0)
    finally:
        db.dispose()


def test_who_went_this_way_matches_the_steps_figures(any_url):
    contacts, _ = parse_contacts(read_text(RESOURCES / "sample_contacts.csv"))
    events, _ = parse_events(read_text(RESOURCES / "sample_events.jsonl"))
    journey = load(CART)
    jid = simulate(journey, contacts, events, db_url=any_url, keep_log=False).journey_id
    db = open_database(any_url)
    try:
        stats = journey_stats(db, jid)
        branch = _node(journey, "Opened within 24 h?")
        for outcome in ("yes", "no"):
            rows = who_went(db, jid, branch.id, outcome, limit=100).rows
            assert len(rows) == stats.nodes[branch.id].branched.get(outcome, 0) > 0
            assert {c.outcome for c in rows} == {outcome}
            assert [c.at for c in rows] == sorted((c.at for c in rows), reverse=True)
        no = {c.contact_id for c in who_went(db, jid, branch.id, "no", limit=100).rows}
        assert "c009" in no
        # A step without outcomes: those that passed it (the email: sent or skipped).
        email = _node(journey, "Cart reminder email")
        passed = who_went(db, jid, email.id, limit=100).rows
        figures = stats.nodes[email.id]
        assert len(passed) == figures.sent + sum(figures.skipped.values())
        # Paging joins up.
        seen, after = [], None
        while True:
            page = who_went(db, jid, email.id, limit=3, after=after)
            seen += page.rows
            if page.next is None:
                break
            after = page.next
        assert [(c.run_id, c.at) for c in seen] == [(c.run_id, c.at) for c in passed]
    finally:
        db.dispose()

"""The test contact's story, read from what the engine logged in the throwaway database.

Each run-log row becomes a StoryEntry in words (app/engine/story.py), with its time in the contact's
zone and the business's; each `sent` row carries the message as rendered; the script's own actions
are lines of their own (action "contact"). The path: the steps reached in order, and the edges
followed (from one step to the next, through the outcome a branch took).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.journey.model import Journey
from app.journey.settings import journey_timezone
from app.store.tables import messages, run_log, runs

from .context import ContactView
from .story import exit_words, step_words, when
from .test_run import StoryEntry, TestMessage, TestRun
from .timeutil import contact_zone

# Rows that say the contact is at a step (not those about a whole run, or credited to an earlier step).
_AT_STEP = frozenset({"entered", "waited", "deferred", "sent", "skipped", "branched", "tagged", "failed"})


@dataclass(frozen=True)
class ContactAction:
    """Something the test contact does: at `at` (None: it never happened, said at the end)."""
    at: datetime | None
    words: str
    event_type: str


def build_story(db: Engine, journey: Journey, journey_id: str, contact: ContactView, actions: list[ContactAction],
                business: str, start: datetime, end: datetime) -> TestRun:
    """The TestRun of `contact` from the throwaway database `db` after the run: the run log in words
    with the script's `actions` among it (at equal times the contact's action first: the engine reacts
    to it), the path, and how it ended (`end`: how far the test looked, for "still waiting")."""
    own = journey_timezone(journey.settings, ((n.kind, n.config) for n in journey.nodes.values()))
    zone = contact_zone(contact.timezone, own, business)
    business_zone = business or "UTC"
    with db.connect() as conn:
        rows = [r._mapping for r in conn.execute(
            select(run_log).where(run_log.c.contact_id == contact.id).order_by(run_log.c.at, run_log.c.id))]
        sent = {(m.run_id, m.node_id): m for m in conn.execute(select(messages).where(
            messages.c.contact_id == contact.id))}
        last_run = conn.execute(select(runs).where(runs.c.contact_id == contact.id, runs.c.journey_id == journey_id)
                                .order_by(runs.c.id.desc()).limit(1)).first()
    entries: list[tuple[tuple[Any, ...], StoryEntry]] = []

    def stamp(entry: StoryEntry) -> StoryEntry:
        """The entry with its time said in the contact's zone and the business's."""
        return replace(entry, local=when(entry.at, zone), business=when(entry.at, business_zone))

    for order, action in enumerate(actions):
        if action.at is not None:
            entries.append(((action.at, 0, order), stamp(StoryEntry(action.at, None, "contact", action.words))))
    for order, row in enumerate(rows):
        node = journey.nodes.get(row["node_id"]) if row["node_id"] else None
        detail = row["detail"] or {}
        words = step_words(row["action"], outcome=row["outcome"], reason=row["reason"], detail=detail, node=node,
                           zone=zone, at=row["at"], revenue=row["revenue"])
        message = None
        if row["action"] == "sent":
            found = sent.get((row["run_id"], row["node_id"]))
            if found is not None:
                message = TestMessage(found.node_id, found.channel, found.recipient, found.subject, found.body_text,
                                      found.body_html, found.whatsapp_template)
                if found.subject:
                    words += f" “{found.subject}”"
                words += f" to {found.recipient}"
        until = _instant(detail.get("until")) if row["action"] in ("waited", "deferred") else None
        entries.append(((row["at"], 1, order), stamp(StoryEntry(
            row["at"], row["node_id"], row["action"], words, outcome=row["outcome"], reason=row["reason"],
            until=until, message=message))))
    entries.sort(key=lambda item: item[0])
    story = [e for _, e in entries]
    last = max([e.at for e in story], default=start)
    for action in actions:
        if action.at is None:
            story.append(stamp(StoryEntry(last, None, "contact", action.words)))
    reached, taken = _path(journey, rows)
    return TestRun(journey_id=journey.id, entries=story, reached=reached, taken=taken,
                   end=_end(journey, last_run, rows, start, end), contact_zone=zone.key, business_zone=business_zone,
                   titles={n.id: n.title for n in journey.nodes.values()})


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _path(journey: Journey, rows: list[Any]) -> tuple[list[str], list[str]]:
    """The steps reached in the order first reached, and the edges followed."""
    reached: list[str] = []
    taken: list[str] = []
    previous: dict[int, Any] = {}      # run id → its last row at a step
    for row in rows:
        node_id = row["node_id"]
        if not node_id or row["action"] not in _AT_STEP:
            continue
        if node_id not in reached:
            reached.append(node_id)
        before = previous.get(row["run_id"])
        if before is not None and before["node_id"] != node_id:
            outcome = before["outcome"] if before["action"] == "branched" else "next"
            edge = next((e for e in journey.edges_from(before["node_id"]) if e.target == node_id
                         and e.outcome == outcome), None) or next(
                (e for e in journey.edges_from(before["node_id"]) if e.target == node_id), None)
            if edge is not None and edge.id not in taken:
                taken.append(edge.id)
        previous[row["run_id"]] = row
    return reached, taken


def _end(journey: Journey, run: Any, rows: list[Any], start: datetime, end: datetime) -> str:
    if run is None:
        return ("did not enter: the trigger's audience, conditions or entry rule left the contact out"
                if journey.trigger() is not None else "did not enter: the journey has no trigger")
    if run.status == "completed":
        return "completed"
    if run.status in ("exited", "converted"):
        last = next((r for r in reversed(rows) if r["run_id"] == run.id and r["action"] == "exited"), None)
        return "exited: " + exit_words(run.exit_reason, (last["detail"] if last is not None else None) or {})
    node = journey.nodes.get(run.node_id) if run.node_id else None
    where = f"at “{node.title}”" if node is not None else "in the journey"
    return f"still waiting {where} after {(end - start).days} days"

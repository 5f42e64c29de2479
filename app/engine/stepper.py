"""Advances runs: the one loop every driver (live tick, simulator, ingest) goes through.

`tick` takes due runs in batches of up to a thousand, advances each as far as it
can go (through instant nodes, until a wait or the end), and commits the whole
batch at once: run rows, log rows and outbox rows in one transaction.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from app.store.sql import write_transaction
from app.store.tables import journeys, runs

from .clock import Clock
from .counts import REACHED
from .context import EventCache, JourneyCache
from .handlers import HANDLERS
from .runs import ACTIVE, RUN_COLUMNS, Batch, RunState
from .steps import Hold, Next, Step, Stop
from .templating import TemplateCache

BATCH_SIZE = 1000
MAX_STEPS_PER_RUN = 500   # a guard against a graph cycle slipping past validation


def advance(batch: Batch, run: RunState, at: datetime) -> int:
    """Runs `run` from its current node until it holds or ends; returns the number of node steps."""
    journey = batch.journey(run)
    contact = batch.contact(run.contact_id)
    nodes = journey.model.nodes
    steps = 0
    while run.status == ACTIVE and steps < MAX_STEPS_PER_RUN:
        node = nodes.get(run.node_id) if run.node_id else None
        if node is None:
            batch.log(run, run.node_id, "failed", at, reason="missing_node")
            batch.finish(run, "exited", at, "error")
            break
        steps += 1
        step = Step(batch, run, journey, node, contact, at)
        if step.first_visit:          # arriving at the step, not resuming after a hold
            batch.counts.add(run.journey_id, node.id, REACHED, at)
        result = HANDLERS[node.kind](step)
        batch.touch(run)
        if isinstance(result, Hold):
            run.state["until"] = result.until.isoformat()
            run.due_at = result.until
            break
        if isinstance(result, Stop):
            batch.finish(run, "exited", at, result.reason)
            break
        target = journey.next_node(node.id, result.outcome)
        run.state.pop("until", None)
        if target is None:
            batch.finish(run, "completed", at)
            break
        run.node_id, run.due_at = target, at
    else:
        if run.status == ACTIVE:
            batch.log(run, run.node_id, "failed", at, reason="too_many_steps")
            batch.finish(run, "exited", at, "error")
    batch.steps += steps
    return steps


class Stepper:
    def __init__(self, engine: Engine, clock: Clock, journeys: JourneyCache, templates: TemplateCache,
                 batch_size: int = BATCH_SIZE, events: EventCache | None = None) -> None:
        self.engine, self.clock, self.journeys, self.templates = engine, clock, journeys, templates
        self.events = events if events is not None else EventCache()
        self.batch_size = batch_size
        self.steps = 0          # node steps taken since start (the benchmark's measure)

    def _due(self, horizon: datetime):
        return (select(*RUN_COLUMNS).join(journeys, journeys.c.id == runs.c.journey_id)
                .where(runs.c.status == ACTIVE, runs.c.due_at <= horizon, journeys.c.status == "active")
                .order_by(runs.c.due_at, runs.c.id).limit(self.batch_size))

    def tick(self, horizon: datetime | None = None) -> int:
        """Advances every run due by `horizon` (default: now); returns how many runs moved."""
        horizon = horizon or self.clock.now()
        moved = 0
        while True:
            with write_transaction(self.engine) as conn:
                due = [RunState.from_row(r) for r in conn.execute(self._due(horizon))]
                if not due:
                    return moved
                batch = Batch(conn, self.journeys, self.templates, self.events)
                batch.preload([r.contact_id for r in due])
                batch.preload_messages([r.id for r in due])
                batch.preload_events(due)
                now = self.clock.now()
                for run in due:
                    # Virtual time: each run steps at its own due time, so logs and sends carry it.
                    at = run.due_at if self.clock.virtual and run.due_at else now
                    advance(batch, run, at)
                batch.flush(now)
                self.steps += batch.steps
            moved += len(due)
            if len(due) < self.batch_size:
                return moved

    def next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(runs.c.due_at).join(journeys, journeys.c.id == runs.c.journey_id).where(
                runs.c.status == ACTIVE, runs.c.due_at.is_not(None), journeys.c.status == "active")
                .order_by(runs.c.due_at).limit(1)).scalar()

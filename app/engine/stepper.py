"""Advances runs: the one loop every driver (live tick, simulator, ingest) goes through.

`tick` takes due runs in batches of up to a thousand, advances each as far as it
can go (through instant nodes, until a wait or the end), and commits the whole
batch at once: run rows, log rows and outbox rows in one transaction.
"""
from __future__ import annotations

import copy
import logging
from datetime import datetime
from functools import partial
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from app.store.sql import write_transaction
from app.store.tables import journeys, runs

from .clock import Clock
from .counts import REACHED
from .context import ContactView, EventCache, JourneyCache, LiveJourney
from .handlers import HANDLERS
from .runs import ACTIVE, RUN_COLUMNS, Batch, RunState
from .isolation import fail_run, isolatable, isolated, one_line, report, unit
from .steps import Hold, Result, Step, Stop
from .templating import TemplateCache

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_STEPS_PER_RUN = 500   # a guard against a graph cycle slipping past validation


def advance(batch: Batch, run: RunState, at: datetime) -> int:
    """Runs `run` from its current node until it holds or ends; returns the number of node steps.

    When its unit is done again part by part (a replay after a failure, app/engine/isolation.py), every
    step runs in its own savepoint: a step that raises ends the run exited with reason `error` at that
    step, and nothing it half did remains."""
    if not batch.fine:
        return _steps(batch, run, at, batch.journey(run), batch.contact(run.contact_id), _take)
    loaded = isolated(batch, lambda: (batch.journey(run), batch.contact(run.contact_id)),
                      lambda exc: fail_run(batch, run, run.node_id, at, exc), [run.contact_id])
    if loaded is None:
        return 0
    return _steps(batch, run, at, *loaded, _take_carefully)


def _steps(batch: Batch, run: RunState, at: datetime, journey: LiveJourney, contact: ContactView,
           take: Callable[[Batch, Step], bool]) -> int:
    """The step loop: `take` runs one step's handler and settles its result (True: the run moves on)."""
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
        if step.first_visit:          # arriving at the step (counted outside any savepoint: it did arrive)
            batch.counts.add(run.journey_id, node.id, REACHED, at)
        if not take(batch, step):
            break
    else:
        _too_many(batch, run, at)
    batch.steps += steps
    return steps


def _settle(batch: Batch, step: Step, result: Result) -> bool:
    """Applies a handler's result to the run; True when the run moves on to another node now."""
    run, node = step.run, step.node
    batch.touch(run)
    if isinstance(result, Hold):
        run.state["until"] = result.until.isoformat()
        run.due_at = result.until
        return False
    if isinstance(result, Stop):
        batch.finish(run, "exited", step.at, result.reason)
        return False
    target = step.journey.next_node(node.id, result.outcome)
    run.state.pop("until", None)
    if target is None:
        batch.finish(run, "completed", step.at)
        return False
    run.node_id, run.due_at = target, step.at
    return True


def _take(batch: Batch, step: Step) -> bool:
    return _settle(batch, step, HANDLERS[step.node.kind](step))


def _take_carefully(batch: Batch, step: Step) -> bool:
    """`_take` in its own savepoint: a step that raises puts the run back and fails it there."""
    run = step.run
    before = (run.node_id, run.due_at, copy.deepcopy(run.state))

    def failed(exc: Exception) -> None:
        run.node_id, run.due_at, run.state = before
        run.status, run.exit_reason = ACTIVE, None
        fail_run(batch, run, step.node.id, step.at, exc, step.node.title)

    return bool(isolated(batch, partial(_take, batch, step), failed, [run.contact_id]))


def _too_many(batch: Batch, run: RunState, at: datetime) -> None:
    if run.status == ACTIVE:
        batch.log(run, run.node_id, "failed", at, reason="too_many_steps")
        batch.finish(run, "exited", at, "error")


def _failed(batch: Batch, run: RunState, at: datetime, exc: Exception) -> None:
    fail_run(batch, run, run.node_id, at, exc)


def _restorer(run: RunState) -> Callable[[], None]:
    """Puts `run` back as it is now (before a unit that may fail changes it)."""
    saved = (run.node_id, run.due_at, copy.deepcopy(run.state), run.status, run.exit_reason)

    def restore() -> None:
        run.node_id, run.due_at, run.state, run.status, run.exit_reason = saved
        run.state = copy.deepcopy(saved[2])
    return restore


class Stepper:
    def __init__(self, engine: Engine, clock: Clock, journeys: JourneyCache, templates: TemplateCache,
                 batch_size: int = BATCH_SIZE, events: EventCache | None = None) -> None:
        self.engine, self.clock, self.journeys, self.templates = engine, clock, journeys, templates
        self.events = events if events is not None else EventCache()
        self.batch_size = batch_size
        self.steps = 0          # node steps taken since start (the benchmark's measure)
        self._wary = False      # the last batch met a failure: start the next one carefully

    def _due(self, horizon: datetime):
        return (select(*RUN_COLUMNS).join(journeys, journeys.c.id == runs.c.journey_id)
                .where(runs.c.status == ACTIVE, runs.c.due_at <= horizon, journeys.c.status == "active")
                .order_by(runs.c.due_at, runs.c.id).limit(self.batch_size))

    def tick(self, horizon: datetime | None = None) -> int:
        """Advances every run due by `horizon` (default: now); returns how many runs moved.

        A batch that raises is rolled back and done again carefully (each step in its own savepoint):
        the runs whose step raised end exited with reason `error`, the rest of the batch commits."""
        horizon = horizon or self.clock.now()
        moved = 0
        while True:
            count = -1
            if not self._wary:
                try:
                    count = self._batch(horizon, careful=False)
                except Exception as exc:  # noqa: BLE001 - replayed below; the database's trouble re-raises
                    if not isolatable(exc):
                        raise
                    log.warning("a batch of due runs failed (%s); running it again run by run", one_line(exc))
            if count < 0:      # outside the handler: the replay's own failures are not "during" this one
                count = self._batch(horizon, careful=True)
            if not count:
                return moved
            moved += count
            if count < self.batch_size:
                return moved

    def _batch(self, horizon: datetime, careful: bool) -> int:
        with write_transaction(self.engine) as conn:
            due = self._read_due(conn, horizon) if careful else [
                RunState.from_row(r) for r in conn.execute(self._due(horizon))]
            if not due:
                return 0
            batch = Batch(conn, self.journeys, self.templates, self.events)
            now = self.clock.now()
            if careful:
                batch.be_careful(now)     # and read lazily: a contact that cannot be read fails its own run
            else:
                batch.preload([r.contact_id for r in due])
                batch.preload_messages([r.id for r in due])
                batch.preload_events(due)
            for run in due:
                # Virtual time: each run steps at its own due time, so logs and sends carry it.
                at = run.due_at if self.clock.virtual and run.due_at else now
                if careful:
                    unit(batch, partial(advance, batch, run, at), partial(_failed, batch, run, at),
                         [run.contact_id], _restorer(run))
                else:
                    advance(batch, run, at)
            batch.flush(now)
            self.steps += batch.steps
        # After a careful batch that met a failure, the next starts carefully too (see JourneyEngine.ingest).
        self._wary = careful and batch.failures > 0
        return len(due)

    def _read_due(self, conn: Connection, horizon: datetime) -> list[RunState]:
        """The due runs, each read on its own when reading them together fails (a stored run that cannot
        be read, say its state): that run ends exited with reason `error`, the others are returned."""
        ids = list(conn.execute(self._due(horizon).with_only_columns(runs.c.id)).scalars())
        found = []
        for rid in ids:
            savepoint = conn.begin_nested()
            try:
                row = conn.execute(select(*RUN_COLUMNS).where(runs.c.id == rid)).one()
                found.append(RunState.from_row(row))
            except Exception as exc:  # noqa: BLE001 - one unreadable run must not stop the others
                savepoint.rollback()
                if not isolatable(exc):
                    raise
                report(exc, f"reading run {rid}")
                conn.execute(runs.update().where(runs.c.id == rid).values(
                    status="exited", exit_reason="error", due_at=None, updated_at=self.clock.now()))
                continue
            savepoint.commit()
        return found

    def next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(runs.c.due_at).join(journeys, journeys.c.id == runs.c.journey_id).where(
                runs.c.status == ACTIVE, runs.c.due_at.is_not(None), journeys.c.status == "active")
                .order_by(runs.c.due_at).limit(1)).scalar()

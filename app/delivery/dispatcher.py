"""The outbox dispatcher: gets queued messages out, each exactly once, and records what became of it.

One round (`dispatch`):

1. Claims whose lease expired (their process died) are recovered (app/delivery/claims.py): the one
   message that may have been handed over becomes `unknown`, the rest are queued again. Failures not
   yet reported to the engine are reported.
2. For every channel with due messages, `workers[channel]` threads each open their own channel
   (`open_channel(name)`; SMTP connections are not shared between threads) and repeat: claim a small
   batch in a short transaction, send its messages one by one in id order with no transaction open,
   recording each result in its own short transaction before the next is sent
   (app/delivery/outcomes.py), until nothing is due.
3. A channel's rate (messages per second, app/delivery/ratelimit.py) is shared by its workers: a
   burst waits its turn, nothing fails for it. A `Retry-After` from the provider holds the whole
   channel for that long; several passing failures in a row end the channel's round early (the
   provider is down: no point failing every queued message once more right now).

A channel that is not set up (`NotConfigured`, from `open_channel` or `send`) sends nothing; its
messages stay queued as they were and the round says "email is not set up: N messages waiting".
`stop()` (SIGTERM, closing the app) lets each worker finish the message in hand, gives the rest of
its claim back, and ends the round.
"""
from __future__ import annotations

import logging
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy.engine import Engine

from app.engine.clock import Clock, default_clock
from app.engine.isolation import one_line
from app.store.sql import write_transaction

from . import claims
from .base import Channel, DeliveryFailure, NotConfigured, Permanent, Transient, Uncertain
from .outcomes import CANCELLED, FAILED, RETRY, SEND, SENT, UNKNOWN, Result, record_result, report_failures, still_to_send
from .ratelimit import TokenBucket
from .retry import RetryPolicy

if TYPE_CHECKING:
    from app.engine.engine import JourneyEngine

log = logging.getLogger(__name__)

CHANNEL_NAMES = ("email", "sms", "whatsapp")
# Concurrent connections per channel: SMTP servers limit parallel sessions per client (Gmail, Microsoft
# 365 and SES accept a few); HTTP APIs take more in parallel.
DEFAULT_WORKERS = {"email": 2, "sms": 4, "whatsapp": 4}
DEFAULT_LEASE = timedelta(minutes=5)
MAX_HOLD = timedelta(hours=1)   # the longest a provider's Retry-After holds a whole channel
GIVE_UP_AFTER = 5        # passing failures in a row on one channel that end its round


@dataclass
class DispatchConfig:
    """How the dispatcher works: `workers` per channel, `rates` in messages per second (0: no
    limit), the retry policy, the lease of a claim and the largest claim."""

    workers: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WORKERS))
    rates: dict[str, float] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = DEFAULT_LEASE
    batch_size: int = 50

    def workers_for(self, channel: str) -> int:
        """Connections for `channel`: its `workers`, but no more than its rate can keep busy (a worker
        holding a claim while it waits long for its turn would only risk its lease)."""
        rate = self.rates.get(channel, 0.0)
        wanted = max(1, self.workers.get(channel, 1))
        return wanted if rate <= 0 else max(1, min(wanted, math.ceil(rate)))

    def claim_size(self, channel: str) -> int:
        """A claim holds about two seconds' worth of the channel's rate (so an opt-out or a pause is
        seen soon), at most `batch_size`."""
        rate = self.rates.get(channel, 0.0)
        return self.batch_size if rate <= 0 else max(1, min(self.batch_size, math.ceil(rate * 2)))


@dataclass
class Round:
    """What one round did, per outcome (message counts), and the channels not set up with how many
    messages wait for them."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0
    recovered_unknown: int = 0
    requeued: int = 0
    not_configured: dict[str, tuple[int, str]] = field(default_factory=dict)   # channel: (waiting, why)
    troubles: dict[str, str] = field(default_factory=dict)      # channel: what stopped its workers (a bug,
                                                                # the database): its messages wait
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def notices(self) -> list[str]:
        """One line per channel that is not set up, e.g. "email is not set up: 12 messages waiting", and
        per channel whose workers failed ("email could not send: … (the details are in the log)")."""
        return ([f"{channel} is not set up: {waiting} message{'s' if waiting != 1 else ''} waiting ({why})"
                 for channel, (waiting, why) in sorted(self.not_configured.items())]
                + [f"{channel} could not send: {why} (its messages wait; the details are in the log)"
                   for channel, why in sorted(self.troubles.items())])


def classify(failure: BaseException, message: claims.Claimed, policy: RetryPolicy, now: datetime,
             rng: random.Random | None = None) -> Result:
    """The result to record for a channel's failure at `now` (`NotConfigured` is handled by the caller)."""
    if isinstance(failure, Transient):
        retry_at = policy.next_attempt(message.attempts, now, message.created_at, failure.retry_after, rng)
        if retry_at is None:
            if failure.retry_after and now < policy.deadline(message.created_at):
                text = (f"{failure.text} (the provider's Retry-After asks to wait past the {policy.retry_hours:g}-hour "
                        "retry limit)")
            else:
                text = f"{failure.text} (gave up after {message.attempts} attempt(s) over {policy.retry_hours:g} hours)"
            return Result(FAILED, error=text, code=failure.code)
        return Result(RETRY, error=failure.text, code=failure.code, retry_at=retry_at)
    if isinstance(failure, Permanent):
        return Result(FAILED, error=failure.text, code=failure.code)
    if isinstance(failure, Uncertain):
        return Result(UNKNOWN, error=failure.text, code=failure.code or "uncertain")
    # A channel that raised something else (a bug): whether anything left is not known, and a message
    # is never sent twice, so it is `unknown` and waits for a person to decide.
    return Result(UNKNOWN, error=f"the channel failed: {one_line(failure)}", code="error")


class Dispatcher:
    """Sends the outbox's due messages through channels made by `open_channel(name)` (each worker
    thread gets its own). `engine` (a JourneyEngine) receives the `message_failed` events; without
    one a JourneyEngine on `db` is made when first needed."""

    def __init__(self, db: Engine, open_channel: Callable[[str], Channel], *, config: DispatchConfig | None = None,
                 clock: Clock | None = None, engine: "JourneyEngine | None" = None, rng: random.Random | None = None,
                 buckets: dict[str, TokenBucket] | None = None,
                 reconfigure: Callable[[], DispatchConfig] | None = None) -> None:
        self.db = db
        self.open_channel = open_channel
        self.config = config or DispatchConfig()
        self.clock: Clock = clock or default_clock()
        self._engine = engine
        self.rng = rng or random.Random()
        self.buckets = buckets if buckets is not None else {
            name: TokenBucket(self.config.rates.get(name, 0.0)) for name in CHANNEL_NAMES}
        self._stopping = threading.Event()
        self._feedback_lock = threading.Lock()
        self._held: dict[str, datetime] = {}      # channel: until when a provider's Retry-After holds it
        self._benched: set[str] = set()           # channels whose round ended early
        self._state_lock = threading.Lock()
        self._recovered_failures = False
        self._reconfigure = reconfigure          # the stored settings, read again each round (rates, retries)
        self.last_round: Round | None = None

    # -- the round --------------------------------------------------------------------

    @property
    def engine(self) -> "JourneyEngine":
        if self._engine is None:
            from app.engine.engine import JourneyEngine

            self._engine = JourneyEngine(self.db, self.clock)
        return self._engine

    def stop(self) -> None:
        """Ends the round in progress soon: each worker finishes the message it is sending, gives the rest
        of its claim back (queued, unchanged) and returns."""
        self._stopping.set()
        for bucket in self.buckets.values():
            bucket.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def dispatch(self) -> Round:
        """One round (see the module's docstring); returns what it did."""
        done = Round()
        if self._reconfigure is not None:
            self._take_settings(self._reconfigure())
        recovered = claims.recover_expired(self.db, self.clock.now())
        done.recovered_unknown, done.requeued = len(recovered.unknown), recovered.requeued
        if not self._recovered_failures:       # failures a crashed dispatcher recorded but did not report
            self._report(None)
            self._recovered_failures = True
        self._benched.clear()
        due = claims.due_counts(self.db, self.clock.now())
        threads = []
        for channel, count in sorted(due.items()):
            workers = max(1, min(self.config.workers_for(channel), math.ceil(count / 5)))
            for index in range(workers):
                thread = threading.Thread(target=self._work, args=(channel, done), daemon=True,
                                          name=f"dispatch-{channel}-{index}")
                thread.start()
                threads.append(thread)
        try:
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:         # Ctrl-C: each worker finishes its message and gives the rest back
            self.stop()
            for thread in threads:
                thread.join()
            raise
        notices = done.notices()
        if notices != (self.last_round.notices() if self.last_round else []):     # logged once, not each round
            for notice in notices:
                log.warning("%s", notice)
        self.last_round = done
        return done

    def _take_settings(self, fresh: DispatchConfig) -> None:
        """New rates and retry limit (changed in Settings → Channels) from this round on."""
        self.config.retry = fresh.retry
        for name, rate in fresh.rates.items():
            if self.config.rates.get(name, 0.0) != rate or name not in self.buckets:
                self.buckets[name] = TokenBucket(rate)
                if self.stopping:
                    self.buckets[name].stop()
        self.config.rates = dict(fresh.rates)

    def run(self, interval: float = 5.0, on_round: Callable[[Round], None] | None = None) -> None:
        """Rounds every `interval` seconds until `stop()`."""
        while not self.stopping:
            done = self.dispatch()
            if on_round is not None:
                on_round(done)
            self._stopping.wait(interval)

    # -- one worker ---------------------------------------------------------------------

    def _work(self, channel: str, done: Round) -> None:
        try:
            try:
                way_out = self.open_channel(channel)
            except NotConfigured as exc:
                self._not_configured(channel, done, exc)
                return
            try:
                while not self._ends(channel):
                    batch = claims.claim(self.db, channel, self.clock.now(), self.config.claim_size(channel),
                                         self.config.lease)
                    done.add("cancelled", batch.cancelled)
                    if not batch.messages and not batch.cancelled:
                        return
                    self._send_claim(channel, way_out, batch, done)
            finally:
                try:
                    way_out.close()
                except Exception:  # noqa: BLE001 - closing a connection that is gone anyway
                    log.debug("closing the %s channel failed", channel, exc_info=True)
        except Exception as exc:  # noqa: BLE001 - the round ends, leases recover the rest; the user is told
            log.exception("the %s dispatcher worker failed", channel)
            with done._lock:
                done.troubles[channel] = one_line(exc)

    def _ends(self, channel: str) -> bool:
        with self._state_lock:
            until = self._held.get(channel)
            now = self.clock.now()
            # A hold reaching further than the longest one given means the clock was set back meanwhile:
            # it no longer holds (else the channel would stand still until the clock caught up).
            held = until is not None and now < until <= now + MAX_HOLD
            return self.stopping or held or channel in self._benched

    def _not_configured(self, channel: str, done: Round, exc: BaseException) -> None:
        with self._state_lock:
            self._benched.add(channel)
        waiting = claims.due_counts(self.db).get(channel, 0)
        with done._lock:
            done.not_configured[channel] = (waiting, str(exc) or "no settings")

    def _send_claim(self, channel: str, way_out: Channel, batch: claims.Claim, done: Round) -> None:
        lease_until = batch.lease_until
        failed: list[int] = []
        troubles = 0
        not_set_up: NotConfigured | None = None
        pending = list(batch.messages)
        try:
            judged = True       # pending[0] was judged just now (by the claim, or in the last result's transaction)
            while pending:
                message = pending[0]
                bucket = self.buckets[channel]
                waited = bucket.waited
                if self._ends(channel) or not bucket.acquire():
                    return          # the rest is given back below
                now = self.clock.now()
                if lease_until - now < self.config.lease / 2:      # a long claim, or a long wait for a turn
                    lease_until = now + self.config.lease
                    with write_transaction(self.db) as conn:
                        if not claims.extend(conn, batch.token, lease_until):
                            log.warning("claim %s of %s was taken over (its lease expired): not sending the rest",
                                        batch.token, channel)
                            pending.clear()
                            return
                if not judged or bucket.waited > waited:
                    # It waited for the rate's turn (seconds, under a slow SMS rate): an opt-out, a pause or a
                    # stop that came meanwhile must still hold it back.
                    with write_transaction(self.db) as conn:
                        verdict = still_to_send(conn, message, batch.token, now)
                    judged = verdict == SEND
                    if not judged:
                        done.add("cancelled" if verdict == CANCELLED else "requeued")
                        pending.pop(0)
                        continue
                try:
                    result = Result(SENT, provider_id=way_out.send(message.outgoing()).provider_id)
                except NotConfigured as exc:
                    not_set_up = exc        # this message and the rest go back as they were (below)
                    with self._state_lock:
                        self._benched.add(channel)
                    return
                except Exception as exc:  # noqa: BLE001 - every failure is recorded on its message
                    if not isinstance(exc, DeliveryFailure):
                        log.error("the %s channel raised on message %s", channel, message.id, exc_info=exc)
                    result = classify(exc, message, self.config.retry, self.clock.now(), self.rng)
                    if isinstance(exc, Transient) and exc.retry_after:
                        with self._state_lock:
                            hold = min(timedelta(seconds=min(exc.retry_after, 86_400.0)), MAX_HOLD)
                            self._held[channel] = self.clock.now() + hold
                pending.pop(0)
                now = self.clock.now()
                with write_transaction(self.db) as conn:
                    if not record_result(conn, message, batch.token, result, now):
                        if result.kind == FAILED:
                            failed.append(message.id)       # reported if its result replaced the guess
                        log.warning("message %s of claim %s was changed by someone else (its lease expired and "
                                    "another dispatcher took over, or a failure report came for it): not sending "
                                    "the rest", message.id, batch.token)
                        return      # the rest go back to the queue below, if they are still this claim's
                    while pending:             # the next one, judged just before it goes
                        verdict = still_to_send(conn, pending[0], batch.token, now)
                        if verdict == SEND:
                            break
                        done.add("cancelled" if verdict == CANCELLED else "requeued")
                        pending.pop(0)
                done.add({SENT: "sent", RETRY: "retried", FAILED: "failed", UNKNOWN: "unknown"}[result.kind])
                if result.kind == FAILED:
                    failed.append(message.id)
                troubles = troubles + 1 if result.kind == RETRY else 0
                if troubles >= GIVE_UP_AFTER:
                    log.warning("%s: %d passing failures in a row (%s); trying again next round", channel,
                                troubles, result.error)
                    with self._state_lock:
                        self._benched.add(channel)
                    return
        finally:
            if pending:
                claims.release(self.db, batch.token, [m.id for m in pending])
            if not_set_up is not None:
                self._not_configured(channel, done, not_set_up)
            if failed:
                self._report(failed)

    def _report(self, ids: list[int] | None) -> None:
        """Reports failures to the engine (one at a time: the engine object is not shared between threads)."""
        with self._feedback_lock:
            try:
                report_failures(self.engine, ids)
            except Exception:  # noqa: BLE001 - reported again by the next dispatcher start
                log.exception("reporting failed messages to the engine failed")



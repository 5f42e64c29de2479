"""Retry timing (backoff with jitter, Retry-After, the 24-hour limit) and the per-channel rate limit.
Counted, never timed: the token bucket runs on a fake clock."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from app.delivery.base import Outgoing, Sent
from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.delivery.ratelimit import TokenBucket
from app.delivery.retry import RetryPolicy
from app.engine.clock import VirtualClock

from .dispatch_helpers import START, db, queue, rows  # noqa: F401 - fixtures


def test_backoff_doubles_from_a_minute_with_jitter_up_to_an_hour():
    policy, rng = RetryPolicy(), random.Random(7)
    for attempts, ceiling in ((1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (20, 3600), (500, 3600)):
        waits = [policy.delay(attempts, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4          # spread out: a burst does not come back together


def test_retry_after_is_a_floor_and_the_deadline_a_ceiling():
    policy, rng = RetryPolicy(retry_hours=24), random.Random(1)
    now = START + timedelta(hours=1)
    assert policy.next_attempt(1, now, START, retry_after=900, rng=rng) >= now + timedelta(seconds=900)
    short = policy.next_attempt(1, now, START, retry_after=1, rng=rng)
    assert short >= now + timedelta(seconds=30)                # a short Retry-After does not shorten the backoff
    near_end = START + timedelta(hours=23, minutes=50)
    assert policy.next_attempt(9, near_end, START, rng=rng) == START + timedelta(hours=24)   # pulled in
    assert policy.next_attempt(9, START + timedelta(hours=24), START, rng=rng) is None
    assert policy.next_attempt(1, near_end, START, retry_after=3600, rng=rng) is None       # past the limit
    assert RetryPolicy(retry_hours=1).next_attempt(1, START + timedelta(minutes=61), START) is None


def test_the_bucket_lets_a_burst_through_then_one_per_slot():
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds
        return False

    bucket = TokenBucket(10, clock=lambda: now[0], wait=wait)
    for _ in range(10):
        assert bucket.acquire()
    assert waits == []
    for _ in range(90):
        assert bucket.acquire()
    assert len(waits) == 90 and all(abs(w - 0.1) < 1e-9 for w in waits)
    assert abs(now[0] - 9.0) < 1e-6                           # 100 messages at 10/s: nine seconds after the burst


def test_the_bucket_gives_every_thread_its_own_slot():
    """8 threads take 400 tokens each at once: every caller waits for a distinct slot, none is skipped."""
    waits: list[float] = []
    lock = threading.Lock()

    def wait(seconds: float) -> bool:
        with lock:
            waits.append(seconds)
        return False

    bucket = TokenBucket(100, clock=lambda: 0.0, wait=wait)
    threads = [threading.Thread(target=lambda: [bucket.acquire() for _ in range(400)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(w * 100) for w in waits) == list(range(1, 3200 - 100 + 1))


def test_no_limit_never_waits_and_stop_wakes_waiters():
    assert TokenBucket(0, wait=lambda s: pytest.fail("waited")).acquire()
    bucket = TokenBucket(1, burst=1)
    assert bucket.acquire()
    threading.Timer(0.05, bucket.stop).start()
    assert bucket.acquire() is False                          # woken by stop: the caller sends nothing


class Counting:
    def __init__(self, sent: list[int]) -> None:
        self.sent = sent

    def send(self, message: Outgoing) -> Sent:
        self.sent.append(message.message_id)
        return Sent(f"id-{message.message_id}")

    def close(self) -> None:
        pass


def test_a_burst_of_10000_messages_queues_at_the_channels_rate_and_none_fails(db):
    now = [0.0]
    lock = threading.Lock()

    def wait(seconds: float) -> bool:
        with lock:
            now[0] = max(now[0], seconds)     # the latest slot handed out: how long the burst takes
        return False

    bucket = TokenBucket(50, clock=lambda: 0.0, wait=wait)
    queue(db, [f"p{i}@shop.test" for i in range(10_000)])
    sent: list[int] = []
    dispatcher = Dispatcher(db, lambda name: Counting(sent), clock=VirtualClock(START),
                            config=DispatchConfig(rates={"email": 50}, workers={"email": 2}),
                            buckets={"email": bucket})
    done = dispatcher.dispatch()
    assert (done.sent, done.failed, done.retried, done.unknown) == (10_000, 0, 0, 0)
    assert len(sent) == len(set(sent)) == 10_000
    assert abs(now[0] - (10_000 - 50) / 50) < 1e-6            # paced: 199 s of slots at 50/s after the burst
    assert {r["status"] for r in rows(db).values()} == {"sent"}
    assert dispatcher.config.claim_size("email") == 50        # claims of two seconds' worth


def test_the_live_dispatcher_takes_changed_rates_and_retry_limits_from_the_next_round(db):
    from app.delivery.channels import live_dispatcher
    from app.delivery.settings import load_settings, save_settings

    sent: list[int] = []
    dispatcher = live_dispatcher(db, VirtualClock(START), open_with=lambda name: Counting(sent))
    assert dispatcher.buckets["email"].rate == 10 and dispatcher.buckets["sms"].rate == 1     # the defaults
    settings = load_settings(db)
    settings.email.rate_per_second, settings.retry_hours = 0, 6
    save_settings(db, settings)
    queue(db, ["a@shop.test"])
    assert dispatcher.dispatch().sent == 1
    assert not dispatcher.buckets["email"].limited and dispatcher.config.retry.retry_hours == 6
    assert dispatcher.config.workers_for("sms") == 1

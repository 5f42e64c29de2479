"""Messages per second per channel: a thread-safe token bucket the dispatcher's workers share.

Providers limit how fast a sender may go (Amazon SES: 14/s at first; one Twilio long code: 1 SMS/s;
Meta's Cloud API: 80/s per number). Going faster earns 421/429 answers, so the dispatcher waits for a
token before each message instead: a burst of 10,000 queued messages leaves at the channel's pace,
each in its turn, and none fails for it.

A caller takes a token by reserving the next free slot (the count may go below zero: later callers
queue behind earlier ones, in order), then sleeps until its slot. `rate` 0 (or less) means no limit.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up (default: one second's worth, at least 1).

    `clock` (seconds, monotonic) and `wait` (sleeps up to the given seconds; returns True when told to
    stop) can be replaced, so tests count tokens on a fake clock instead of timing them."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], bool] | None = None) -> None:
        self.rate = max(0.0, float(rate))
        self.burst = max(1.0, burst if burst is not None else self.rate)
        self._clock = clock
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()
        self.waited = 0.0          # seconds callers were told to wait, in total (for reports and tests)

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def acquire(self) -> bool:
        """Takes one token, waiting for it when none is left; False when `stop()` was called while
        waiting (the caller then sends nothing). Never raises for being too fast."""
        if not self.limited:
            return not self._stop.is_set()
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
            self.waited += delay
        if delay > 0 and self._wait(delay):
            return False
        return not self._stop.is_set()

    def stop(self) -> None:
        """Wakes every waiting caller (their `acquire` returns False)."""
        self._stop.set()

    def reset(self) -> None:
        """Ready for use again after `stop()`."""
        self._stop.clear()

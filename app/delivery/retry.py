"""When a message that failed for a passing reason is tried again.

Exponential backoff with jitter: the n-th retry waits about `base · 2^(n-1)` seconds (one minute,
two, four, … up to `cap`, one hour), each wait drawn between half and the whole of that figure so
that a burst of messages failing together does not come back together ("equal jitter", AWS
Architecture Blog, "Exponential Backoff And Jitter", 2015). A provider's `Retry-After` (RFC 9110
§10.2.3; Twilio and Meta send it with HTTP 429) is a floor: the retry never comes sooner. Retrying
stops `retry_hours` (default 24) after the message was created: then it fails for good.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """`base_seconds` before the first retry, doubling up to `cap_seconds`; no retry is scheduled
    later than `retry_hours` after the message's creation."""

    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    retry_hours: float = 24.0

    def deadline(self, created_at: datetime) -> datetime:
        """The last moment a retry may be scheduled for."""
        return created_at + timedelta(hours=self.retry_hours)

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1 for the first), jitter included."""
        exponent = min(max(attempts, 1) - 1, 30)      # 2**30 minutes is far past any cap
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** exponent)
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)

    def next_attempt(self, attempts: int, now: datetime, created_at: datetime,
                     retry_after: float | None = None, rng: random.Random | None = None) -> datetime | None:
        """When to try a message again after its `attempts`-th attempt failed at `now` (aware UTC
        datetimes), honouring the provider's `retry_after` seconds as a minimum; None when retrying
        must stop (the deadline has passed, or `retry_after` reaches beyond it): then it fails.

        The last retry is pulled in to the deadline rather than dropped, so a message gets its
        chance right up to `retry_hours`."""
        deadline = self.deadline(created_at)
        if now >= deadline:
            return None
        wait = self.delay(attempts, rng)
        if retry_after is not None and retry_after > 0:
            # Compared in seconds first: a provider's absurd Retry-After (1e26, "inf") must not overflow
            # a timedelta; one reaching past the deadline means the message fails now.
            if not retry_after <= (deadline - now).total_seconds():
                return None
            floor = now + timedelta(seconds=retry_after)
            return max(floor, min(now + timedelta(seconds=wait), deadline))
        return min(now + timedelta(seconds=wait), deadline)

"""Time as a dependency: the engine never calls datetime.now() itself.

The live engine reads the system clock; the simulator and the tests use a
`VirtualClock` that the driver moves straight to the next due time.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    #: True when steps should happen at their due time rather than "now"
    #: (a virtual clock jumps, so a batch may hold runs due at different times).
    virtual: bool

    def now(self) -> datetime: ...


class SystemClock:
    virtual = False

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class VirtualClock:
    virtual = True

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a virtual clock needs an aware start time")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Moves forward only: time never runs backwards for the engine."""
        when = when.astimezone(timezone.utc)
        if when > self._now:
            self._now = when

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self._now += timedelta(**delta)
        return self._now

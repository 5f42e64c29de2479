"""Time as a dependency: the engine never calls datetime.now() itself.

The live engine reads the system clock; the simulator and the tests use a
`VirtualClock` that the driver moves straight to the next due time.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

TEST_CLOCK_ENV = "JOURNEYS_TEST_CLOCK"
"""Test-only: a file holding the time (ISO-8601 with a zone) every process of a test reads as "now"
(see `FileClock`). Never set it outside the tests: the engine would stand still."""


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


class FileClock:
    """Test-only virtual time shared by processes: "now" is the ISO-8601 time written in `path`,
    read at every call, so a test moves a `journeys serve` child (and the `journeys` commands it
    runs) forward an hour by rewriting one file (write a temporary file, then rename it over).
    Time never runs backwards: an earlier or unreadable value keeps the latest time read.
    `virtual` is False: the engine behaves as live (it acts at "now"), only the time is the file's."""

    virtual = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._latest: datetime | None = None

    def now(self) -> datetime:
        try:
            when = datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
            if self._latest is None or when > self._latest:
                self._latest = when
        if self._latest is None:
            raise RuntimeError(f"{TEST_CLOCK_ENV}: {self.path} holds no ISO-8601 time with a zone")
        return self._latest


def default_clock() -> Clock:
    """The clock a process runs on: the system's, or a `FileClock` when $JOURNEYS_TEST_CLOCK names a
    file (the end-to-end tests of the background service; never set in use)."""
    path = os.environ.get(TEST_CLOCK_ENV, "").strip()
    return FileClock(path) if path else SystemClock()

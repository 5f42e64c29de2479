"""The engine lease (app/store/lease.py) and its keeper (app/service/keeper.py): one engine per database,
on SQLite and PostgreSQL; a holder that stops beating is replaced once its lease has expired, never
before; a lost lease stops the jobs at once; a clean stop gives the lease back."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from app.service.keeper import LeaseKeeper
from app.store.db import open_database
from app.store.lease import Lease, current_holder

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


class Time:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(any_url):
    engine = open_database(any_url)
    yield engine
    engine.dispose()


def test_one_holder_at_a_time_and_the_other_takes_over_only_after_expiry(db):
    time = Time()
    service, app = Lease(db, "service", ttl=30, now=time), Lease(db, "app", ttl=30, now=time)
    assert service.acquire()
    assert not app.acquire()                              # held: the app runs no engine
    holder = current_holder(db, time.now)
    assert (holder.kind, holder.acquired_at, holder.expires_at) == ("service", T0, T0 + timedelta(seconds=30))
    time.now += timedelta(seconds=29)
    assert not app.acquire()                              # one second before expiry: still the service's
    assert service.renew()                                # a heartbeat pushes the end on
    time.now += timedelta(seconds=29)
    assert not app.acquire()
    time.now += timedelta(seconds=31)                     # the service stopped beating (it died)
    assert current_holder(db, time.now) is None
    assert app.acquire()
    assert current_holder(db, time.now).kind == "app"
    assert current_holder(db, time.now).acquired_at == time.now      # "since" is the takeover, not the first
    assert not service.renew()                            # the dead one, back, learns it lost
    assert not service.held()
    assert not service.acquire()


def test_renewing_keeps_the_time_it_was_taken(db):
    time = Time()
    lease = Lease(db, "service", ttl=30, now=time)
    assert lease.acquire()
    time.now += timedelta(seconds=10)
    assert lease.acquire() and lease.renew()              # taking what is ours again renews it
    assert current_holder(db, time.now).acquired_at == T0


def test_release_frees_it_at_once_and_only_our_own(db):
    time = Time()
    first, second = Lease(db, "service", now=time), Lease(db, "service", now=time)
    assert first.acquire()
    second.release()                                      # not second's: nothing happens
    assert current_holder(db, time.now).holder == first.holder
    first.release()
    assert current_holder(db, time.now) is None
    assert second.acquire()


def test_racing_processes_never_both_win(db):
    """Many contenders at once for a free lease, then for an expired one: exactly one wins each time."""
    time = Time()
    for _round in range(2):
        contenders = [Lease(db, "service", ttl=30, now=time) for _ in range(8)]
        won: list[Lease] = []
        start = threading.Barrier(len(contenders))

        def take(lease: Lease) -> None:
            start.wait()
            if lease.acquire():
                won.append(lease)

        threads = [threading.Thread(target=take, args=(lease,)) for lease in contenders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        time.now += timedelta(seconds=31)                # the winner dies; the next round races again


def test_a_kind_that_is_not_service_or_app_is_refused(db):
    with pytest.raises(ValueError, match="not one of service, app"):
        Lease(db, "daemon")


class Jobs:
    def __init__(self) -> None:
        self.running, self.starts, self.stops, self.waiting = False, 0, 0, []

    def start(self) -> None:
        self.running, self.starts = True, self.starts + 1

    def stop(self) -> None:
        self.running, self.stops = False, self.stops + 1


def keeper_for(db, time: Time, kind: str = "service") -> tuple[LeaseKeeper, Jobs]:
    jobs = Jobs()
    keeper = LeaseKeeper(Lease(db, kind, ttl=30, now=time), on_acquired=jobs.start, on_lost=jobs.stop,
                         on_waiting=jobs.waiting.append)
    return keeper, jobs


def test_the_keeper_starts_jobs_with_the_lease_and_stops_them_when_another_took_it(db):
    time = Time()
    service, service_jobs = keeper_for(db, time)
    app, app_jobs = keeper_for(db, time, "app")
    assert service.step() and service_jobs.running
    assert not app.step() and not app_jobs.running
    assert app_jobs.waiting[-1].kind == "service"          # the app learns who runs the engine, and since when
    assert app_jobs.waiting[-1].acquired_at == T0
    time.now += timedelta(seconds=40)                     # the service hung: no heartbeat for 40 s
    assert app.step() and app_jobs.running                # the app takes over
    assert not service.step()                             # the service wakes up: its renewal fails…
    assert (service_jobs.running, service_jobs.stops) == (False, 1)   # …and its jobs stop at once
    assert not service.step() and service_jobs.starts == 1


def test_a_heartbeat_the_database_refuses_keeps_the_jobs_until_the_lease_runs_out(db):
    time = Time()
    keeper, jobs = keeper_for(db, time)
    assert keeper.step()

    def refuse() -> bool:
        raise OSError("database is busy")

    keeper.lease.renew = refuse  # type: ignore[method-assign]
    time.now += timedelta(seconds=20)
    assert keeper.step() and jobs.running                 # still ours by our own clock
    time.now += timedelta(seconds=11)
    assert not keeper.step() and not jobs.running         # ran out: stop before another takes over


def test_stopping_the_keeper_stops_the_jobs_and_gives_the_lease_back(db):
    time = Time()
    keeper, jobs = keeper_for(db, time)
    keeper.step()
    keeper.stop()
    assert jobs.stops == 1 and current_holder(db, time.now) is None
    assert not keeper.step()                              # a stopped keeper takes nothing again


def test_a_crash_leaves_the_lease_to_expire(db):
    time = Time()
    keeper, _jobs = keeper_for(db, time)
    keeper.step()
    keeper.stop(release=False)
    assert current_holder(db, time.now) is not None
    time.now += timedelta(seconds=31)
    assert current_holder(db, time.now) is None

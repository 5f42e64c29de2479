"""UTCDateTime: what goes in as an instant comes out as the same instant, in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from app.store.tables import contacts
from app.store.types import UTCDateTime

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)


def _add_contact(conn: sa.Connection, contact_id: str, last_order_at: datetime | None) -> None:
    conn.execute(
        contacts.insert().values(id=contact_id, created_at=T0, updated_at=T0, last_order_at=last_order_at)
    )


def _last_order(engine: Engine, contact_id: str) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(contacts.c.last_order_at).where(contacts.c.id == contact_id)
        ).scalar_one()


def test_aware_value_comes_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    berlin_evening = datetime(2025, 7, 14, 21, 30, 15, 123456, tzinfo=BERLIN)
    with engine.begin() as conn:
        _add_contact(conn, "c1", berlin_evening)
        _add_contact(conn, "c2", None)
    got = _last_order(engine, "c1")
    assert got == berlin_evening
    assert got.tzinfo == timezone.utc
    assert got == datetime(2025, 7, 14, 19, 30, 15, 123456, tzinfo=timezone.utc)
    assert _last_order(engine, "c2") is None


def test_naive_datetime_is_refused_with_a_clear_message(engine: Engine) -> None:
    with pytest.raises(ValueError, match="naive datetime 2025-03-01T09:00:00 has no time zone"):
        UTCDateTime().process_bind_param(datetime(2025, 3, 1, 9, 0), engine.dialect)
    with pytest.raises(StatementError, match="naive datetime") as caught:
        with engine.begin() as conn:
            _add_contact(conn, "c1", datetime(2025, 3, 1, 9, 0))
    assert isinstance(caught.value.orig, ValueError)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(contacts)).scalar_one() == 0


def test_non_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(TypeError, match="expects a datetime"):
        UTCDateTime().process_bind_param("2025-03-01T09:00:00Z", engine.dialect)


def test_range_queries_compare_instants_across_offsets(engine: Engine) -> None:
    """Due-time queries must compare instants, not the wall-clock text."""
    with engine.begin() as conn:
        _add_contact(conn, "early", datetime(2025, 3, 1, 9, 59, tzinfo=timezone.utc))
        _add_contact(conn, "late", datetime(2025, 3, 1, 11, 30, tzinfo=BERLIN))  # 10:30 UTC
    cutoff = datetime(2025, 3, 1, 5, 0, tzinfo=ZoneInfo("America/New_York"))  # 10:00 UTC
    with engine.connect() as conn:
        due = conn.execute(sa.select(contacts.c.id).where(contacts.c.last_order_at <= cutoff)).scalars()
        assert list(due) == ["early"]
        ordered = conn.execute(sa.select(contacts.c.id).order_by(contacts.c.last_order_at.desc())).scalars()
        assert list(ordered) == ["late", "early"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    instant=st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1), timezones=st.just(timezone.utc)),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
)  # fmt: skip
def test_any_instant_round_trips(engine: Engine, instant: datetime, offset_minutes: int) -> None:
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    with engine.begin() as conn:
        conn.execute(contacts.delete())
        _add_contact(conn, "c", local)
    got = _last_order(engine, "c")
    assert got == instant and got.utcoffset() == timedelta(0)

"""App-wide settings kept in the database (`app_settings`, one row per key).

The business's time zone lives here (`journeys settings timezone ZONE`, or the
app's Settings dialog), so the engine, the CLI and the app all read the same
value, whichever machine or process runs them.
"""

from __future__ import annotations

import difflib

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from app.journey.schema import timezone_names
from app.store.errors import StoreError
from app.store.sql import write_transaction
from app.store.tables import app_settings

BUSINESS_TIMEZONE = "business_timezone"
"""Key of the business's IANA time zone ("Europe/Berlin"); absent until set."""

KNOWN_SETTINGS = (BUSINESS_TIMEZONE,)


def get_setting(conn: Connection, key: str) -> str | None:
    """The stored value of `key`, or None when it was never set (one small query)."""
    return conn.execute(select(app_settings.c.value).where(app_settings.c.key == key)).scalar()


def all_settings(engine: Engine) -> dict[str, str]:
    """Every stored setting, by key."""
    with engine.connect() as conn:
        return {k: v for k, v in conn.execute(select(app_settings.c.key, app_settings.c.value))}


def set_setting(engine: Engine, key: str, value: str | None) -> None:
    """Stores `value` under `key` (None removes the key), in its own short write transaction."""
    with write_transaction(engine) as conn:
        conn.execute(app_settings.delete().where(app_settings.c.key == key))
        if value is not None:
            conn.execute(app_settings.insert().values(key=key, value=value))


def check_timezone(name: str) -> str:
    """`name` as a valid IANA time zone name (surrounding spaces dropped).

    Raises StoreError saying what is wrong and what to write instead (e.g. "Europe/Berlin").
    """
    name = name.strip()
    if name not in timezone_names():
        lower = {z.lower(): z for z in timezone_names()}
        close = sorted(z for z in timezone_names() if z.lower() == name.lower() or z.lower().endswith("/" + name.lower()))
        close = close or [lower[z] for z in difflib.get_close_matches(name.lower(), lower, n=3, cutoff=0.8)]
        hint = f" (did you mean {', '.join(close[:3])}?)" if close and name else ""
        raise StoreError(f"{name!r} is not a time zone{hint}: use an IANA name such as Europe/Berlin, "
                         "America/New_York or UTC")
    return name


def business_timezone(source: Engine | Connection) -> str | None:
    """The business's time zone name, or None when it was never set."""
    if isinstance(source, Connection):
        return get_setting(source, BUSINESS_TIMEZONE)
    with source.connect() as conn:
        return get_setting(conn, BUSINESS_TIMEZONE)


def set_business_timezone(engine: Engine, name: str) -> str:
    """Stores the business's time zone after checking it; returns the stored name. Raises StoreError."""
    name = check_timezone(name)
    set_setting(engine, BUSINESS_TIMEZONE, name)
    return name

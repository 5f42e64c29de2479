"""How the engine's whereabouts are said, the same in the app's status bar and `journeys service status`:
"Engine: running in the background since 14:02 (2 hours ago)"."""

from __future__ import annotations

from datetime import datetime, timezone

from babel.dates import format_timedelta

from app.store.lease import LeaseHolder


def human_since(when: datetime, now: datetime | None = None) -> str:
    """"14:02 (2 hours ago)" on the same day, "28 Nov 14:02 (2 days ago)" before, in local time
    (the machine's zone: it is the user's own screen); the lapse worded by CLDR (Babel)."""
    now = now or datetime.now(timezone.utc)
    local, local_now = when.astimezone(), now.astimezone()
    clock = f"{local:%H:%M}" if local.date() == local_now.date() else f"{local.day} {local:%b %H:%M}"
    lapse = format_timedelta(when - now, add_direction=True, locale="en", threshold=1.0)
    return f"{clock} ({lapse})"


def describe_holder(holder: LeaseHolder) -> str:
    """"the background service (pid 4242 on shop-pc)" / "Journey Studio's window (pid …)"."""
    who = "the background service" if holder.kind == "service" else "Journey Studio's window"
    return f"{who} (pid {holder.pid} on {holder.host})"


def engine_text(holder: LeaseHolder | None, *, mine: bool = False, now: datetime | None = None) -> str:
    """One line for a status bar or the command line: who runs the engine on this database.

    `mine`: this process holds the lease (the app's window: "running in this window")."""
    if mine:
        return "Engine: running in this window"
    if holder is None:
        return "Engine: not running (no window or background service holds this database)"
    since = human_since(holder.acquired_at, now)
    if holder.kind == "service":
        return f"Engine: running in the background since {since}"
    return f"Engine: running in another Journey Studio window (pid {holder.pid} on {holder.host}) since {since}"

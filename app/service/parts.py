"""The optional parts the service runs when they are installed: the HTTP receiver (app/intake, issue
13 §2) and the pull connectors (app/connectors, §3). Each is looked up by name, so the service works
without them (then it serves only GET /health, and runs the engine's own jobs); a part that is there
but fails to import is a bug and raises.

Contracts (docs: /work/wt/notes/DESIGN13.md):
- `app.intake.server.create_app(db, engine_wakeup=callable) -> Starlette app`;
- `intake_job(db) -> callable`, in app.intake.server or app.intake.jobs: applies stored requests;
- `app.connectors.jobs.connector_jobs(db) -> [(name, seconds, callable)]`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Callable

from sqlalchemy.engine import Engine

Job = tuple[str, Callable[[], object], float]      # name, function, seconds between runs (LiveEngine's order)
INTAKE_SECONDS = 2.0          # stored requests are applied at once after a wake-up; this is the safety net


def optional_module(name: str) -> ModuleType | None:
    """The module `name`, or None when it (or its package) is not installed; any other import error
    raises (a part that is there must work)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        parts = name.split(".")
        missing = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        if exc.name in missing:
            return None
        raise


def receiver_app(db: Engine, wakeup: Callable[[], None]) -> Any | None:
    """The receiver's ASGI app (app.intake.server.create_app), or None when it is not installed."""
    server = optional_module("app.intake.server")
    create = getattr(server, "create_app", None) if server is not None else None
    return create(db, engine_wakeup=wakeup) if create is not None else None


def intake_jobs(db: Engine) -> list[Job]:
    """[("intake", job, seconds)] when the receiver's intake job exists, else []."""
    for name in ("app.intake.jobs", "app.intake.server"):
        module = optional_module(name)
        make = getattr(module, "intake_job", None) if module is not None else None
        if make is not None:
            return [("intake", make(db), INTAKE_SECONDS)]
    return []


def connector_jobs(db: Engine) -> list[Job]:
    """The pull connectors' polls (app.connectors.jobs.connector_jobs), in LiveEngine's order; [] when
    the connectors are not installed."""
    module = optional_module("app.connectors.jobs")
    if module is None:
        return []
    return [(name, job, float(seconds)) for name, seconds, job in module.connector_jobs(db)]

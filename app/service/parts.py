"""The parts the service and the app's engine host run beside the engine's own jobs: the HTTP receiver
(app/intake, issue 13 §2) and the pull connectors (app/connectors, §3). Each is looked up by name, so
the service still works where a part is left out (then it serves only GET /health, and runs the
engine's own jobs); a part that is there but fails to import is a bug and raises.

Contracts (HANDOFF13-R.md, HANDOFF13-P.md):
- `app.intake.server.create_app(db, engine_wakeup=callable) -> Starlette app`, served with
  `app.intake.runner.uvicorn_config(app, host, port)` (its slow-client cut-off);
- `app.intake.apply.intake_job(db, engine) -> callable`: applies stored requests, one round at a time;
- `app.connectors.jobs.connector_jobs(db, clock, engine) -> [(name, function, seconds)]` and
  `stop_polls()` (a poll in progress ends after its page in hand) before the scheduler stops.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from app.engine.clock import Clock
    from app.engine.engine import JourneyEngine

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


def listen_setting(db: Engine) -> str | None:
    """The receiver's listen address as set in the app (File → Receiver…, `journeys receiver set
    --listen`; app.intake.config.listen_address), or None when the receiver is not installed."""
    config = optional_module("app.intake.config")
    return config.listen_address(db) if config is not None else None


def receiver_config(app: Any, host: str, port: int, **more: Any) -> Any:
    """Uvicorn's settings for the receiver: app.intake.runner.uvicorn_config (slow clients cut off,
    keep-alive and connection limits), `more` overriding them; plain uvicorn.Config when the runner is
    not there."""
    runner = optional_module("app.intake.runner")
    if runner is not None:
        return runner.uvicorn_config(app, host, port, **more)
    uvicorn = importlib.import_module("uvicorn")
    return uvicorn.Config(app, host=host, port=port, **more)


def intake_jobs(db: Engine, engine: "JourneyEngine") -> list[Job]:
    """[("intake", job, seconds)] when the receiver is installed, else []. `engine` applies the stored
    requests (its clock is the service's, so test time applies); give it an engine of its own: the
    job runs on the scheduler's threads beside the tick."""
    module = optional_module("app.intake.apply")
    if module is None:
        return []
    return [("intake", module.intake_job(db, engine), INTAKE_SECONDS)]


def connector_jobs(db: Engine, clock: "Clock", engine: "JourneyEngine") -> list[Job]:
    """The pull connectors' polls (app.connectors.jobs.connector_jobs: (name, function, seconds), the
    order LiveEngine takes), or [] when the connectors are not installed."""
    module = optional_module("app.connectors.jobs")
    if module is None:
        return []
    return [(name, job, float(seconds)) for name, job, seconds in module.connector_jobs(db, clock, engine)]


def stop_polls() -> None:
    """Asks the connectors' polls in progress to end after their page in hand (a clean shutdown);
    nothing when the connectors are not installed."""
    module = optional_module("app.connectors.jobs")
    if module is not None:
        module.stop_polls()

"""The one gate before a journey runs: publishing and activating validate here, below the UI.

The app, the `journeys` command and the tests all reach the engine through
`JourneyEngine.activate` / `publish`, which call `check_document` on the draft
inside the transaction that freezes it, so the version that runs is the one
that was checked. The UI and the CLI show the same problems as this gate,
judged the same way: as a journey about to run (`validate(..., active=True)`).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.engine import Engine

from app.journey.fileformat import JourneyFileError, from_document
from app.journey.model import Journey
from app.journey.validate import ERROR, Problem, validate
from app.journey.templates import VariableCatalog
from app.store.app_settings import all_settings
from app.store.catalog import known_variables

_LISTED = 5      # problems named in the error's message; `problems` has them all


class JourneyNotReady(Exception):
    """Publishing or activating refused: the journey has errors. Nothing was published or started.

    `problems` lists every error (severity "error"), each with its node id and JSON pointer;
    the message names the journey and the first few, and says what to do.
    """

    def __init__(self, name: str, problems: list[Problem], journey: Journey | None = None) -> None:
        self.name, self.problems, self.journey = name, problems, journey
        count = len(problems)
        lines = [f"- {describe(p, journey)}" for p in problems[:_LISTED]]
        if count > _LISTED:
            lines.append(f"- … and {count - _LISTED} more")
        super().__init__(f"Journey {name!r} cannot run: it has {count} error{'' if count == 1 else 's'} to fix "
                         "first (nothing was published or started):\n" + "\n".join(lines))


def describe(problem: Problem, journey: Journey | None) -> str:
    """One problem as a line: "Step 'Reminder': The email has no sender" or the journey-level message."""
    node = journey.nodes.get(problem.node_id) if journey is not None and problem.node_id else None
    return f"Step '{node.title}': {problem.message}" if node is not None else problem.message


def variable_catalog(db: Engine) -> VariableCatalog:
    """The contact attributes and event properties seen in the store: what template variables are
    judged against, by this gate and by the app's live validation alike."""
    names = known_variables(db)
    return VariableCatalog(names.contact_attributes, names.event_properties)


def public_url(db: Engine) -> str:
    """The configured public URL ("" when none): opens and clicks are measured only through it."""
    from app.delivery.settings import PUBLIC_URL_KEY

    return all_settings(db).get(PUBLIC_URL_KEY, "").strip().rstrip("/")


def check_document(document: Mapping[str, Any], *, catalog: VariableCatalog | None, now: datetime,
                   source: str = "the journey", public_url: str | None = None) -> tuple[Journey | None, list[Problem]]:
    """Every problem of a stored journey document judged as about to run, errors first.
    `public_url`: the configured one ("" = none), for the warnings on opens and clicks not measured.

    A document that cannot be read as a journey at all gives one error naming where (its JSON
    pointer) and no journey.
    """
    try:
        journey = from_document(dict(document), source)
    except JourneyFileError as exc:
        return None, [Problem(ERROR, exc.node_id, exc.pointer, exc.message)]
    return journey, validate(journey, catalog=catalog, now=now, active=True, public_url=public_url)


def require_runnable(document: Mapping[str, Any], *, catalog: VariableCatalog | None, now: datetime,
                     public_url: str | None = None) -> Journey:
    """The journey in `document` when it has no errors; raises JourneyNotReady otherwise."""
    name = str(document.get("name") or document.get("id") or "?")
    journey, problems = check_document(document, catalog=catalog, now=now, source=f"journey {name!r}",
                                       public_url=public_url)
    errors = [p for p in problems if p.severity == ERROR]
    if errors or journey is None:
        raise JourneyNotReady(name, errors, journey)
    return journey

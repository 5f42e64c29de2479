"""What a node handler returns, and the context it gets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.journey.model import Node

from .context import ContactView, LiveJourney
from .runs import Batch, RunState


@dataclass(frozen=True)
class Next:
    """Leave the node through `outcome` now."""

    outcome: str = "next"


@dataclass(frozen=True)
class Hold:
    """Stay at the node; call the handler again at `until`."""

    until: datetime


@dataclass(frozen=True)
class Stop:
    """End the run: status exited with `reason` (action `failed` when it is an error)."""

    reason: str
    failed: bool = False


Result = Next | Hold | Stop


@dataclass
class Step:
    batch: Batch
    run: RunState
    journey: LiveJourney
    node: Node
    contact: ContactView
    at: datetime            # when this step happens (virtual: the due time; live: now)

    @property
    def zone(self) -> ZoneInfo:
        """The contact's local time zone for every local-time rule of this step: the contact's own,
        else the journey's, else the business's, else UTC (`timeutil.contact_zone`)."""
        return self.batch.zone_for(self.journey, self.contact)

    @property
    def first_visit(self) -> bool:
        """False when the handler is called again after a Hold at this node."""
        return "until" not in self.run.state

    @property
    def held_until(self) -> datetime | None:
        text = self.run.state.get("until")
        return datetime.fromisoformat(text) if text else None

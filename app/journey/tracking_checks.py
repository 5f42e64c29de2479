"""Opens and clicks need tracking: a warning wherever a journey relies on them while they are not
measured (no public URL configured, or the journey's "Track opens and clicks" is off).

Pure (no database): the caller passes the configured public URL; app/engine/gate.py reads it.
"""
from __future__ import annotations

from typing import Callable

from .model import Journey, Node
from .settings import settings_label, tracks_opens

OPEN_CLICK_STATUSES = frozenset({"opened", "clicked"})
OPEN_CLICK_TERMS = frozenset({"opened_previous", "not_opened_previous", "clicked_previous", "not_clicked_previous"})

Report = Callable[[Node, str, str, str], None]      # (node, JSON pointer, message, hint)


def _why(journey: Journey, public_url: str) -> tuple[str, str] | None:
    """Why opens and clicks are not measured, and what to do; None when they are."""
    label = settings_label("tracking", "enabled")
    if not public_url:
        return ("no public URL is set, so opens and clicks are not measured",
                f"Set a public URL in Settings → Channels (where the app is reachable from the internet) and turn "
                f"on '{label}' in the journey's settings, or branch on delivered, replied or failed instead.")
    if not tracks_opens(journey.settings):
        return (f"'{label}' is off in this journey's settings, so opens and clicks are not measured",
                f"Turn on '{label}' in the journey's settings, or branch on delivered, replied or failed instead.")
    return None


def check_tracking(journey: Journey, public_url: str, report: Report) -> None:
    """Calls `report` for every message-status step on opened/clicked of an email, and every send step
    whose recipients depend on opening or clicking the previous message, when opens and clicks are not
    measured (see `_why`)."""
    why = _why(journey, public_url)
    if why is None:
        return
    reason, hint = why
    for node in journey.nodes.values():
        if node.kind == "message_status" and node.config.get("status") in OPEN_CLICK_STATUSES:
            target = journey.nodes.get(str(node.config.get("step") or ""))
            if target is None or target.kind != "send_template" or target.config.get("channel") != "email":
                continue        # not an email step: validation says what is wrong with the reference already
            report(node, "/config/status", f"This step waits for an open or click, but {reason}: "
                                           "it will take \"No\" for everyone", hint)
        elif node.kind == "send_template" and node.config.get("recipients") == "matching":
            for i, term in enumerate(node.config.get("terms") or []):
                if isinstance(term, dict) and term.get("term") in OPEN_CLICK_TERMS:
                    report(node, f"/config/terms/{i}/term", f"Who gets this message depends on opening or "
                                                            f"clicking the previous one, but {reason}", hint)

"""Small builders for journeys used across the journey tests."""
from __future__ import annotations

from app.journey.model import Journey

HOUR = {"amount": 1, "unit": "hours"}


def linear(*steps: tuple[str, dict], name: str = "Test journey") -> Journey:
    """trigger → steps…, the last step marked as the end."""
    journey = Journey(name=name)
    previous = journey.add_node("trigger", {"mode": "event", "event": "cart_abandoned"})
    for kind, config in steps:
        node = journey.add_node(kind, config)
        journey.connect(previous.id, node.id)
        previous = node
    previous.ends = tuple(o.name for o in previous.spec.outcomes)
    return journey


def email(subject: str = "Hello {{ contact.first_name }}",
          text: str = "Hi there\n\nUnsubscribe: {{ unsubscribe_url }}") -> tuple[str, dict]:
    return "send_template", {"channel": "email", "sender": "Shop <shop@example.com>", "subject": subject, "text": text}

"""Validation of a 10,000-node journey (target: under 100 ms)."""
from __future__ import annotations

import random
import time

from app.journey.model import Journey
from app.journey.templates import inspect_template
from app.journey.validate import validate

TARGET_MS = 100.0


def generated_journey(size: int, *, seed: int = 7, distinct_templates: int = 200) -> Journey:
    """A large, valid journey shaped like real ones: chains of sends and waits that
    branch on message status, each branch continuing. Templates come from a pool of
    variants, as real journeys reuse copy across steps."""
    rng = random.Random(seed)
    journey = Journey(name=f"Generated {size}")
    trigger = journey.add_node("trigger", {"event": "cart_abandoned"})
    frontier = [(trigger.id, "next", None)]
    count, column = 1, 0
    while count < size:
        source, outcome, last_send = frontier.pop(0)
        column += 1
        wait = journey.add_node("wait", {"delay": {"amount": rng.randint(1, 48), "unit": "hours"}},
                                position=(column * 260.0, rng.uniform(-2000, 2000)))
        journey.connect(source, wait.id, outcome)
        variant = rng.randrange(distinct_templates)
        send = journey.add_node("send_template", {
            "subject": f"Offer {variant} for {{{{ contact.first_name }}}}",
            "text": f"Hi {{{{ contact.first_name | default('there') }}}}, variant {variant}: "
                    "{% for item in event.items %}{{ item.name }} {% endfor %}"})
        journey.connect(wait.id, send.id)
        status = journey.add_node("message_status", {"step": send.id, "status": "opened"})
        journey.connect(send.id, status.id)
        count += 3
        for branch in ("yes", "no"):
            if count + len(frontier) < size:
                frontier.append((status.id, branch, send.id))
            else:
                status.ends += (branch,)
        if not frontier:
            break
    for source, outcome, _ in frontier:
        node = journey.nodes[source]
        node.ends += (outcome,)
    return journey


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run() -> list[str]:
    journey = generated_journey(10_000)
    inspect_template.cache_clear()
    started = time.perf_counter()
    problems = validate(journey)
    cold = (time.perf_counter() - started) * 1000
    warm = _best_of(lambda: validate(journey), 5)
    verdict = "ok" if warm < TARGET_MS else "OVER TARGET"
    return [
        f"journey: {len(journey.nodes):,} nodes, {len(journey.edges):,} edges, {len(problems)} problems",
        f"validate, templates already parsed (live editing): {warm:.1f} ms  "
        f"(target < {TARGET_MS:.0f} ms: {verdict})",
        f"validate, first time (parses every distinct template): {cold:.1f} ms",
    ]

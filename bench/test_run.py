"""Test run wall time per example journey (target < 300 ms each, the throwaway database included).

Each example runs for a described contact with a script that exercises it (an open, an order), the
median of a few runs after one warm-up (the first run of a process also makes the empty schema it
copies, and imports the engine).
"""
from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone

from app.engine.test_run import TestContact, TestScript, parse_then, run_test
from app.examples import load_example

TARGET_MS = 300
RUNS = 5
SCRIPTS = (("cart_abandonment", "cart_abandoned", ("opened@+2h", "ordered@+2d:40")),
           ("post_purchase", "order_placed", ("opened@+1h",)),
           ("welcome_series", "subscribed", ("opened@+1h", "opened@+1h")),
           ("win_back", "no_order", ("nothing",)),
           ("vip_loyalty", "spend", ("nothing",)))
CONTACT = TestContact(id="bench", first_name="Emma", email="emma@example.com", phone="+447700900123",
                      timezone="Europe/London", consent={"email": "subscribed", "sms": "subscribed",
                                                         "whatsapp": "subscribed"})
AT = datetime(2026, 3, 2, 19, 30, tzinfo=timezone.utc)


def run() -> list[str]:
    lines = []
    first = True
    for stem, event, then in SCRIPTS:
        journey = load_example(stem)
        script = TestScript(CONTACT, event, AT, then=tuple(parse_then(t) for t in then))
        if first:
            started = time.perf_counter()
            run_test(journey, script)
            lines.append(f"first test run of the process (makes the empty schema): "
                         f"{(time.perf_counter() - started) * 1000:.0f} ms")
            first = False
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            result = run_test(journey, script)
            times.append((time.perf_counter() - started) * 1000)
        median = statistics.median(times)
        lines.append(f"test run {stem:<17} {median:6.0f} ms median of {RUNS} (target < {TARGET_MS} ms) "
                     f"{'ok' if median < TARGET_MS else 'SLOW'}; {len(result.entries)} story lines, end: {result.end}")
    from app.engine import test_run_engine

    journey = load_example("cart_abandonment")
    script = TestScript(CONTACT, "cart_abandoned", AT, then=(parse_then("opened@+2h"),))
    times = []
    for _ in range(RUNS):
        test_run_engine._TEMPLATES._compiled.clear()       # as after editing every template
        started = time.perf_counter()
        run_test(journey, script)
        times.append((time.perf_counter() - started) * 1000)
    lines.append(f"test run cart_abandonment, every template compiled anew: {statistics.median(times):.0f} ms median")
    return lines

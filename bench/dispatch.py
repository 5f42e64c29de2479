"""Dispatcher throughput (issue 10): messages per second to a local SMTP server and to a local HTTP
provider, with 1 and with N concurrent connections, the providers' rate limits off.

Targets: ≥ 200 emails/s and ≥ 500 HTTP messages/s on a 2-core machine. The servers (aiosmtpd and a
stdlib ThreadingHTTPServer, tests/delivery/dispatch_servers.py) run in a process of their own, so they
do not share this process's interpreter lock; the channels are the tests' pluggable ones
(tests/delivery/dispatch_channels.py). Each result is recorded in its own transaction on a SQLite file,
as in real use. `JOURNEYS_BENCH_DISPATCH=N` changes the number of messages per run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.engine.clock import SystemClock
from app.store.db import open_database
from app.store.tables import messages

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"email": 200.0, "sms": 500.0}


def _queue(db, channel: str, count: int, tag: str) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(timezone.utc)
    recipient = (lambda i: f"c{i}@shop.test") if channel == "email" else (lambda i: f"+1555{i:07d}")
    rows = [{"idempotency_key": f"bench:{tag}:{i}", "channel": channel, "recipient": recipient(i),
             "status": "queued", "subject": "Your cart is waiting", "body_text": "Hi, your cart is waiting.",
             "scheduled_at": now, "created_at": now} for i in range(count)]
    with db.begin() as conn:
        conn.execute(messages.insert(), rows)


def run() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from tests.delivery.dispatch_channels import open_test_channel

    count = int(os.environ.get("JOURNEYS_BENCH_DISPATCH", "2000"))
    servers = subprocess.Popen([sys.executable, "-m", "tests.delivery.dispatch_servers"], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert servers.stdout is not None
    port_text, url = servers.stdout.readline().split()
    lines = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for channel, workers in (("email", 1), ("email", 4), ("sms", 1), ("sms", 8)):
                db = open_database(f"sqlite:///{Path(folder) / f'{channel}-{workers}.sqlite3'}")
                _queue(db, channel, count, f"{channel}{workers}")
                dispatcher = Dispatcher(db, lambda name: open_test_channel(name, int(port_text), url),
                                        clock=SystemClock(), config=DispatchConfig(workers={channel: workers}))
                started = time.perf_counter()
                done = dispatcher.dispatch()
                took = time.perf_counter() - started
                with db.connect() as conn:
                    sent = conn.execute(select(func.count()).where(messages.c.status == "sent")).scalar_one()
                db.dispose()
                rate = done.sent / took
                what = "SMTP" if channel == "email" else "HTTP"
                mark = "ok" if rate >= TARGETS[channel] else f"below the target of {TARGETS[channel]:.0f}/s"
                lines.append(f"{what} {workers} connection{'s' if workers > 1 else ''}: {done.sent:,} messages "
                             f"in {took:.2f} s = {rate:,.0f}/s ({mark}); {sent:,} marked sent")
    finally:
        servers.communicate("", timeout=30)
    return lines

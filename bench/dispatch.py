"""Dispatcher throughput (issue 10): messages per second through the real channels — EmailChannel
(MIME built by the `email` package, the plain-text part generated from the HTML, smtplib) to a local
SMTP server, and TwilioChannel (httpx, keep-alive) to a local server speaking Twilio's Messages API —
with 1 and with N concurrent connections, the providers' rate limits off.

Targets: ≥ 200 emails/s and ≥ 500 HTTP messages/s on a 2-core machine. The servers
(tests/delivery/smtp_servers.py, tests/delivery/provider_servers.py) run in processes of their own,
so they do not share this process's interpreter lock. Each result is recorded in its own transaction
on a SQLite file, as in real use. `JOURNEYS_BENCH_DISPATCH=N` changes the number of messages per run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.delivery.channels import open_channel
from app.delivery.dispatcher import DispatchConfig, Dispatcher
from app.delivery.settings import DeliverySettings, EmailSettings, TwilioSettings
from app.engine.clock import SystemClock
from app.store.db import open_database
from app.store.tables import messages

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"email": 200.0, "sms": 500.0}
HTML = ("<html><body><h1>Your cart is waiting, Ann</h1><p>You left <b>2 items</b> in your cart:</p>"
        "<ul><li>Blue mug — €12.00</li><li>Tea towel — €8.50</li></ul>"
        '<p><a href="https://shop.example/cart/abc">Back to your cart</a></p>'
        '<p><a href="https://shop.example/u/x">Unsubscribe</a></p></body></html>')


def _queue(db: Any, channel: str, count: int, tag: str) -> None:
    now = datetime.now(timezone.utc)
    recipient = (lambda i: f"c{i}@shop.example") if channel == "email" else (lambda i: f"+447700{i:06d}")
    rows = [{"idempotency_key": f"bench:{tag}:{i}", "channel": channel, "recipient": recipient(i),
             "status": "queued", "subject": "Your cart is waiting" if channel == "email" else None,
             "body_html": HTML if channel == "email" else None,
             "body_text": None if channel == "email" else "Hi Ann, your cart is waiting: https://shop.example/c/abc",
             "scheduled_at": now, "created_at": now} for i in range(count)]
    with db.begin() as conn:
        conn.execute(messages.insert(), rows)


def _server(module: str, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def run() -> list[str]:
    sys.path.insert(0, str(ROOT))
    count = int(os.environ.get("JOURNEYS_BENCH_DISPATCH", "2000"))
    smtp, smtp_info = _server("tests.delivery.smtp_servers", "--security", "none")
    twilio, twilio_info = _server("tests.delivery.provider_servers")
    os.environ["JOURNEYS_TWILIO_AUTH_TOKEN"] = twilio_info["auth_token"]
    settings = DeliverySettings(
        email=EmailSettings(host="127.0.0.1", port=smtp_info["port"], security="none", username="",
                            sender="Corner Shop <hello@shop.example>", rate_per_second=0))
    settings.sms.twilio = TwilioSettings(account_sid=twilio_info["account_sid"], sender=twilio_info["number"],
                                         api_base=twilio_info["url"])
    settings.sms.rate_per_second = 0
    lines = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            for channel, workers in (("email", 1), ("email", 4), ("sms", 1), ("sms", 8)):
                db = open_database(f"sqlite:///{Path(folder) / f'{channel}-{workers}.sqlite3'}")
                _queue(db, channel, count, f"{channel}{workers}")
                dispatcher = Dispatcher(db, lambda name: open_channel(settings, name), clock=SystemClock(),
                                        config=DispatchConfig(workers={channel: workers}))
                started = time.perf_counter()
                done = dispatcher.dispatch()
                took = time.perf_counter() - started
                with db.connect() as conn:
                    sent = conn.execute(select(func.count()).where(messages.c.status == "sent")).scalar_one()
                db.dispose()
                rate = done.sent / took
                what = "SMTP (EmailChannel)" if channel == "email" else "HTTP (TwilioChannel)"
                mark = "ok" if rate >= TARGETS[channel] else f"below the target of {TARGETS[channel]:.0f}/s"
                lines.append(f"{what} {workers} connection{'s' if workers > 1 else ''}: {done.sent:,} messages "
                             f"in {took:.2f} s = {rate:,.0f}/s ({mark}); {sent:,} marked sent")
    finally:
        smtp.communicate("", timeout=60)
        twilio.communicate("", timeout=60)
    return lines

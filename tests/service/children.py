"""`journeys serve` and `journeys …` commands in child processes, on one virtual clock (a file, see
app/engine/clock.py FileClock), for the background service's end-to-end tests.

`Shop(tmp_path, smtp)` is a SQLite database on disk with the email channel pointed at a local aiosmtpd
server, one contact per name, the checkout-recovery journey active, and the clock at 10:00 UTC on a
Monday (quiet hours end at 08:00). `shop.serve()` starts a service child; `shop.journeys(...)` runs a
command; `shop.advance(hours=1)` moves every process's time.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from app.delivery.settings import load_settings, save_settings
from app.store.db import open_database
from app.store.tables import messages, runs

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
PATIENCE = 90.0         # seconds before a child is declared stuck (never reached on a healthy run)
EXAMPLE = ROOT / "resources" / "examples" / "checkout_recovery.json"
FAST = ["--tick-seconds", "0.2", "--outbox-seconds", "0.2", "--scan-seconds", "1",
        "--heartbeat-seconds", "0.5", "--lease-seconds", "2"]


def wait_until(check: Callable[[], Any], what: str | Callable[[], str], patience: float = PATIENCE) -> Any:
    """Polls `check` until it returns something true; fails naming `what` (a text, or a function
    giving it then) after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what if isinstance(what, str) else what()} "
                                 f"after {patience:.0f} s")
        time.sleep(0.05)


class ServeChild:
    """A `journeys serve` child process; its stdout lines are collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", *args], env=env, cwd=ROOT,
                                     text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, start: str) -> str | None:
        return next((line for line in self.lines if line.startswith(start)), None)

    def wait_for(self, start: str) -> str:
        def seen() -> str | None:
            if self.proc.poll() is not None and not self.said(start):
                raise AssertionError(f"the service exited ({self.proc.returncode}) before saying {start!r}: "
                                     f"{self.lines} {self.proc.stderr.read() if self.proc.stderr else ''}")
            return self.said(start)
        return str(wait_until(seen, lambda: f"the service to say {start!r} (it said {self.lines})"))

    @property
    def url(self) -> str:
        return self.wait_for("Listening on ").split()[2]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=PATIENCE)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class Shop:
    """The database, the clock file and the environment every child of one test shares."""

    def __init__(self, tmp_path: Path, smtp: Any, contacts: tuple[str, ...] = ("ann", "bob", "cho"),
                 url: str | None = None, rate: float = 0) -> None:
        self.tmp = tmp_path
        self.url = url or f"sqlite:///{tmp_path / 'shop.sqlite3'}"
        self.clock_file = tmp_path / "clock"
        self.now = START
        self._write_clock()
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "JOURNEYS_TEST_CLOCK": str(self.clock_file),
                    "JOURNEYS_LOG_FILE": str(tmp_path / "journeys.log"), "PYTHONUNBUFFERED": "1"}
        self.env.pop("JOURNEYS_DB", None)
        self.db = open_database(self.url)
        settings = load_settings(self.db)
        settings.email = smtp.settings(sender="Corner Shop <hello@cornershop.example>", rate_per_second=rate)
        save_settings(self.db, settings)
        self.children: list[ServeChild] = []
        rows = "".join(f"{name},{name}@shop.example,{name.title()},email\n" for name in contacts)
        (tmp_path / "contacts.csv").write_text("id,email,first_name,subscribed\n" + rows)
        self.journeys("contacts", "import", str(tmp_path / "contacts.csv"))
        self.journeys("import", str(EXAMPLE))
        self.journeys("activate", "Checkout recovery")

    def _write_clock(self) -> None:
        partial = self.clock_file.with_suffix(".new")
        partial.write_text(self.now.isoformat())
        partial.replace(self.clock_file)          # atomic: a reader never sees half a time

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        self._write_clock()
        return self.now

    def journeys(self, *args: str) -> str:
        """Runs `journeys ARGS --db URL` on the shared clock; returns its stdout (fails on a non-zero exit)."""
        done = subprocess.run([sys.executable, "-m", "app.cli", *args, "--db", self.url], env=self.env, cwd=ROOT,
                              text=True, capture_output=True, timeout=PATIENCE)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def serve(self, *extra: str, log_name: str | None = None) -> ServeChild:
        log = self.tmp / (log_name or f"service-{len(self.children)}.jsonl")
        child = ServeChild(["--db", self.url, "--listen", "127.0.0.1:0", "--log-file", str(log), *FAST, *extra],
                           self.env)
        self.children.append(child)
        return child

    def event(self, contact: str, kind: str, *, key: str, **properties: Any) -> None:
        """One event through `journeys events import`, at the clock's time."""
        path = self.tmp / f"{key}.jsonl"
        path.write_text(json.dumps({"id": key, "contact": contact, "type": kind, "at": self.now.isoformat(),
                                    "properties": properties}) + "\n")
        self.journeys("events", "import", str(path))

    def checkout(self, *contacts: str) -> None:
        """A checkout for each contact, in one `journeys events import`."""
        path = self.tmp / f"checkouts-{self.now:%H%M%S}-{contacts[0]}.jsonl"
        path.write_text("".join(json.dumps({
            "id": f"checkout-{contact}-{self.now:%H%M}", "contact": contact, "type": "checkout_started",
            "at": self.now.isoformat(), "properties": {
                "total": 42.5, "currency": "USD", "cart_url": f"https://cornershop.example/cart/{contact}",
                "items": [{"name": "Tea tin", "quantity": 1, "price": 42.5}]}}) + "\n" for contact in contacts))
        self.journeys("events", "import", str(path))

    def order(self, contact: str) -> None:
        self.event(contact, "order_placed", key=f"order-{contact}-{self.now:%H%M}", order_id=f"O-{contact}",
                   total=42.5, currency="USD")

    def messages(self) -> list[dict[str, Any]]:
        with self.db.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(messages).order_by(messages.c.id))]

    def run_status(self, contact: str) -> list[str]:
        with self.db.connect() as conn:
            return list(conn.execute(select(runs.c.status).where(runs.c.contact_id == contact)).scalars())

    def close(self) -> None:
        for child in self.children:
            child.close()
        self.db.dispose()


def arrived(smtp: Any, address: str) -> list[Any]:
    """The mails the server accepted for `address`."""
    return [m for m in smtp.received if address in m.rcpt_tos]

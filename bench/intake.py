"""HTTP intake on loopback (issue 13 §2): the receiver (`python -m app.intake`, its own process, a
SQLite file) under 50 concurrent keep-alive clients (bench/_intake_load.py, another process) for 60 s:

- batch: `POST /v1/batch` with 100 Segment track calls each — target ≥ 5,000 events/s;
- single: `POST /v1/track`, one call each — target ≥ 1,500 requests/s;

with p50/p99 latency, and count in = count stored (every call answered 2xx is a row of the inbox,
none twice). The receiver stores only (`--no-apply`), as the HTTP side's figure; then the engine's
intake job applies the stored calls and its rate is printed too. `JOURNEYS_BENCH_INTAKE_SECONDS`
changes the duration (default 60), `JOURNEYS_BENCH_INTAKE_CLIENTS` the clients (default 50).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.engine.engine import JourneyEngine
from app.intake.apply import apply_pending
from app.intake.config import receiver_token
from app.store.db import open_database
from app.store.tables import intake_requests

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"batch": 5_000.0, "single": 1_500.0}
BATCH = 100


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _round(mode: str, seconds: float, clients: int, folder: Path) -> list[str]:
    url = f"sqlite:///{folder / f'{mode}.sqlite3'}"
    db = open_database(url)
    token = receiver_token(db)
    port = _port()
    server = subprocess.Popen([sys.executable, "-m", "app.intake", "--db", url, "--listen", f"127.0.0.1:{port}",
                               "--no-apply"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", headers={"Authorization": f"Bearer {token}"}, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        load = subprocess.run([sys.executable, "-m", "bench._intake_load", str(port), token, mode, str(clients),
                               str(seconds), str(BATCH)], cwd=ROOT, capture_output=True, text=True, check=True)
        found = json.loads(load.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=60)
    with db.connect() as conn:
        stored = int(conn.execute(select(func.count()).select_from(intake_requests)).scalar_one())
    rate = found["events"] / found["seconds"]
    unit = "events/s" if mode == "batch" else "requests/s"
    shown = rate if mode == "batch" else found["ok"] / found["seconds"]
    verdict = "ok" if shown >= TARGETS[mode] else f"BELOW the target of {TARGETS[mode]:,.0f}"
    lines = [f"{mode}: {shown:,.0f} {unit} for {found['seconds']:.0f} s with {clients} clients ({verdict}); "
             f"p50 {found['p50']:.1f} ms, p99 {found['p99']:.1f} ms, max {found['max']:.0f} ms; "
             f"{found['other']} non-2xx",
             f"{mode}: count in {found['events']:,} (answered 2xx) = count stored {stored:,}: "
             f"{'yes' if stored == found['events'] else 'NO'}"]
    if mode == "batch":
        engine = JourneyEngine(db)
        started = time.perf_counter()
        done = apply_pending(engine)
        took = time.perf_counter() - started
        lines.append(f"applied afterwards by the intake job: {done.stored:,} events in {took:.1f} s "
                     f"({done.stored / took if took else 0:,.0f} events/s through JourneyEngine.ingest)")
    db.dispose()
    return lines


def run() -> list[str]:
    seconds = float(os.environ.get("JOURNEYS_BENCH_INTAKE_SECONDS", "60"))
    clients = int(os.environ.get("JOURNEYS_BENCH_INTAKE_CLIENTS", "50"))
    with tempfile.TemporaryDirectory() as folder:
        return [line for mode in ("batch", "single") for line in _round(mode, seconds, clients, Path(folder))]


if __name__ == "__main__":
    print("\n".join(run()))

"""Preview of the cart email after a keystroke (target: under 50 ms): the step copied off the draft and
rendered for a loaded contact (what the app's worker does 150 ms after the last key), and, once per
contact choice, loading the contact and their event from the store."""
from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from app.engine.importers import import_contacts, parse_contacts
from app.engine.preview import StepSnapshot, load_subject, render_preview, trigger_event_type
from app.journey.fileformat import load
from app.paths import RESOURCES, SAMPLE_CONTACTS
from app.store.db import open_database
from app.store.tables import events

TARGET_MS = 50.0
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


def run() -> list[str]:
    journey = load(RESOURCES / "examples" / "cart_abandonment.json")
    email = next(n for n in journey.nodes.values() if n.kind == "send_template" and n.config["channel"] == "email")
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(str(Path(folder) / "bench.sqlite3"))
        rows, _ = parse_contacts(SAMPLE_CONTACTS.read_text(encoding="utf-8"))
        import_contacts(db, rows, NOW)
        with db.begin() as conn:
            conn.execute(events.insert().values(
                contact_id="c001", type="cart_abandoned", occurred_at=NOW, received_at=NOW, idempotency_key="b1",
                properties={"cart_url": "https://shop.example/c/1", "currency": "USD", "items": [
                    {"name": f"Item {i}", "quantity": 1, "price": 9.5 + i} for i in range(5)]}))
        loads, renders = [], []
        subject = None
        for _ in range(20):
            started = time.perf_counter()
            subject = load_subject(db, StepSnapshot.of(journey, email.id), trigger_event_type(journey), "c001")
            loads.append((time.perf_counter() - started) * 1000)
        assert subject is not None
        original = email.config["html"]
        for i in range(100):
            email.config["html"] = original + "x" * i            # a keystroke: the template changed
            started = time.perf_counter()
            preview = render_preview(StepSnapshot.of(journey, email.id), subject)
            renders.append((time.perf_counter() - started) * 1000)
            assert preview.error is None
        db.dispose()
    p95 = sorted(renders)[int(len(renders) * 0.95) - 1]
    verdict = "ok" if p95 < TARGET_MS else "SLOW"
    return [f"cart email render after a keystroke: median {statistics.median(renders):.1f} ms, p95 {p95:.1f} ms "
            f"(target < {TARGET_MS:.0f} ms) {verdict}",
            f"loading a contact and their event: median {statistics.median(loads):.1f} ms (once per contact choice)"]

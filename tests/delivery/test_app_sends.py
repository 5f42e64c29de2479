"""Issue 10's "done when": a journey activated in the app sends real email to a local SMTP server.

The whole way a shop owner's message takes: Settings → Channels stored in the database (STARTTLS and a
login, the password from the product's environment variable, the server's certificate trusted through
the system's CA file as a real one would be), the journey activated through the app's EngineHost as the
Activate button does, the contact's event ingested, and the app's own live engine — its tick and its
outbox job, the real dispatcher with the real EmailChannel — sending it. A contact who opted out of
email gets nothing."""
from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parseaddr

from sqlalchemy import select

from app.delivery.email_message import message_id_for
from app.delivery.unsubscribe import signing_key
from app.delivery.settings import load_settings, save_settings
from app.engine.ingest import EventIn
from app.engine.contact_import import import_contacts
from app.engine.importers import parse_contacts
from app.engine.stats import journey_stats
from app.journey.fileformat import to_document
from app.store.db import open_database
from app.store.journeys import JourneyStore
from app.store.tables import messages
from app.ui.engine_host import EngineHost

from ..engine.helpers import CONTACTS, chain, send_node, simple_journey
from .smtp_servers import PASSWORD, smtp_ca, smtp_plain_server, smtp_server  # noqa: F401 - fixtures


def test_a_journey_activated_in_the_app_sends_real_email_to_the_local_smtp_server(
        qtbot, db_url, app_fonts, smtp_server, smtp_ca, monkeypatch, tmp_path):  # noqa: F811
    ca_file = tmp_path / "ca.pem"
    smtp_ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))           # as if the server's CA were a public one
    monkeypatch.setenv("JOURNEYS_SMTP_PASSWORD", PASSWORD)
    db = open_database(db_url)
    settings = load_settings(db)
    settings.email = smtp_server.settings()
    save_settings(db, settings)
    journey = simple_journey("Cart rescue")
    email = send_node(journey, subject="{{ contact.first_name }}, your cart is waiting",
                      html="<p>Hi {{ contact.first_name }}, <a href=\"https://shop.example/c\">your cart</a></p>",
                      text="")
    chain(journey, journey.trigger(), email)
    journey_id = JourneyStore(db).create(to_document(journey)).id
    rows, _ = parse_contacts(CONTACTS)
    import_contacts(db, rows, datetime.now(timezone.utc))

    host = EngineHost(db)
    failures: list[tuple[str, str]] = []
    host.job_failed.connect(lambda name, text: failures.append((name, text)))
    activated: list[int] = []
    host.submit(lambda: host.engine.activate(journey_id), activated.append)      # what Activate does
    qtbot.waitUntil(lambda: bool(activated), timeout=10_000)
    host.start()
    try:
        now = datetime.now(timezone.utc)
        host.submit(lambda: host.engine.ingest([EventIn(c, "cart_abandoned", now, {}, f"cart-{c}")
                                                for c in ("ann", "bob")]), lambda _: None)
        qtbot.waitUntil(lambda: len(smtp_server.received) >= 1, timeout=60_000)
        with db.connect() as conn:
            sent = {r.recipient: r for r in conn.execute(select(messages))}
        qtbot.waitUntil(lambda: _status(db, "ann@example.com") == "sent", timeout=10_000)
    finally:
        host.shutdown()
    assert failures == []
    assert len(smtp_server.received) == 1                        # bob opted out of email: nothing for him
    mail = smtp_server.received[0]
    assert mail.rcpt_tos == ["ann@example.com"]
    message = mail.message
    assert message["Subject"] == "Ann, your cart is waiting"
    assert parseaddr(str(message["From"]))[1] == "shop@example.com"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "your cart" in message.get_body(("plain",)).get_content()      # generated from the HTML
    row = sent["ann@example.com"]
    assert message["Message-ID"] == message_id_for(row.idempotency_key, "example.com", signing_key(db))
    with db.connect() as conn:
        ann = conn.execute(select(messages).where(messages.c.recipient == "ann@example.com")).one()
    assert (ann.status, ann.attempts, ann.provider_id) == ("sent", 1, message["Message-ID"])
    assert "bob@example.com" not in sent or sent["bob@example.com"].status != "sent"
    assert journey_stats(db, journey_id).nodes[email.id].sent == 1
    db.dispose()


def _status(db, recipient: str) -> str | None:
    with db.connect() as conn:
        return conn.execute(select(messages.c.status).where(messages.c.recipient == recipient)).scalar()


def test_sigterm_closes_the_app_like_its_window_ending_the_engine_properly(tmp_path, smtp_plain_server):  # noqa: F811
    """A log-out or system shutdown sends the app SIGTERM. Before: the process died at once, mid-send
    for all it knew (the message in hand left `unknown`, its claim stuck until the lease ran out); now
    the app quits as when its window is closed, and the engine's shutdown lets the dispatcher finish."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from .dispatch_helpers import START, queue

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    db = open_database(url)
    settings = load_settings(db)
    settings.email = smtp_plain_server.settings()
    save_settings(db, settings)
    queue(db, ["ann@example.com"], at=START)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "JOURNEY_STUDIO_NO_QUESTIONS": "1",
           "JOURNEYS_LOG_FILE": str(tmp_path / "app.log"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONPATH": str(root)}
    app = subprocess.Popen([sys.executable, "main.py", "--db", url], cwd=root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not smtp_plain_server.received and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.05)
        if not smtp_plain_server.received:
            app.kill()
            log = (tmp_path / "app.log").read_text() if (tmp_path / "app.log").exists() else ""
            raise AssertionError(f"the app's engine never sent the queued message: {app.stderr.read()}\n{log}"
                                 f"\n{_status(db, 'ann@example.com')}")
        app.send_signal(signal.SIGTERM)
        code = app.wait(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert code == 0, app.stderr.read() if app.stderr else code
    assert _status(db, "ann@example.com") == "sent"
    db.dispose()

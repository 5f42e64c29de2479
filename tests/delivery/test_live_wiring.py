"""The app's live engine runs the real dispatcher as its outbox job (nothing pretends a message went
out), and says when a channel is not set up."""
from __future__ import annotations

from app.delivery.dispatcher import Dispatcher
from app.store.db import open_database
from app.ui.engine_host import EngineHost

from .dispatch_helpers import queue, rows


def test_the_apps_outbox_job_is_the_dispatcher_and_says_what_is_not_set_up(qtbot, db_url, app_fonts):
    db = open_database(db_url)
    host = EngineHost(db)
    notices: list[str] = []
    host.delivery_notice.connect(notices.append)
    host.start()
    try:
        qtbot.waitUntil(lambda: host.live is not None, timeout=10_000)     # once the engine lease is taken
        assert host.live is not None and host.live.outbox is not None
        assert isinstance(host.live.outbox.dispatcher, Dispatcher)      # type: ignore[attr-defined]
        assert "outbox" in host.live.job_ids()
        queue(db, ["ann@shop.test"])
        host.live.outbox.dispatch()
        qtbot.waitUntil(lambda: bool(notices), timeout=5000)
        assert notices[0].startswith("email is not set up: 1 message waiting")
        assert rows(db)["ann@shop.test"]["status"] == "queued"          # waits; neither sent nor failed
        host.live.outbox.dispatch()
        qtbot.wait(50)
        assert len(notices) == 1                                        # said once, not every round
    finally:
        host.shutdown()
        db.dispose()

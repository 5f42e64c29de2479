"""Renders docs/test-run.png (the README's lit test run) from a REAL run of the cart-abandonment example:
the real engine through app/engine/test_run.run_test, driven through the Test run panel as a user would.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_test_run_screenshot.py [OUT.png]

A throwaway database in a temporary folder; the business in London, the contact (described in the panel)
in New York, whose cart is abandoned at 21:30 on a Monday and who then does nothing: the email waits for
the end of quiet hours, is not opened, and the discount SMS goes out the next morning.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(out: str) -> int:
    from PySide6.QtCore import QDateTime
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from app.ui.typography import install_app_fonts

    install_app_fonts(app)
    from app.examples import seed_examples
    from app.store.app_settings import set_business_timezone
    from app.store.db import open_database
    from app.store.journeys import JourneyStore
    from app.ui.main_window import SCREENSHOT_SIZE, MainWindow

    with tempfile.TemporaryDirectory() as folder:
        store = JourneyStore(open_database(f"sqlite:///{folder}/journeys.sqlite3"))
        seed_examples(store)
        set_business_timezone(store.engine, "Europe/London")
        window = MainWindow(store)
        window.resize(SCREENSHOT_SIZE)
        window.show()
        row = store.find("Cart abandonment")
        assert row is not None and window.open_journey(row.id)
        window.actions_["test_run"].trigger()
        panel = window.test_run
        deadline = time.monotonic() + 30      # the panel warms the engine up while a user fills it in
        while panel.pool._pool.activeThreadCount() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        panel.contact.zone.set_value("America/New_York")
        panel.contact.zone.picked.emit("America/New_York")      # as a choice in the list does
        panel.trigger.at.setDateTime(QDateTime(datetime(2026, 3, 2, 21, 30)))
        panel.run()
        deadline = time.monotonic() + 30
        while (panel.running or panel.last is None) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        if panel.last is None:
            print(f"the test run did not finish: {panel.result.text()}", file=sys.stderr)
            return 1
        assert window.editor is not None
        window.editor.validator.wait()
        window._show_problems()
        for _ in range(5):
            app.processEvents()
        window.editor.view.fit()
        app.processEvents()
        ok = window.grab().toImage().save(out)
        window.close()
        store.engine.dispose()
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "test-run.png")))

"""Fixtures for main-window tests: a real SQLite store under tmp_path, seeded with the examples."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.examples import seed_examples
from app.store.db import open_database
from app.store.journeys import JourneyStore
from app.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _shipped_fonts(app_fonts) -> None:
    """Every Qt test renders and measures with the fonts the app ships, not the machine's."""


@pytest.fixture(autouse=True)
def _receiver_on_a_free_port(monkeypatch) -> None:
    """A window that runs the engine also listens (the receiver): unless a test sets the listen
    address, on a free port rather than 127.0.0.1:8765, which a real service may use."""
    from app.intake.config import LISTEN_KEY
    from app.store.app_settings import get_setting

    def setting_or_free_port(db) -> str:
        with db.connect() as conn:
            return get_setting(conn, LISTEN_KEY) or "127.0.0.1:0"
    monkeypatch.setattr("app.service.parts.listen_setting", setting_or_free_port)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "journeys.sqlite3"


@pytest.fixture
def store(db_path: Path) -> JourneyStore:
    store = JourneyStore(open_database(f"sqlite:///{db_path}"))
    seed_examples(store)
    return store


@pytest.fixture
def window(qtbot, store) -> MainWindow:
    window = MainWindow(store)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    row = store.find("Cart abandonment")
    assert window.open_journey(row.id)
    return window


def kind_node(window: MainWindow, kind: str):
    return next(n for n in window.editor.journey.nodes.values() if n.kind == kind)

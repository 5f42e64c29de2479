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

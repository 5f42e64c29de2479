"""Templates in the editor know the contacts and events the shop has actually imported."""
from __future__ import annotations

from PySide6.QtTest import QTest

from app.cli import main as journeys
from app.paths import RESOURCES, SAMPLE_CONTACTS
from app.ui.main_window import MainWindow

from .conftest import kind_node


def _import_samples(db_path) -> None:
    assert journeys(["contacts", "import", str(SAMPLE_CONTACTS), "--db", str(db_path)]) == 0
    assert journeys(["events", "import", str(RESOURCES / "sample_events.jsonl"), "--db", str(db_path)]) == 0


def test_suggestions_and_live_validation_use_the_imported_names(qtbot, store, db_path):
    _import_samples(db_path)
    window = MainWindow(store)
    qtbot.addWidget(window)
    window.show()
    assert window.open_journey(store.find("Cart abandonment").id)
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    text = window.inspector.builder.editors[("config", "subject")].text
    suggestions = text.completer.model().stringList()
    assert "contact.city" in suggestions and "event.cart_url" in suggestions   # seen in the samples
    text.setFocus()
    text.selectAll()
    QTest.keyClicks(text, "News from {{ contact.citty }}")
    problems = [p for p in window.editor.validator.wait() if "not measured" not in p.message]   # opens: no public URL
    assert [(p.node_id, p.message) for p in problems] == [
        (send.id, "Subject: 'contact.citty' is not among the contact fields and attributes seen so far")]
    assert problems[0].hint == "Did you mean contact.city?"

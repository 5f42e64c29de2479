"""Live validation never runs a template on the GUI thread (issue 9, section 4).

The order of events shows it, not the time: a timer queued *before* validation starts fires
before validation's result arrives. Were validation to run on the GUI thread, its result would
come first (and the window would freeze while a hostile template ran).
"""
from __future__ import annotations

import threading
import uuid

from PySide6.QtCore import QTimer

import app.canvas.validation as live
from app.canvas.document import JourneyDocument
from app.canvas.validation import LiveValidator

from ..journey.helpers import email, linear

RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def _hostile(tag: str = "") -> str:
    # A fresh source each time: validation caches what it learnt about a template by its text.
    return "{{ 9**(9**9) }}" + f"{{# {tag or uuid.uuid4()} #}}"


def test_validation_of_a_runaway_template_runs_off_the_gui_thread(qtbot, monkeypatch):
    threads: list[int] = []
    real = live.validate

    def recording(journey, **kwargs):
        threads.append(threading.get_ident())
        return real(journey, **kwargs)

    monkeypatch.setattr(live, "validate", recording)
    doc = JourneyDocument(linear(email(subject=_hostile(), text=RUNAWAY + f"{{# {uuid.uuid4()} #}}")))
    validator = LiveValidator(doc)
    events: list[str] = []
    validator.checked.connect(lambda: events.append("validated"))
    QTimer.singleShot(0, lambda: events.append("the window's own timer"))
    validator.run_now()
    assert events == []                       # run_now returned at once, without the result
    qtbot.waitUntil(lambda: "validated" in events, timeout=20_000)
    assert events == ["the window's own timer", "validated"]
    assert threads and threading.get_ident() not in threads
    messages = [p.message for p in validator.problems]
    assert any("too large a number" in m for m in messages) and any("runs too long" in m for m in messages)
    validator.shutdown()


def test_an_edit_made_while_validating_wins_over_the_outdated_result(qtbot):
    journey = linear(email(subject=_hostile(), text=RUNAWAY + f"{{# {uuid.uuid4()} #}}"))
    doc = JourneyDocument(journey)
    validator = LiveValidator(doc)
    changes: list[list] = []
    validator.problems_changed.connect(changes.append)
    validator.run_now()                        # checks the hostile templates…
    send = next(n for n in journey.nodes.values() if n.kind == "send_template")
    doc.set_value(send.id, ("config", "subject"), "Hello {{ contact.first_name }}")
    doc.set_value(send.id, ("config", "text"), "Hi there")
    validator.run_now()                        # …but the user fixed them meanwhile
    qtbot.waitUntil(validator.idle, timeout=20_000)
    assert not any("too large" in p.message or "runs too long" in p.message for p in validator.problems)
    assert all(not any("too large" in p.message for p in c) for c in changes)   # the outdated result never showed
    validator.shutdown()


def test_typing_a_hostile_template_in_the_editor_keeps_the_window_responsive(make_editor, qtbot):
    editor = make_editor(linear(email()))
    send = next(n for n in editor.journey.nodes.values() if n.kind == "send_template")
    qtbot.waitUntil(editor.validator.idle, timeout=20_000)      # the check made when the editor opened
    events: list[str] = []
    editor.validator.checked.connect(lambda: events.append("validated"))
    editor.doc.set_value(send.id, ("config", "text"), RUNAWAY + f"{{# {uuid.uuid4()} #}}")
    editor.validator.timer.timeout.connect(lambda: QTimer.singleShot(0, lambda: events.append("timer")))
    qtbot.waitUntil(lambda: "validated" in events, timeout=20_000)
    assert events[:2] == ["timer", "validated"]
    assert any("runs too long" in p.message for p in editor.validator.problems)

"""A journey whose values are out of range (issue 9) opens, and every step shows in the inspector: the
editors show what they can, validation says what is wrong; nothing raises (an out-of-range value used
to reach Qt's 32-bit spin boxes and the local-time conversion of a year-9999 date)."""
from __future__ import annotations

import json

from app.journey.fileformat import dumps

from ..journey.helpers import email, linear


def _out_of_range_journey() -> dict:
    journey = linear(email(), ("wait", {"mode": "duration", "delay": {"amount": 10**9, "unit": "days"}}),
                     ("wait", {"mode": "until_date", "until": "9999-12-31T23:59:59-14:00"}),
                     ("message_status", {"window": {"amount": 10**11, "unit": "minutes"}}),
                     name="Out of range")
    trigger = journey.trigger()
    status = next(n for n in journey.nodes.values() if n.kind == "message_status")
    status.config["step"] = next(n.id for n in journey.nodes.values() if n.kind == "send_template")
    trigger.config.update(mode="spend", threshold=1e20)
    trigger.position = (2e6, -3e6)
    journey.settings["frequency_cap"].update(enabled=True, hours=10**12, messages=2**40)
    journey.settings["conversion_window"] = {"amount": 10**15, "unit": "weeks"}
    journey.settings["entry"].update(mode="after_days", days=-(2**40))
    return json.loads(dumps(journey))


def test_a_journey_out_of_range_opens_and_each_step_shows(window, store, qtbot):
    row = store.create(_out_of_range_journey())
    assert window.open_journey(row.id)
    journey = window.editor.journey
    for node in journey.nodes.values():
        window.editor.view.select_ids([node.id])
        assert window.inspector.target == node.id
    window.editor.scene.clearSelection()                 # the journey's settings
    assert ("settings", "frequency_cap", "hours") in window.inspector.builder.editors
    assert journey.nodes[journey.trigger().id].config["threshold"] == 1e20     # shown, not changed

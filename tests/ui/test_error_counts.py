"""Issue 9 §3: a step's errors show in the inspector (the canvas strip is tested in tests/canvas)."""
from __future__ import annotations

from app.engine.stats import NodeStats
from app.ui.numbers import step_rows


def test_the_inspector_lists_a_step_s_errors():
    rows = dict(step_rows("wait", NodeStats(entered=4, waiting=1, left={"error": 3}, errors=3)))
    assert rows["Errors"] == "3" and rows["Left here"] == "3 an error"
    assert "Errors" not in dict(step_rows("wait", NodeStats(entered=4, waiting=4)))
    assert dict(step_rows("trigger", NodeStats(entered=9, errors=2)))["Errors"] == "2"

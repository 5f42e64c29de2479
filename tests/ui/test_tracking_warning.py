"""The app says plainly when a journey relies on opens and clicks that are not measured."""
from __future__ import annotations

import os

from app.delivery.settings import PUBLIC_URL_KEY
from app.store.app_settings import set_setting

from .conftest import kind_node


def _tracking_warnings(window):
    return [p for p in window.editor.validator.wait() if "not measured" in p.message]


def test_an_opened_branch_warns_until_a_public_url_is_set_and_the_journeys_tracking_is_on(window, store):
    status = kind_node(window, "message_status")
    [warning] = _tracking_warnings(window)
    assert warning.node_id == status.id and "no public URL is set" in warning.message
    window._show_problems()
    _shot(window, "warning")
    assert any("not measured" in window.problems.item(i).text() for i in range(window.problems.count()))

    set_setting(store.engine, PUBLIC_URL_KEY, "https://receiver.shop.example")
    window.refresh_catalog()
    [warning] = _tracking_warnings(window)
    assert "'Track opens and clicks' is off" in warning.message

    window.editor.scene.clearSelection()
    window.inspector.builder.editors[("settings", "tracking", "enabled")].box.click()
    assert window.editor.journey.settings["tracking"] == {"enabled": True}
    assert _tracking_warnings(window) == []
    _shot(window, "on")


def _shot(window, name: str) -> None:
    """With JOURNEYS_SHOTS=DIR: the window, inspector scrolled to its end, saved for a look."""
    if not os.environ.get("JOURNEYS_SHOTS"):
        return
    from PySide6.QtWidgets import QScrollArea

    areas = window.inspector.findChildren(QScrollArea)
    for area in areas + ([window.inspector] if isinstance(window.inspector, QScrollArea) else []):
        area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    theme = os.environ.get("JOURNEY_STUDIO_THEME", "light")
    window.grab().save(os.path.join(os.environ["JOURNEYS_SHOTS"], f"tracking_{name}_{theme}.png"))

"""The send step's inspector for WhatsApp: template name, language and numbered variables, generated
from the schema; free text shows the message and says when it goes."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QLabel, QPushButton

from .conftest import kind_node


def _choose(window, key: str, value: str) -> None:
    combo = window.inspector.builder.editors[("config", key)].combo
    combo.activated.emit(combo.findData(value))


def _shoot(window, name: str) -> None:
    """Saves the inspector as PNG when SHOT_DIR is set (to look at it in light and dark themes)."""
    folder = os.environ.get("SHOT_DIR")
    if folder:
        theme = os.environ.get("JOURNEY_STUDIO_THEME", "auto")
        window.inspector.grab().save(str(Path(folder) / f"{name}-{theme}.png"))


def test_a_whatsapp_step_asks_for_an_approved_template_and_its_variables(window, qtbot):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    _choose(window, "channel", "whatsapp")
    editors = window.inspector.builder.editors
    assert ("config", "wa_template") in editors and ("config", "wa_language") in editors
    assert ("config", "message") not in editors and ("config", "subject") not in editors
    add = next(b for b in window.inspector.findChildren(QPushButton) if b.text() == "+ Add variable")
    add.click()
    add = next(b for b in window.inspector.findChildren(QPushButton) if b.text() == "+ Add variable")
    add.click()
    assert len(send.config["wa_variables"]) == 2
    titles = [label.text() for label in window.inspector.findChildren(QLabel) if label.objectName() == "rowTitle"]
    assert titles == ["Variable 1", "Variable 2"]
    _shoot(window, "whatsapp-template-empty")
    editor = window.inspector.builder.editors[("config", "wa_template")]
    editor.set_value("order_update")
    editor.edited.emit("order_update")
    window.inspector.builder.editors[("config", "wa_variables", 0, "value")].set_value("{{ contact.first_name }}")
    window.inspector.builder.editors[("config", "wa_variables", 0, "value")].edited.emit("{{ contact.first_name }}")
    assert send.config["wa_template"] == "order_update"
    assert send.config["wa_variables"][0]["value"] == "{{ contact.first_name }}"
    _shoot(window, "whatsapp-template")
    window.editor.doc.undo_stack.undo()                 # every edit is one undo step
    assert send.config["wa_variables"][0]["value"] == ""


def test_free_text_shows_the_message_and_hides_the_template(window):
    send = kind_node(window, "send_template")
    window.editor.view.select_ids([send.id])
    _choose(window, "channel", "whatsapp")
    _choose(window, "wa_mode", "text")
    editors = window.inspector.builder.editors
    assert ("config", "message") in editors and ("config", "wa_template") not in editors
    assert any("24 hours" in label.text() for label in window.inspector.findChildren(QLabel))
    _shoot(window, "whatsapp-text")

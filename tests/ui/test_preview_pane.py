"""The Preview tab, driven as a user would: select a send step, pick a contact, step through contacts,
edit the template and see the message change, with missing values and the SMS counter shown."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication

from app.canvas.commands import SetValue
from app.engine.importers import import_contacts, parse_contacts
from app.engine.preview import SKIPPED
from app.journey.schema import parse_datetime
from app.store.tables import events
from app.ui.main_window import MainWindow

from .conftest import kind_node

NOW = parse_datetime("2026-03-01T10:00:00Z")
CONTACTS = """id,email,phone,first_name,last_name,timezone
c001,emma@example.com,+15550000001,Emma,Wilson,Europe/London
c002,noname@example.com,+15550000002,,,America/New_York
c003,lucas@example.com,+15550000003,Lucas,Martin,Europe/Paris
"""


def _add_contacts(window: MainWindow) -> None:
    rows, problems = parse_contacts(CONTACTS)
    assert not problems
    import_contacts(window.store.engine, rows, NOW)
    with window.store.engine.begin() as conn:
        conn.execute(events.insert().values(
            contact_id="c001", type="cart_abandoned", occurred_at=NOW, received_at=NOW, idempotency_key="e1",
            properties={"cart_url": "https://shop.example/c/emma", "currency": "USD",
                        "items": [{"name": "Blue mug", "quantity": 1, "price": 12.5}]}))


def _send_step(window: MainWindow, channel: str):
    return next(n for n in window.editor.journey.nodes.values()
                if n.kind == "send_template" and n.config["channel"] == channel)


def _open_preview(qtbot, window: MainWindow, node_id: str):
    pane = window.preview
    window.side_tabs.setCurrentWidget(pane)
    with qtbot.waitSignal(pane.rendered, timeout=10_000) as shown:
        window.editor.scene.clearSelection()
        window.editor.scene.item_for_node[node_id].setSelected(True)
    return shown.args[0]


def _wait_render(qtbot, pane, action):
    with qtbot.waitSignal(pane.rendered, timeout=10_000) as shown:
        action()
    return shown.args[0]


def _edit(window: MainWindow, node_id: str, field: str, value) -> None:
    doc = window.editor.doc
    doc.undo_stack.push(SetValue(doc, node_id, ("config", field), value, field, mergeable=True))


def test_cart_email_for_a_contact_with_and_without_first_name(qtbot, window):
    _add_contacts(window)
    email = _send_step(window, "email")
    preview = _open_preview(qtbot, window, email.id)
    pane = window.preview
    # The first contact in id order, with their own cart: From, subject, the HTML as HTML, the text.
    assert pane.contact_box.currentData() == "c001"
    assert preview.sender == "Corner Shop <hello@cornershop.example>" and preview.recipient == "emma@example.com"
    assert preview.subject == "Emma, your cart misses you"
    assert "Blue mug × 1 — $12.50" in pane.view.html_view.toPlainText()
    assert "Corner Shop <hello@cornershop.example>" in pane.view.header.text().replace("&lt;", "<").replace("&gt;", ">")
    assert "their cart abandoned event" in pane.event_box.currentText()
    assert not preview.missing and pane.view.status.isHidden()
    # Next contact: no first name; the template's default says "Hi there", and c002 has no cart: the sample one.
    preview = _wait_render(qtbot, pane, lambda: qtbot.mouseClick(pane.next_button, Qt.MouseButton.LeftButton))
    assert pane.contact_box.currentData() == "c002"
    assert preview.subject == "Hi, your cart misses you"
    assert "Hi there" in pane.view.html_view.toPlainText() and "Linen shirt" in pane.view.html_view.toPlainText()
    assert pane.event_box.currentText() == "a sample cart"
    # Without the default, first_name is missing: highlighted, with what the step's policy does.
    html = email.config["html"].replace("{{ contact.first_name | default('there') }}", "{{ contact.first_name }}")
    preview = _wait_render(qtbot, pane, lambda: (_edit(window, email.id, "fallback", "friend"),
                                                 _edit(window, email.id, "html", html)))
    assert [m.name for m in preview.missing] == ["contact.first_name"]
    assert "Hi friend" in pane.view.html_view.toPlainText()
    assert pane.view.status.isVisible() and "contact.first_name" in pane.view.status.text()
    assert "fallback text “friend”" in pane.view.status.text()
    assert "background-color" in pane.view.html_view.toHtml()         # the printed fallback is highlighted
    # The same policy set to skip: the message is not sent, and the pane says so.
    preview = _wait_render(qtbot, pane, lambda: _edit(window, email.id, "missing", "skip"))
    assert preview.outcome == SKIPPED and "nothing is sent" in pane.view.status.text()
    # Back to Emma: nothing missing any more.
    preview = _wait_render(qtbot, pane, lambda: qtbot.mouseClick(pane.previous_button, Qt.MouseButton.LeftButton))
    assert pane.contact_box.currentData() == "c001" and not preview.missing and "Hi Emma" in preview.html


def test_search_finds_a_contact_by_email_phone_or_name(qtbot, window):
    _add_contacts(window)
    pane = window.preview
    _open_preview(qtbot, window, _send_step(window, "email").id)
    for text, wanted in (("lucas@", "c003"), ("+15550000002", "c002"), ("emma wil", "c001"), ("C003", "c003")):
        _wait_render(qtbot, pane, lambda: pane.search.setText(text))
        assert pane.contact_box.currentData() == wanted, text
    # ◀ ▶ step among the matches only, wrapping round: "wil" matches Emma Wilson alone.
    _wait_render(qtbot, pane, lambda: pane.search.setText("example"))
    assert pane.contact_box.currentData() == "c001"
    _wait_render(qtbot, pane, lambda: qtbot.mouseClick(pane.previous_button, Qt.MouseButton.LeftButton))
    assert pane.contact_box.currentData() == "c003"
    _wait_render(qtbot, pane, lambda: pane.search.setText("wil"))
    _wait_render(qtbot, pane, lambda: qtbot.mouseClick(pane.next_button, Qt.MouseButton.LeftButton))
    assert pane.contact_box.currentData() == "c001"


def test_empty_store_previews_the_sample_contact(qtbot, window):
    preview = _open_preview(qtbot, window, _send_step(window, "email").id)
    pane = window.preview
    assert pane.contact_box.currentData() == "sample" and preview.subject == "Alex, your cart misses you"
    assert "Linen shirt × 1 — $49.00" in pane.view.html_view.toPlainText()
    assert pane.store_note.isVisible() and "sample contact" in pane.store_note.text()


def test_sms_counter_on_gsm7_and_on_emoji_text(qtbot, window):
    sms = _send_step(window, "sms")
    pane = window.preview
    preview = _open_preview(qtbot, window, sms.id)
    assert preview.sms.encoding == "GSM-7" and preview.sms.segments == 1
    assert "GSM-7 · 1 segment" in pane.view.counter.text()
    preview = _wait_render(qtbot, pane, lambda: _edit(window, sms.id, "message", "Hi {{ contact.first_name }} 👋"))
    assert preview.text == "Hi Alex 👋"
    assert (preview.sms.encoding, preview.sms.units, preview.sms.segments) == ("UCS-2", 10, 1)
    assert "UCS-2 · 1 segment" in pane.view.counter.text() and pane.view.warning.isHidden()
    # 161 GSM-7 characters take two segments; past three segments the pane warns.
    preview = _wait_render(qtbot, pane, lambda: _edit(window, sms.id, "message", "a" * 161))
    assert preview.sms.segments == 2 and "2 segments" in pane.view.counter.text()
    preview = _wait_render(qtbot, pane, lambda: _edit(window, sms.id, "message", "😀" * 140))
    assert preview.sms.segments == 5 and pane.view.warning.isVisible() and "5 segments" in pane.view.warning.text()


def test_typing_renders_once_after_the_last_keystroke_and_drops_stale_results(qtbot, window):
    sms = _send_step(window, "sms")
    pane = window.preview
    _open_preview(qtbot, window, sms.id)
    seen = []
    pane.rendered.connect(seen.append)
    for i in range(1, 8):                       # seven keystrokes in quick succession
        _edit(window, sms.id, "message", "Hello"[:1] + "x" * i)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    qtbot.wait(300)
    assert [p.text for p in seen] == ["H" + "x" * 7]       # one render, of the newest text
    # Two renders under way: the older one's result is dropped when it comes back after the newer was asked.
    seen.clear()
    _edit(window, sms.id, "message", "older")
    pane.render_now()
    _edit(window, sms.id, "message", "newer")
    pane.render_now()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    qtbot.wait(300)
    assert [p.text for p in seen] == ["newer"] and pane.preview.text == "newer"


def test_open_in_browser_writes_the_html_as_sent(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    preview = _open_preview(qtbot, window, _send_step(window, "email").id)
    pane = window.preview
    qtbot.mouseClick(pane.view.open_button, Qt.MouseButton.LeftButton)
    assert len(opened) == 1
    written = Path(opened[0].toLocalFile()).read_text(encoding="utf-8")
    assert preview.html in written and "<meta charset=\"utf-8\">" in written
    pane.view.opened_files[0].unlink()


def test_desktop_and_mobile_widths(qtbot, window):
    _open_preview(qtbot, window, _send_step(window, "email").id)
    view = window.preview.view
    assert view.content_width() == 600
    qtbot.mouseClick(view.width_switch.buttons["Mobile"], Qt.MouseButton.LeftButton)
    assert view.content_width() == 360
    qtbot.mouseClick(view.body_switch.buttons["Text"], Qt.MouseButton.LeftButton)
    assert view.pages.currentWidget() is view.text_view and "Return to your cart" in view.text_view.toPlainText()


def test_a_step_that_sends_nothing_shows_a_hint(qtbot, window):
    pane = window.preview
    window.side_tabs.setCurrentWidget(pane)
    wait = kind_node(window, "wait")
    window.editor.scene.item_for_node[wait.id].setSelected(True)
    assert pane.view.isHidden() and "Select a send step" in pane.hint.text()


def test_a_template_error_names_the_field(qtbot, window):
    email = _send_step(window, "email")
    pane = window.preview
    _open_preview(qtbot, window, email.id)
    preview = _wait_render(qtbot, pane, lambda: _edit(window, email.id, "subject", "{{ contact.first_name "))
    assert preview.error[0] == "subject" and "Template error in the subject" in pane.view.status.text()


def test_choosing_another_event_of_the_contact_or_the_sample(qtbot, window):
    _add_contacts(window)
    later = NOW.replace(hour=12)
    with window.store.engine.begin() as conn:
        conn.execute(events.insert().values(
            contact_id="c001", type="cart_abandoned", occurred_at=later, received_at=later, idempotency_key="e2",
            properties={"cart_url": "https://shop.example/c/emma2", "items": [{"name": "Green teapot",
                                                                                "quantity": 1, "price": 30}]}))
    pane = window.preview
    preview = _open_preview(qtbot, window, _send_step(window, "email").id)
    assert "Green teapot" in preview.html                     # the newest first
    assert [pane.event_box.itemText(i) for i in range(pane.event_box.count())] == [
        "their cart abandoned event of 2026-03-01 12:00 GMT", "their cart abandoned event of 2026-03-01 10:00 GMT",
        "a sample cart"]

    def choose(index: int) -> None:
        pane.event_box.setCurrentIndex(index)
        pane.event_box.activated.emit(index)

    preview = _wait_render(qtbot, pane, lambda: choose(1))
    assert "Blue mug" in preview.html and pane.event_box.currentIndex() == 1
    preview = _wait_render(qtbot, pane, lambda: choose(2))
    assert "Linen shirt" in preview.html and preview.event_words == "a sample cart"


def test_beside_the_settings_the_preview_follows_typing_in_the_inspector(qtbot, window):
    email = _send_step(window, "email")
    pane = window.preview
    _open_preview(qtbot, window, email.id)
    qtbot.mouseClick(pane.beside_button, Qt.MouseButton.LeftButton)
    assert window.side_splitter.indexOf(pane) == 3 and window.side_tabs.count() == 1
    assert window.inspector.isVisible() and pane.isVisible()
    editor = window.inspector.builder.editors[("config", "subject")].text
    editor.setFocus()
    editor.selectAll()

    def type_subject() -> None:
        qtbot.keyClicks(editor, "Psst {{ contact.first_name }}")

    preview = _wait_render(qtbot, pane, type_subject)
    qtbot.waitUntil(lambda: pane.preview.subject == "Psst Alex", timeout=10_000)
    assert "Psst Alex" in pane.view.header.text()
    qtbot.mouseClick(pane.beside_button, Qt.MouseButton.LeftButton)     # back into its tab
    assert window.side_splitter.indexOf(pane) < 0 and window.side_tabs.indexOf(pane) == 1
    assert window.side_tabs.currentWidget() is pane and preview is not None


def test_contacts_imported_after_the_sample_was_shown_are_offered(qtbot, window):
    email = _send_step(window, "email")
    pane = window.preview
    preview = _open_preview(qtbot, window, email.id)
    assert preview.contact_words == "the sample contact"
    _add_contacts(window)
    window.editor.scene.clearSelection()
    preview = _wait_render(qtbot, pane, lambda: window.editor.scene.item_for_node[email.id].setSelected(True))
    assert pane.contact_box.currentData() == "c001" and preview.subject == "Emma, your cart misses you"
    assert pane.store_note.isHidden()


def test_an_email_step_without_a_from_shows_the_default_sender_it_goes_from(qtbot, window):
    from app.delivery.settings import DeliverySettings, EmailSettings, save_settings

    email = _send_step(window, "email")
    _edit(window, email.id, "sender", "")
    pane = window.preview
    _open_preview(qtbot, window, email.id)
    assert "none set" in pane.view.header.text()          # nothing to send from: said, not guessed
    save_settings(window.store.engine, DeliverySettings(email=EmailSettings(sender="Corner Shop <shop@corner.example>")))
    preview = _wait_render(qtbot, pane, lambda: pane.choose_contact("sample"))
    assert preview.sender is None and preview.default_sender == "Corner Shop <shop@corner.example>"
    header = pane.view.header.text().replace("&lt;", "<").replace("&gt;", ">")
    assert "Corner Shop <shop@corner.example> (the default sender)" in header


def test_a_contact_deleted_meanwhile_is_said_and_never_shown_under_another_name(qtbot, window):
    from app.store.tables import contacts

    _add_contacts(window)
    email = _send_step(window, "email")
    _open_preview(qtbot, window, email.id)
    pane = window.preview
    _wait_render(qtbot, pane, lambda: pane.choose_contact("c003"))
    assert "Lucas" in pane.preview.subject
    with window.store.engine.begin() as conn:
        conn.execute(contacts.delete().where(contacts.c.id == "c003"))
    pane.choose_contact("c003")                 # read again (another event chosen, the tab shown again…)
    qtbot.waitUntil(lambda: "No preview" in pane.view.header.text(), timeout=10_000)
    assert "c003" in pane.view.header.text() and pane.preview is None
    # An edit now renders nothing rather than the previous contact's message under c003's name.
    _edit(window, email.id, "subject", "Hello {{ contact.first_name }}")
    pane.render_now()                           # as the debounce would, without waiting for it
    pane.work.wait()
    QApplication.processEvents()
    assert pane.preview is None and "No preview" in pane.view.header.text()
    # ▶ goes on from where c003 was, wrapping round to the first contact.
    _wait_render(qtbot, pane, lambda: qtbot.mouseClick(pane.next_button, Qt.MouseButton.LeftButton))
    assert pane.contact_box.currentData() == "c001" and pane.preview.subject == "Hello Emma"


def test_renders_waiting_behind_a_slow_one_are_skipped_for_the_newest(qtbot, window, monkeypatch):
    import threading

    import app.ui.preview_pane as pane_module

    email = _send_step(window, "email")
    _open_preview(qtbot, window, email.id)
    pane = window.preview
    rendered: list[str] = []
    real = pane_module.render_preview
    monkeypatch.setattr(pane_module, "render_preview",
                        lambda step, subject: rendered.append(step.config["subject"]) or real(step, subject))
    gate = threading.Event()
    pane.work.run(lambda: gate.wait(30), lambda _: None)      # the worker is busy (a slow render)
    for subject in ("A", "AB", "ABC"):
        _edit(window, email.id, "subject", subject)
        pane.render_now()                                     # as the debounce would after each pause
    with qtbot.waitSignal(pane.rendered, timeout=10_000) as shown:
        gate.set()
    assert shown.args[0].subject == "ABC" and rendered == ["ABC"]

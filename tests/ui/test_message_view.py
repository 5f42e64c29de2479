"""MessageView on its own, as the test-run view opens it: an email, an SMS and a WhatsApp template."""
from __future__ import annotations

from PySide6.QtCore import Qt

from app.engine.test_run import TestMessage
from app.ui.message_view import MessageView, browser_document, highlighted_html


def test_an_email_from_a_test_run(qtbot):
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(TestMessage("n1", "email", "ann@example.com", subject="Ann, your cart",
                                  text="Back: https://shop.example/c", html="<p>Hi <b>Ann</b></p>"),
                      sender="Shop <shop@example.com>")
    assert "Ann, your cart" in view.header.text() and "ann@example.com" in view.header.text()
    assert view.html_view.toPlainText().strip() == "Hi Ann" and view.status.isHidden()
    qtbot.mouseClick(view.body_switch.buttons["Text"], Qt.MouseButton.LeftButton)
    assert "https://shop.example/c" in view.text_view.toPlainText()


def test_an_sms_shows_its_counter(qtbot):
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(TestMessage("n2", "sms", "+15550001", text="Your code: €5 off {today}"))
    assert view.bubble.text().startswith("Your code")
    assert view.counter.text().startswith("25 characters · GSM-7 · 1 segment (28 of 160")


def test_a_whatsapp_template_with_its_variables(qtbot):
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(TestMessage("n3", "whatsapp", "+15550001", whatsapp_template={
        "name": "cart_reminder", "language": "en_US", "variables": ["Ann", "2 items"]}))
    text = view.bubble.text()
    assert "cart_reminder" in text and "en_US" in text and "{{1}}" in text and "2 items" in text
    assert view.counter.isHidden() and view.email_bar.isHidden()


def test_marks_inside_a_tag_are_dropped_and_in_text_highlighted():
    shown = highlighted_html('<a href="\ue000x\ue001">Hi \ue000friend\ue001</a>\ue000\ue001')
    assert shown.startswith('<a href="x">Hi <span style=') and "friend</span>" in shown and ">missing</span>" in shown
    assert browser_document("<p>x</p>", "S").startswith("<!DOCTYPE html>")
    assert browser_document("<html><body>x</body></html>", "S") == "<html><body>x</body></html>"


def test_an_sms_in_ucs2_names_the_character_that_forces_it(qtbot):
    view = MessageView()
    qtbot.addWidget(view)
    view.show_message(TestMessage("n2", "sms", "+15550001", text="It’s waiting for you, Ann"))
    assert "UCS-2 · 1 segment" in view.counter.text()
    assert "right single quotation mark" in view.counter.text() and view.warning.isHidden()
    view.show_message(TestMessage("n2", "sms", "+15550001", text="It's waiting for you, Ann"))
    assert "GSM-7" in view.counter.text() and "because" not in view.counter.text()


def test_a_missing_value_inside_style_or_title_is_not_turned_into_a_span():
    from app.engine.preview import MARK_END as E, MARK_START as S

    marked = (f"<html><head><title>Hi {S}friend{E}</title><style>a {{ color: {S}#000{E}; }}</style></head>"
              f"<body><p>Hi {S}friend{E}</p></body></html>")
    out = highlighted_html(marked)
    assert "<title>Hi friend</title>" in out and "color: #000;" in out
    assert out.count("<span") == 1 and "<p>Hi <span" in out and S not in out and E not in out

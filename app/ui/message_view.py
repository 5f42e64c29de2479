"""One rendered message, as the contact gets it: an email (From, subject, the HTML body rendered as HTML,
the plain text, desktop and mobile widths, "Open in browser"), an SMS (the text with its length, encoding
and segments) or a WhatsApp message (an approved template with its variables filled in, or free text).

`MessageView.show_preview(preview)` shows a preview (app/engine/preview.py) with each missing value
highlighted and what the step's policy does about it; `show_message(message)` shows a message a test run
would have sent (app/engine/test_run.py TestMessage). The view renders nothing itself: it only displays.
"""
from __future__ import annotations

import html as html_lib
import re
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QButtonGroup, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QStackedWidget, QTextBrowser, QTextEdit, QVBoxLayout, QWidget)

from app.canvas.style import theme
from app.engine.preview import MARK_END, MARK_START, FAILED, SKIPPED, Preview, split_marked
from app.journey.sms import SmsCount, count_sms

from .theme import colours

DESKTOP_WIDTH = 600      # px: the content width most email clients lay a message out in
MOBILE_WIDTH = 360       # px: a phone held upright
_TAG = re.compile(r"(<[^>]*>)")
_RAW_TAG = re.compile(r"<(/?)\s*(?:style|script|title)\b", re.I)
_EMPTY_MARK = "missing"
NO_SENDER = ("none set: the email cannot go until the step has a From or Settings → Channels → Email has a "
             "default sender")


def _mark_style(paper: bool = False) -> str:
    """The highlight of a missing value: on the email's white paper, or on the theme's background."""
    return ("background-color:#fde68a;color:#7c2d12;" if paper else ("background-color:#7c4a03;color:#fff4d6;" if theme().dark else
                                                       "background-color:#fde68a;color:#7c2d12;"))


def highlighted_html(marked: str) -> str:
    """HTML with each missing value's mark turned into a highlighted span (in text) or dropped (inside a
    tag, e.g. an href, or inside <style>, <script> or <title>, where a span would break the markup)."""
    parts = _TAG.split(marked)
    style = _mark_style(paper=True)
    out = []
    raw = False             # inside <style>, <script> or <title>: text that is no body text, a span would break it
    for part in parts:
        if part.startswith("<"):
            out.append(part.replace(MARK_START, "").replace(MARK_END, ""))
            opened = _RAW_TAG.match(part)
            if opened:
                raw = not opened.group(1)
        elif raw:
            out.append(part.replace(MARK_START, "").replace(MARK_END, ""))
        else:
            out.append("".join(f'<span style="{style}">{piece or _EMPTY_MARK}</span>' if missing else piece
                               for piece, missing in split_marked(part)))
    return "".join(out)


def highlighted_text(marked: str, paper: bool = False) -> str:
    """Plain text as HTML (escaped, line breaks kept) with each missing value highlighted."""
    style = _mark_style(paper)
    return "".join(f'<span style="{style}">{html_lib.escape(piece) or _EMPTY_MARK}</span>' if missing
                   else html_lib.escape(piece) for piece, missing in split_marked(marked)).replace("\n", "<br>")


def browser_document(body: str, title: str) -> str:
    """`body` as a whole HTML document for a browser (a body without <html> gets one, in UTF-8)."""
    if re.search(r"<html[\s>]", body, re.I):
        return body
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html_lib.escape(title)}</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n"
            f"<body>\n{body}\n</body></html>\n")


class _Segmented(QWidget):
    """Two or three checkable buttons, one checked: the view's small switches (HTML/Text, Desktop/Mobile)."""

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QPushButton] = {}
        for i, name in enumerate(names):
            button = QPushButton(name)
            button.setCheckable(True)
            button.setObjectName("segment")
            c = colours()
            button.setStyleSheet("QPushButton#segment { padding: 3px 10px; } "
                                 f"QPushButton#segment:checked {{ background: {c['highlight']}; color: #ffffff; "
                                 f"border: 1px solid {c['highlight']}; }}")
            button.setChecked(i == 0)
            self.group.addButton(button, i)
            layout.addWidget(button)
            self.buttons[name] = button

    def current(self) -> str:
        return next(name for name, b in self.buttons.items() if b.isChecked())


class MessageView(QWidget):
    """Shows one rendered message; see the module's docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageView")
        self._html = ""          # the email's HTML as sent (for "Open in browser")
        self._title = ""
        self.opened_files: list[Path] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)

        self.status = QLabel()                  # what the step does: missing values, skip/fail, errors
        self.status.setObjectName("previewStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.hide()
        column.addWidget(self.status)

        self.header = QLabel()                  # From / To / Subject
        self.header.setObjectName("messageHeader")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.header)

        self.email_bar = QWidget()
        bar = QHBoxLayout(self.email_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        self.body_switch = _Segmented(["HTML", "Text"])
        self.width_switch = _Segmented(["Desktop", "Mobile"])
        self.open_button = QPushButton("Open in browser ↗")
        self.open_button.setToolTip("Write the HTML to a temporary file and open it in your browser, "
                                    "for pixel-exact rendering")
        bar.addWidget(self.body_switch)
        bar.addStretch(1)
        bar.addWidget(self.width_switch)
        column.addWidget(self.email_bar)

        self.pages = QStackedWidget()
        self.html_view = self._browser("htmlBody")
        self.text_view = self._browser("textBody")
        self.pages.addWidget(self.html_view)
        self.pages.addWidget(self.text_view)
        self.sms_page = self._sms_page()
        self.pages.addWidget(self.sms_page)
        column.addWidget(self.pages, 1)
        self.browser_row = QWidget()            # below the body: fits the narrowest side panel
        below = QHBoxLayout(self.browser_row)
        below.setContentsMargins(0, 0, 0, 0)
        below.addStretch(1)
        below.addWidget(self.open_button)
        column.addWidget(self.browser_row)

        self.body_switch.group.idToggled.connect(lambda *_: self._switch_body())
        self.width_switch.group.idToggled.connect(lambda *_: self._apply_width())
        self.open_button.clicked.connect(lambda _=False: self.open_in_browser())
        self._apply_width()
        self.clear("")

    def _browser(self, name: str) -> QTextBrowser:
        view = QTextBrowser()
        view.setObjectName(name)
        view.setOpenLinks(False)             # a click must not follow the contact's links (tracking, unsubscribe)
        view.setOpenExternalLinks(False)
        view.setFrameShape(QFrame.Shape.StyledPanel)
        # An email is designed on white paper: shown so in the dark theme too, as mail clients do.
        view.setStyleSheet(f"QTextBrowser#{name} {{ background: #ffffff; color: #1f2937; "
                           f"border: 1px solid {colours()['border']}; border-radius: 4px; }}")
        return view

    def _sms_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bubble = QLabel()
        self.bubble.setObjectName("smsBubble")
        self.bubble.setWordWrap(True)
        self.bubble.setTextFormat(Qt.TextFormat.RichText)
        self.bubble.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bubble.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        c = colours()
        self.bubble.setStyleSheet(f"QLabel#smsBubble {{ background: {c['selected']}; border-radius: 12px; "
                                  "padding: 10px 12px; }")
        self.counter = QLabel()
        self.counter.setObjectName("smsCounter")
        self.counter.setWordWrap(True)
        self.warning = QLabel()
        self.warning.setObjectName("smsWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b45309;" if not theme().dark else "color: #fbbf24;")
        layout.addWidget(self.bubble)
        layout.addWidget(self.counter)
        layout.addWidget(self.warning)
        layout.addStretch(1)
        return page

    # --- showing ----------------------------------------------------------------------------------

    def clear(self, words: str) -> None:
        """Shows no message, only `words` (why there is none)."""
        self._html = ""
        self.status.hide()
        self.header.setText(f"<span style='color:{colours()['muted']}'>{html_lib.escape(words)}</span>")
        self.email_bar.hide()
        self.browser_row.hide()
        self.pages.hide()

    def show_preview(self, preview: Preview) -> None:
        """A preview: the message with missing values highlighted, and what the step does for this contact."""
        self._show_status(preview)
        if preview.error:
            self.header.setText("")
            self.email_bar.hide()
            self.browser_row.hide()
            self.pages.hide()
            return
        sender = preview.sender or (f"{preview.default_sender} (the default sender)" if preview.default_sender
                                    else NO_SENDER)
        self._show(preview.channel, sender, preview.recipient, preview.fields, preview.marked,
                   preview.whatsapp_template, preview.sms, preview.step_title)

    def show_message(self, message: Any, sender: str | None = None) -> None:
        """A message a test run would have sent: anything with `channel`, `recipient`, `subject`, `text`,
        `html` and `whatsapp_template` (app/engine/test_run.py TestMessage)."""
        self.status.hide()
        if message.channel == "email":
            fields = {"subject": message.subject or "", "html": message.html or "", "text": message.text or ""}
        else:
            fields = {"message": message.text or ""}
        sms = count_sms(message.text or "") if message.channel == "sms" else None
        self._show(message.channel, sender, message.recipient, fields, fields, message.whatsapp_template, sms,
                   message.subject or "")

    def _show_status(self, preview: Preview) -> None:
        c = colours()
        lines = []
        if preview.error:
            field, error = preview.error
            lines.append(f"<b>Template error in the {html_lib.escape(field)}:</b> {html_lib.escape(error)}<br>"
                         f"{html_lib.escape(preview.outcome_words)}.")
        for missing in preview.missing:
            lines.append(f"<span style='{_mark_style()}'>&nbsp;{html_lib.escape(missing.name)}&nbsp;</span> "
                         f"is missing for this contact: {html_lib.escape(missing.outcome)}.")
        lines.extend(html_lib.escape(note) for note in preview.notes)
        if not lines:
            self.status.hide()
            return
        bad = preview.outcome in (SKIPPED, FAILED) or preview.error is not None
        tint = ("#fde2e2" if bad else "#fff7e0") if not theme().dark else (
            "#4a2426" if bad else "#45391c")
        self.status.setStyleSheet(f"QLabel#previewStatus {{ background: {tint}; border-radius: 6px; "
                                  "padding: 8px 10px; }")
        self.status.setText("<br>".join(lines))
        self.status.show()

    def _show(self, channel: str, sender: str | None, recipient: str | None, fields: dict[str, str],
              marked: dict[str, str], template: dict[str, Any] | None, sms: SmsCount | None, title: str) -> None:
        muted = colours()["muted"]
        rows = []
        if channel == "email":
            rows.append(("From", html_lib.escape(sender or "the email channel's sender (set in Channels…)")))
        rows.append(("To", html_lib.escape(recipient) if recipient else "<i>no address</i>"))
        if channel == "email":
            rows.append(("Subject", f"<b>{highlighted_text(marked.get('subject', fields.get('subject', '')))}</b>"))
        self.header.setText("<table cellspacing='0' cellpadding='1'>" + "".join(
            f"<tr><td style='color:{muted};padding-right:8px'>{name}</td><td>{value}</td></tr>"
            for name, value in rows) + "</table>")
        self.pages.show()
        if channel == "email":
            self._html, self._title = fields.get("html", ""), fields.get("subject", "") or title
            self.email_bar.show()
            self.browser_row.show()
            self.html_view.setHtml(highlighted_html(marked.get("html", "")) or
                                   f"<p style='color:{muted}'><i>This email has no HTML body.</i></p>")
            self.text_view.setHtml(highlighted_text(marked.get("text", ""), paper=True) or
                                   f"<p style='color:{muted}'><i>This email has no plain-text body.</i></p>")
            self.open_button.setEnabled(bool(self._html))
            self._switch_body()
            return
        self._html = ""
        self.email_bar.hide()
        self.browser_row.hide()
        self.pages.setCurrentWidget(self.sms_page)
        if template is not None:
            variables = "".join(
                f"<tr><td style='color:{muted};padding-right:8px'>{{{{{i}}}}}</td><td>{highlighted_text(value)}</td></tr>"
                for i, value in enumerate(self._template_values(template, marked), 1))
            self.bubble.setText(f"<b>Template {html_lib.escape(str(template.get('name')))}</b> "
                                f"<span style='color:{muted}'>({html_lib.escape(str(template.get('language')))})"
                                f"</span><table cellspacing='0' cellpadding='1'>{variables}</table>")
        else:
            self.bubble.setText(highlighted_text(marked.get("message", "")) or f"<i style='color:{muted}'>empty</i>")
        self.counter.setVisible(sms is not None)
        self.warning.setVisible(bool(sms and sms.warning))
        if sms is not None:
            self.counter.setText(f"{sms.characters} characters · {sms.encoding} · {sms.segments} segment"
                                 f"{'' if sms.segments == 1 else 's'} ({sms.units} of {sms.per_segment * max(sms.segments, 1)}"
                                 f" {'septets' if sms.encoding == 'GSM-7' else 'UCS-2 units'})")
            self.warning.setText(f"⚠ {sms.warning}" if sms.warning else "")
            if sms.ucs2_reason and not sms.warning:     # the warning names them already
                self.counter.setText(f"{self.counter.text()}\n{sms.ucs2_reason}")

    @staticmethod
    def _template_values(template: dict[str, Any], marked: dict[str, str]) -> list[str]:
        values = [str(v) for v in template.get("variables") or []]
        names = [k for k in marked if k.startswith("WhatsApp variable ")]
        if len(names) == len(values):        # the marked render, where the missing ones can be shown
            return [" ".join(marked[n].split()) or values[i] for i, n in enumerate(names)]
        return values

    # --- switches ---------------------------------------------------------------------------------

    def _switch_body(self) -> None:
        html_shown = self.body_switch.current() == "HTML"
        self.pages.setCurrentWidget(self.html_view if html_shown else self.text_view)
        self.width_switch.setEnabled(html_shown)

    def _apply_width(self) -> None:
        width = MOBILE_WIDTH if self.width_switch.current() == "Mobile" else DESKTOP_WIDTH
        for view in (self.html_view, self.text_view):
            # Wrapped at the width the contact's screen gives, scrolled sideways when the pane is narrower.
            view.setLineWrapMode(QTextEdit.LineWrapMode.FixedPixelWidth)
            view.setLineWrapColumnOrWidth(width)

    def content_width(self) -> int:
        """The width (px) the HTML is laid out at now: DESKTOP_WIDTH or MOBILE_WIDTH."""
        return self.html_view.lineWrapColumnOrWidth()

    def open_in_browser(self) -> Path | None:
        """Writes the email's HTML (as sent, without highlights) to a temporary .html file and opens it in
        the default browser. Returns the file (None when there is no HTML)."""
        if not self._html:
            return None
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".html", prefix="journey-preview-",
                                         delete=False) as out:
            out.write(browser_document(self._html, self._title))
        path = Path(out.name)
        self.opened_files.append(path)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
        return path

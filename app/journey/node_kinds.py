"""The declarations of the node kinds: trigger, send_template, wait, message_status, tag."""
from __future__ import annotations

import re

from .checks import FieldIssue
from .templates import inspect_template
from .conditions import CHANNELS, audience_field, condition_list, describe
from .registry import NodeKind, Outcome, register
from .schema import (CHOICE, DATETIME, EVENT, INT, LIST, MAX_AMOUNT, MAX_ATTRIBUTE, MAX_DURATION_DAYS, MAX_EMAIL,
                     MAX_TAG, NODE_REF, NUMBER, TAGS, TEMPLATE, TEXT, TIME, WEEKDAYS, Config, Field, choices,
                     duration, format_duration, parse_datetime)

# Event names the app knows; custom names are allowed too.
KNOWN_EVENTS = choices(
    ("cart_abandoned", "Cart abandoned"), ("checkout_started", "Checkout started"),
    ("product_viewed", "Product viewed"), ("order_placed", "Order placed"), ("subscribed", "Subscribed"),
    ("unsubscribed", "Unsubscribed"), ("conversation_closed", "Conversation closed"),
)
EVENT_LABELS = {c.value: c.label for c in KNOWN_EVENTS}
CHANNEL_LABELS = {c.value: c.label for c in CHANNELS}
CHANNEL_IDS = frozenset(CHANNEL_LABELS)
MESSAGE_STATUSES = choices(
    ("delivered", "Delivered"), ("opened", "Opened"), ("clicked", "Clicked"),
    ("replied", "Replied"), ("failed", "Failed"), ("unsubscribed", "Unsubscribed"),
)
# What each channel can tell us about a message: only email has opens (a tracking pixel) and tracked
# clicks; an SMS or WhatsApp message reports delivery, replies and failures, so its step shows no
# "opened" or "clicked" and a status check for those could never say yes.
REPORTED_STATUSES: dict[str, frozenset[str]] = {
    "email": frozenset(c.value for c in MESSAGE_STATUSES),
    "sms": frozenset({"delivered", "replied", "failed", "unsubscribed"}),
    "whatsapp": frozenset({"delivered", "replied", "failed", "unsubscribed"}),
}
# What a message-status step may wait for: what the channel reports, and on WhatsApp also "opened": its
# read receipts (Twilio's and Meta's status "read") arrive as `message_read`, which counts as an open.
BRANCH_STATUSES: dict[str, frozenset[str]] = {**REPORTED_STATUSES,
                                              "whatsapp": REPORTED_STATUSES["whatsapp"] | {"opened"}}


_VARIABLE_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)
_TAG_RE = re.compile(r"\{%.*?%\}", re.S)


def readable(template: str) -> str:
    """Template text as a person reads it on a card: `{{ contact.first_name | default('Hi') }}`
    becomes `‹first_name›`, block tags disappear."""
    def variable(match: re.Match[str]) -> str:
        expression = match.group(1).split("|")[0].strip()
        return f"‹{expression.rsplit('.', 1)[-1] or '…'}›"

    return _TAG_RE.sub("", _VARIABLE_RE.sub(variable, template))


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(text: str) -> str:
    try:
        return parse_datetime(text).strftime("%d %b %Y %H:%M")
    except ValueError:
        return text or "a date to choose"


# --- trigger -----------------------------------------------------------------

_TRIGGER_MODES = choices(
    ("event", "When an event happens"), ("no_order", "No order for a number of days"),
    ("spend", "Lifetime spend reaches an amount"), ("anniversary", "Anniversary of a date"),
    ("manual", "Manual send to an audience"),
)


def _summarize_trigger(c: Config) -> str:
    mode = c["mode"]
    if mode == "event":
        text = f"When {EVENT_LABELS.get(c['event'], c['event'] or '…').lower()}"
        if c["conditions"]:
            text += f" · {describe(c['conditions'][0])}" + (" …" if len(c["conditions"]) > 1 else "")
        return _clip(text, 44)
    if mode == "no_order":
        return f"No order for {c['days']} days"
    if mode == "spend":
        return f"Lifetime spend reaches {c['threshold']:g}"
    if mode == "anniversary":
        return f"Anniversary of {c['date_attribute'] or '…'}"
    return "Manual send · now" if c["send"] == "now" else f"Manual send · {_when(c['send_at'])}"


TRIGGER = register(NodeKind(
    id="trigger", version=1, title="Trigger", icon="trigger", colour="#7c5cd6",
    description="Where contacts enter: an event, a time-based rule or a manual send.",
    has_input=False, max_per_journey=1, summarize=_summarize_trigger,
    schema=(
        Field("mode", CHOICE, "Starts", default="event", choices=_TRIGGER_MODES),
        Field("event", EVENT, "Event", default="cart_abandoned", required=True, choices=KNOWN_EVENTS,
              visible_when={"mode": ("event",)}),
        condition_list("conditions", "Only when", visible_when={"mode": ("event",)}),
        Field("days", INT, "Days without an order", default=60, minimum=1, maximum=MAX_DURATION_DAYS, suffix="days",
              presets=(30, 60, 90), visible_when={"mode": ("no_order",)},
              help="Counted from each customer's last order; contacts who never ordered are not entered."),
        Field("threshold", NUMBER, "Lifetime spend", default=500, minimum=0.01, maximum=MAX_AMOUNT,
              visible_when={"mode": ("spend",)}),
        Field("date_attribute", TEXT, "Date attribute", default="", required=True, max_length=MAX_ATTRIBUTE,
              help="e.g. birthday (dates like 1990-03-04)", visible_when={"mode": ("anniversary",)}),
        Field("send", CHOICE, "Send", default="now", choices=choices(("now", "Now"), ("scheduled", "At a set time")),
              visible_when={"mode": ("manual",)}),
        Field("send_at", DATETIME, "Send at", required=True,
              visible_when={"mode": ("manual",), "send": ("scheduled",)}),
        audience_field(),
    ),
))

# --- send_template -----------------------------------------------------------

_RECIPIENT_TERMS = choices(
    ("opened_previous", "Opened the previous message"), ("not_opened_previous", "Did not open the previous message"),
    ("clicked_previous", "Clicked the previous message"), ("not_clicked_previous", "Did not click the previous message"),
    ("unsubscribed_from", "Unsubscribed from channel"), ("subscribed_to", "Subscribed to channel"),
    ("has_tag", "Has tag"), ("lacks_tag", "Lacks tag"),
)
_TERMS_WITH_VALUE = ("unsubscribed_from", "subscribed_to", "has_tag", "lacks_tag")


# --- WhatsApp: outside the 24-hour customer-service window only an approved template may be sent ---
# (https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates;
# Twilio: https://www.twilio.com/docs/whatsapp/tutorial/send-whatsapp-notification-messages-templates)
WA_TEMPLATE, WA_TEXT = "template", "text"
WHATSAPP_WINDOW_HOURS = 24
_WA_MODES = choices((WA_TEMPLATE, "Approved template"), (WA_TEXT, "Free text (24-hour window only)"))
# Meta: lowercase letters, digits and underscores; Twilio: the Content template's SID.
_WA_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}|HX[0-9a-fA-F]{32}")
# The language codes WhatsApp templates are approved in: en, en_US, pt_BR, zh_CN, fil…
_WA_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_WHATSAPP_TEMPLATE = {"channel": ("whatsapp",), "wa_mode": (WA_TEMPLATE,)}


def whatsapp_template_step(c: Config) -> bool:
    """Whether a send step's config sends an approved WhatsApp template (not free text)."""
    return c.get("channel") == "whatsapp" and c.get("wa_mode") == WA_TEMPLATE


def _summarize_send(c: Config) -> str:
    channel = CHANNEL_LABELS[c["channel"]]
    if whatsapp_template_step(c):
        name = c["wa_template"].strip()
        return _clip(f"{channel} · template {name}" if name else f"{channel} · (no template chosen yet)")
    text = c["subject"] if c["channel"] == "email" else c["message"]
    return _clip(f"{channel} · {readable(text).strip() or '(no content yet)'}")


def _uses_unsubscribe_link(*sources: str) -> bool:
    """Whether any of the templates prints or uses `{{ unsubscribe_url }}` (a comment does not count)."""
    return any("unsubscribe_url" in inspect_template(s).roots for s in sources if "unsubscribe_url" in s)


def _check_whatsapp(c: Config) -> list[FieldIssue]:
    if not whatsapp_template_step(c):
        return []
    issues = []
    name = c["wa_template"].strip()
    if name and not _WA_TEMPLATE_NAME.fullmatch(name):
        issues.append(FieldIssue("/wa_template", f"{name!r} is not a WhatsApp template name",
                                 "Write the approved template's name as WhatsApp Manager shows it (lowercase letters, "
                                 "digits and _, e.g. order_update), or with Twilio its Content SID (HX…)."))
    language = c["wa_language"].strip()
    if language and not _WA_LANGUAGE.fullmatch(language):
        issues.append(FieldIssue("/wa_language", f"{language!r} is not a template language code",
                                 "Write the code the template was approved in, e.g. en, en_US, de or pt_BR."))
    return issues


def _check_send(c: Config) -> list[FieldIssue]:
    issues = _check_whatsapp(c)
    if c["channel"] == "email" and not (c["html"].strip() or c["text"].strip()):
        issues.append(FieldIssue("/html", "The email has no body", "Write an HTML body, a plain-text body, or both."))
    elif c["channel"] == "email" and not _uses_unsubscribe_link(c["html"], c["text"]):
        # Journey emails are marketing: the law (CAN-SPAM, GDPR/ePrivacy) and Gmail's and Yahoo's sender
        # rules want a visible way out besides the List-Unsubscribe header every email carries.
        issues.append(FieldIssue(
            "/html" if c["html"].strip() else "/text", "The email has no unsubscribe link",
            'Add {{ unsubscribe_url }} to the body, e.g. <a href="{{ unsubscribe_url }}">Unsubscribe</a>.',
            severity="warning"))
    if c["recipients"] == "matching":
        # A consent term naming no channel would never hold (or always), whoever the contact is.
        for i, term in enumerate(c["terms"]):
            value = str(term.get("value") or "").strip().lower()
            if term.get("term") in ("unsubscribed_from", "subscribed_to") and value and value not in CHANNEL_IDS:
                issues.append(FieldIssue(f"/terms/{i}/value", f"{term['value']!r} is not a channel",
                                         "Write email, sms or whatsapp."))
    return issues


def _send_v1_to_v2(config: Config) -> Config:
    """Version 2 adds the WhatsApp fields (`wa_mode`, `wa_template`, `wa_language`, `wa_variables`). A
    version-1 WhatsApp step sent its `message` as free text, so it keeps doing so (`wa_mode` "text"), and
    is now skipped for contacts outside the 24-hour window; new WhatsApp steps start as templates."""
    if config.get("channel") == "whatsapp" and "wa_mode" not in config:
        return {**config, "wa_mode": WA_TEXT}
    return config


SEND_TEMPLATE = register(NodeKind(
    id="send_template", version=2, title="Send message", icon="send", colour="#2f80ed",
    description="Sends an email, SMS or WhatsApp message, personalised for each contact.",
    summarize=_summarize_send, check=_check_send, migrations={1: _send_v1_to_v2},
    schema=(
        Field("channel", CHOICE, "Channel", default="email", choices=CHANNELS),
        Field("sender", TEXT, "From", help="e.g. Corner Shop <hello@cornershop.example>", max_length=MAX_EMAIL,
              visible_when={"channel": ("email",)}),
        Field("subject", TEMPLATE, "Subject", required=True, visible_when={"channel": ("email",)}),
        Field("html", TEMPLATE, "HTML body", visible_when={"channel": ("email",)}),
        Field("text", TEMPLATE, "Plain-text body", visible_when={"channel": ("email",)}),
        Field("wa_mode", CHOICE, "WhatsApp message", default=WA_TEMPLATE, choices=_WA_MODES,
              visible_when={"channel": ("whatsapp",)},
              help="WhatsApp delivers a template any time, once Meta approved it. Free text goes only to contacts "
                   "who wrote to you within the last 24 hours; everyone else skips this step."),
        Field("wa_template", TEXT, "Template name", required=True, max_length=512, visible_when=_WHATSAPP_TEMPLATE,
              help="e.g. order_update — with Twilio, HX…"),
        Field("wa_language", TEXT, "Template language", default="en_US", required=True, max_length=16,
              visible_when=_WHATSAPP_TEMPLATE, help="e.g. en_US, de, pt_BR"),
        Field("wa_variables", LIST, "Template variables: {{1}}, {{2}}…", visible_when=_WHATSAPP_TEMPLATE,
              help="Variable 1 fills {{1}} in the template, variable 2 fills {{2}}, and so on; each may use "
                   "contact., event. and journey. values, e.g. {{ contact.first_name }}.",
              fields=(Field("value", TEMPLATE, "Value", required=True),)),
        Field("message", TEMPLATE, "Message", required=True, visible_when={"channel": ("sms", "whatsapp")},
              hidden_when=_WHATSAPP_TEMPLATE),
        Field("recipients", CHOICE, "Send to", default="everyone", choices=choices(
            ("everyone", "Everyone who reaches this step"), ("matching", "Only contacts who match"))),
        Field("terms", LIST, "Who match", required=True, visible_when={"recipients": ("matching",)}, fields=(
            Field("term", CHOICE, "Term", default="opened_previous", choices=_RECIPIENT_TERMS),
            Field("value", TEXT, "Channel or tag", required=True, visible_when={"term": _TERMS_WITH_VALUE},
                  max_length=MAX_TAG),
        )),
        Field("timing", CHOICE, "When", default="now", choices=choices(
            ("now", "Right away"), ("scheduled", "At a set date and time"),
            ("next_window", "Next allowed window in the contact's time zone"))),
        Field("send_at", DATETIME, "Send at", required=True, visible_when={"timing": ("scheduled",)}),
        Field("missing", CHOICE, "If a variable is missing", default="fallback", choices=choices(
            ("fallback", "Use a fallback text"), ("skip", "Skip this message"), ("fail", "Stop the contact's run"))),
        Field("fallback", TEXT, "Fallback text", default="", visible_when={"missing": ("fallback",)}),
    ),
))

# --- wait --------------------------------------------------------------------

_WAIT_MODES = choices(("duration", "For a while"), ("time_of_day", "Until a time of day"),
                      ("until_date", "Until a date"))


def _summarize_wait(c: Config) -> str:
    if c["mode"] == "duration":
        return f"Wait {format_duration(c['delay'])}"
    if c["mode"] == "time_of_day":
        days = c["weekdays"]
        on = "" if not days or len(days) == 7 else " on " + ", ".join(d.capitalize() for d in days)
        return _clip(f"Until {c['time']}{on}")
    return f"Until {_when(c['until'])}"


def _wait_v1_to_v2(config: Config) -> Config:
    """Version 1 had its own "fallback time zone" for contacts without one (default UTC), so the wait
    and the quiet hours could judge the same contact in different zones. Version 2 uses the one zone
    of every local-time rule (contact, else journey, else business); a fallback zone a user had chosen
    is lifted into the journey's settings when the file is read (`fileformat.lift_wait_zones`)."""
    return {k: v for k, v in config.items() if k != "timezone"}


WAIT = register(NodeKind(
    id="wait", version=2, title="Wait", icon="wait", colour="#f2994a",
    description="Holds contacts for a while, until a time of day, or until a date.",
    summarize=_summarize_wait, migrations={1: _wait_v1_to_v2},
    schema=(
        Field("mode", CHOICE, "Wait", default="duration", choices=_WAIT_MODES),
        duration("delay", "Wait for", 1, "days", minimum=1, visible_when={"mode": ("duration",)},
                 help="Days and weeks are calendar days in the contact's time zone; hours and minutes are exact."),
        Field("time", TIME, "Time of day", default="09:00", visible_when={"mode": ("time_of_day",)},
              help="In the contact's time zone, else the journey's (journey settings), else the business's."),
        Field("weekdays", WEEKDAYS, "On", help="No day chosen means any day.",
              visible_when={"mode": ("time_of_day",)}),
        Field("until", DATETIME, "Until", required=True, visible_when={"mode": ("until_date",)}),
    ),
))

# --- message_status ----------------------------------------------------------


def _summarize_status(c: Config) -> str:
    status = {s.value: s.label for s in MESSAGE_STATUSES}[c["status"]]
    return f"{status} within {format_duration(c['window'], short=True)}?"


MESSAGE_STATUS = register(NodeKind(
    id="message_status", version=1, title="Message status", icon="status", colour="#27ae60",
    description="Branches on whether an earlier message was delivered, opened, clicked…",
    summarize=_summarize_status, outcomes=(Outcome("yes", "Yes"), Outcome("no", "No")),
    schema=(
        Field("step", NODE_REF, "Message step", required=True, help="A send step before this one."),
        Field("status", CHOICE, "Status", default="opened", choices=MESSAGE_STATUSES),
        duration("window", "Within", 24, "hours", minimum=1),
    ),
))

# --- tag ---------------------------------------------------------------------


def _summarize_tag(c: Config) -> str:
    parts = [f"+{t}" for t in c["add"]] + [f"−{t}" for t in c["remove"]]
    return _clip("Tag " + " ".join(parts)) if parts else "Tag (no tags yet)"


def _check_tag(c: Config) -> list[FieldIssue]:
    if not c["add"] and not c["remove"]:
        return [FieldIssue("/add", "The step adds and removes no tags", "Add a tag to add or to remove.")]
    return []


TAG = register(NodeKind(
    id="tag", version=1, title="Tag", icon="tag", colour="#db2777",
    description="Adds tags to contacts or removes them.",
    summarize=_summarize_tag, check=_check_tag,
    schema=(Field("add", TAGS, "Add tags"), Field("remove", TAGS, "Remove tags")),
))

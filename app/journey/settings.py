"""Journey-level settings, declared with the same schema machinery as node configs."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from .conditions import event_rule_fields
from .schema import (BOOL, CHOICE, GROUP, INT, LIST, MAX_DURATION_DAYS, MAX_DURATION_HOURS, TIME, TIMEZONE, Config,
                     Field, choices, defaults, duration, timezone_names)

MAX_CAP_MESSAGES = 1_000    # a cap is a small number; more is no cap at all

BUSINESS_ZONE = ""   # settings.timezone: "" = the business's time zone (app settings)

ENTRY_MODES = choices(
    ("not_in_journey", "Any time they are not already in this journey"),
    ("once", "Only once, ever"),
    ("every_time", "Every time the trigger happens"),
    ("after_days", "Again after a number of days"),
)

SETTINGS_SCHEMA: tuple[Field, ...] = (
    Field("entry", GROUP, "Who can enter again", fields=(
        Field("mode", CHOICE, "A contact can enter", default="not_in_journey", choices=ENTRY_MODES),
        Field("days", INT, "Days between entries", default=30, minimum=1, maximum=MAX_DURATION_DAYS, suffix="days",
              visible_when={"mode": ("after_days",)}),
    )),
    Field("retrigger", CHOICE, "When the trigger happens again while inside", default="ignore", choices=choices(
        ("ignore", "Ignore it; the contact carries on"),
        ("restart", "Exit the current run (re-triggered) and start a new one"),
        ("parallel", "Start another run alongside the current one"),
    ), help="Only when the entry rule above lets the contact enter again; a trigger it refuses changes nothing. "
            "With \"Any time they are not already in this journey\" a contact is never inside twice: no parallel run."),
    Field("exit_conditions", LIST, "Exit when", fields=event_rule_fields(),
          help="Checked continuously: a matching event takes the contact out at any step."),
    Field("exit_on_unsubscribe_all", BOOL, "Exit when the contact unsubscribes from everything", default=True),
    Field("goal", GROUP, "Goal", fields=(
        Field("enabled", BOOL, "Track a goal", default=False),
        *(replace(f, visible_when={"enabled": (True,)}) for f in event_rule_fields("order_placed")),
        duration("window", "Within", 5, "days", minimum=1, visible_when={"enabled": (True,)}),
        Field("exits", BOOL, "Reaching the goal ends the journey", default=False, visible_when={"enabled": (True,)}),
    )),
    duration("conversion_window", "Conversion window", 5, "days", minimum=1,
             help="An order this long after a message counts as that message's conversion."),
    Field("timezone", TIMEZONE, "Time zone", default=BUSINESS_ZONE,
          choices=choices((BUSINESS_ZONE, "Business time zone")),
          help="For contacts without a time zone of their own: quiet hours, times of day, days."),
    Field("quiet_hours", GROUP, "Quiet hours", help="In each contact's own time zone.", fields=(
        Field("enabled", BOOL, "Hold messages during quiet hours", default=True),
        Field("start", TIME, "From", default="21:00", visible_when={"enabled": (True,)}),
        Field("end", TIME, "Until", default="08:00", visible_when={"enabled": (True,)}),
    )),
    Field("consent", GROUP, "Consent", fields=(
        Field("email_unknown", BOOL, "Email contacts who were never asked", default=True,
              help="Email goes to contacts who subscribed and, unless you turn this off, to those never asked."),
        Field("sms_unknown", BOOL, "Text contacts without SMS consent", default=False,
              help="Marketing texts need prior consent: leave off unless you have it outside the app."),
        Field("whatsapp_unknown", BOOL, "Send WhatsApp without WhatsApp consent", default=False,
              help="WhatsApp requires an opt-in: leave off unless you have it outside the app."),
    ), help="Contacts who opted out of a channel never get messages on it."),
    Field("frequency_cap", GROUP, "Frequency cap", help="Across all journeys, per channel.", fields=(
        Field("enabled", BOOL, "Limit how often a contact hears from you", default=False),
        Field("messages", INT, "At most", default=2, minimum=1, maximum=MAX_CAP_MESSAGES, suffix="messages",
              visible_when={"enabled": (True,)}),
        Field("hours", INT, "Per", default=24, minimum=1, maximum=MAX_DURATION_HOURS, suffix="hours",
              visible_when={"enabled": (True,)}),
    )),
    Field("tracking", GROUP, "Opens and clicks", fields=(
        Field("enabled", BOOL, "Track opens and clicks", default=False),
    ), help="Email only, and only when a public URL is set (Settings → Channels): links go through it and a "
            "1×1 image counts opens. Off, or without a public URL, opens and clicks are not measured."),
)


def default_settings() -> Config:
    return defaults(SETTINGS_SCHEMA)


def legacy_wait_zone(configs: Iterable[tuple[str, Config]]) -> str:
    """The zone a journey written before `settings.timezone` existed meant for contacts without one:
    the first "until a time of day" wait's own fallback zone other than UTC (UTC was only the
    default), or "" when there is none. `configs`: (kind id, config) of the journey's nodes."""
    for kind, config in configs:
        name = config.get("timezone") if kind == "wait" and config.get("mode") == "time_of_day" else None
        if isinstance(name, str) and name not in ("", "UTC") and name in timezone_names():
            return name
    return ""


def journey_timezone(settings: Config, configs: Iterable[tuple[str, Config]]) -> str:
    """The journey's own time zone: `settings.timezone`, else an old wait's fallback zone
    (`legacy_wait_zone`), else "" (the business's time zone)."""
    return str(settings.get("timezone") or "") or legacy_wait_zone(configs)


UNKNOWN_CONSENT_KEYS = {"email": "email_unknown", "sms": "sms_unknown", "whatsapp": "whatsapp_unknown"}


def allows_unknown(settings: Config, channel: str) -> bool:
    """Whether the journey sends on `channel` to contacts whose consent is unknown (never asked).

    Email: yes unless turned off. SMS and WhatsApp: only when the journey says so, because
    marketing texts need prior express consent (US TCPA, UK PECR, EU ePrivacy; WhatsApp Business Policy).
    """
    key = UNKNOWN_CONSENT_KEYS.get(channel)
    return bool(settings["consent"][key]) if key else False


def tracks_opens(settings: Config) -> bool:
    """Whether the journey asks for open and click tracking in its emails ("Track opens and clicks")."""
    tracking = settings.get("tracking")
    return isinstance(tracking, dict) and bool(tracking.get("enabled"))


def settings_label(*path: str) -> str:
    """The label the inspector shows for a setting, e.g. settings_label("consent", "sms_unknown")."""
    fields, found = SETTINGS_SCHEMA, None
    for name in path:
        found = next(f for f in fields if f.name == name)
        fields = found.fields
    assert found is not None
    return found.label

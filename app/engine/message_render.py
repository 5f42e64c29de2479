"""Rendering a send step's message for one contact and one event, with or without a run.

The engine's send step (app/engine/sending.py) renders through here inside a batch; a test send and a
preview render the same way for a chosen (or sample) contact with no run at all, so what a test shows is
what the journey sends. The missing-variable policy is the step's own: `RenderedMessage.missing` names
what was missing and `policy` says what the step does about it (fallback text printed, skip, fail).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.journey.node_kinds import whatsapp_template_step
from app.journey.template_filters import ZONE_VARIABLE
from app.journey.template_limits import budget

from .templating import TemplateCache

_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x85\u2028\u2029]+\s*")
# Babel writes money and numbers with no-break and narrow spaces ("49,00\xa0€", "1\u202f234,50") and, in
# some locales, a real minus sign: none is in the GSM-7 alphabet (3GPP TS 23.038), so one would make a whole
# SMS go as UCS-2 (70 characters a segment instead of 160). On a phone they look the same as a space and a
# hyphen, so an SMS gets those (what Twilio's "smart encoding" does for the same characters).
_SMS_PLAIN = str.maketrans({**{c: " " for c in "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                                                 "\u2009\u200a\u202f\u205f\u3000"}, "\u2212": "-"})


WHATSAPP_VARIABLE = "WhatsApp variable "    # how a template variable is named in errors and the missing list


def message_fields(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, template source) of the fields a send step renders: the email's subject, HTML and plain
    text; an SMS or free WhatsApp text; or an approved WhatsApp template's variables ("WhatsApp
    variable 1", … in placeholder order: {{1}}, {{2}}, …)."""
    if config["channel"] == "email":
        return [(name, config.get(name, "")) for name in ("subject", "html", "text")]
    if whatsapp_template_step(config):
        return [(f"{WHATSAPP_VARIABLE}{i}", str(item.get("value") or ""))
                for i, item in enumerate(config.get("wa_variables") or [], 1)]
    return [("message", config.get("message", ""))]


@dataclass(frozen=True)
class RenderedMessage:
    """A step's message as rendered: `fields` by name (subject/html/text, or message), the names of the
    values that were missing (printed as the fallback text), and the first template error, if any, as
    (field, error text)."""

    channel: str
    fields: dict[str, str]
    missing: tuple[str, ...]
    error: tuple[str, str] | None = None
    policy: str = "fallback"          # the step's `missing`: fallback, skip or fail
    whatsapp_template: dict[str, Any] | None = None   # {"name", "language", "variables": [text, …]}

    @property
    def refused(self) -> str | None:
        """"missing_variable" when the step's policy skips or fails a message with missing values."""
        return "missing_variable" if self.missing and self.policy in ("skip", "fail") else None

    @property
    def subject(self) -> str | None:
        return self.fields.get("subject")

    @property
    def text(self) -> str | None:
        return self.fields.get("text") if self.channel == "email" else self.fields.get("message")

    @property
    def html(self) -> str | None:
        return self.fields.get("html")


def message_context(templates: TemplateCache, contact: dict[str, Any], event: dict[str, Any], zone: ZoneInfo,
                    journey_name: str, journey_description: str = "", *,
                    unsubscribe_url: str | None = None) -> dict[str, Any]:
    """The render variables of one message: `contact` (its template data), `event` (the trigger event's
    properties, {} for none), the contact's local zone (for the date filters), the journey's name and,
    when given, the message's own `unsubscribe_url` (app/delivery/unsubscribe.py)."""
    values: dict[str, Any] = {"contact": contact, "event": event, ZONE_VARIABLE: zone,
                              "journey": {"name": journey_name, "description": journey_description}}
    if unsubscribe_url is not None:
        values["unsubscribe_url"] = unsubscribe_url
    return templates.variables(values)


def render_message(templates: TemplateCache, config: dict[str, Any], context: dict[str, Any],
                   key: tuple[str, int, str]) -> RenderedMessage:
    """Renders the fields of a send step with `config` (its channel, templates, missing policy and
    fallback) in `context` (from message_context). `key` = (journey id, version, node id) names the
    compiled templates in `templates`' cache. All fields share one render budget (steps, 200 ms); the
    first field in error stops the message. The subject comes back as one line; an SMS's no-break
    and narrow spaces come back as spaces, its minus signs as hyphens (GSM-7 has neither). Never raises."""
    channel = config["channel"]
    policy = config.get("missing", "fallback")
    fallback = config.get("fallback", "") if policy == "fallback" else ""
    rendered: dict[str, str] = {}
    missing: list[str] = []
    with budget(templates.limits):
        for name, source in message_fields(config):
            result = templates.render((*key, name), source, context, fallback)
            if result.error:
                return RenderedMessage(channel, rendered, tuple(dict.fromkeys(missing)), (name, result.error), policy)
            rendered[name] = result.text
            missing.extend(result.missing)
            if name.startswith(WHATSAPP_VARIABLE):
                # WhatsApp refuses a template parameter with a line break, a tab or more than four spaces
                # in a row (Meta: "Param text cannot have new-line/tab characters or more than 4
                # consecutive spaces", code 100; the same through Twilio): an address or a note from the
                # data must not fail the message, so its white space becomes single spaces.
                rendered[name] = " ".join(result.text.split())
            if name.startswith(WHATSAPP_VARIABLE) and not rendered[name]:
                # WhatsApp refuses an empty template parameter (Twilio 21656, Meta 100): a value that
                # printed nothing is a missing one, under the step's policy.
                missing.append(name)
                rendered[name] = " ".join(fallback.split())
    if channel == "sms" and "message" in rendered:
        rendered["message"] = rendered["message"].translate(_SMS_PLAIN)
    if rendered.get("subject"):
        # A subject is one header line: a line break from the data (`Ann\r\nBcc: …`) must not start another.
        rendered["subject"] = _LINE_BREAKS.sub(" ", rendered["subject"]).strip()
    template = None
    if whatsapp_template_step(config):
        template = {"name": config["wa_template"].strip(), "language": config["wa_language"].strip(),
                    "variables": [rendered[name] for name, _ in message_fields(config)]}
    return RenderedMessage(channel, rendered, tuple(dict.fromkeys(missing)), None, policy, template)

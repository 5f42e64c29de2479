"""The channel settings a user may set, one declaration each, read by the CLI (`journeys channels set
email port=465`) and the settings page alike, so both check a value the same way.

`SECTIONS` maps a section (email, imap, sms, whatsapp, general) to its fields; `set_value` checks one
typed value and writes it into a `DeliverySettings`, or raises `SettingError` naming the key and saying
what to write instead. Secrets are no fields here: they go to the keyring (`app.delivery.secrets`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from typing import Any

from . import secrets
from .addresses import email_address, host_name, loopback, phone_number, sender_identity, web_url
from .settings import DeliverySettings

# Twilio's documented SID shapes: two letters, then 32 hexadecimal digits (AC… accounts, MG… services).
_SID = {"AC": re.compile(r"AC[0-9a-fA-F]{32}"), "MG": re.compile(r"MG[0-9a-fA-F]{32}")}
_GRAPH_VERSION = re.compile(r"v\d+\.\d+")


class SettingError(ValueError):
    """A value that cannot be stored: `key` is the field's key (as typed on the command line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True)
class SettingField:
    """One setting: `key` as typed (`journeys channels set email host=…`), `path` into DeliverySettings,
    `kind` how it is checked (host, port, choice, email, sender, phone, sid_ac, sid_mg, url, public_url,
    digits, version, rate, seconds, text), `label` as the settings page shows it."""

    key: str
    path: tuple[str, ...]
    kind: str
    label: str
    choices: tuple[tuple[str, str], ...] = ()      # (value, label)
    help: str = ""
    placeholder: str = ""                          # grey example text on the settings page ("e.g. …")


_SECURITY = (("starttls", "STARTTLS (port 587)"), ("tls", "TLS (port 465)"), ("none", "None (no password)"))
_IMAP_SECURITY = (("tls", "TLS (port 993)"), ("starttls", "STARTTLS (port 143)"), ("none", "None (this computer only)"))


def _twilio(prefix: tuple[str, ...], api_key: str) -> tuple[SettingField, ...]:
    return (
        SettingField("account_sid", (*prefix, "account_sid"), "sid_ac", "Account SID", placeholder="AC… (34 characters)",
                     help="On the Twilio console's home page"),
        SettingField("sender", (*prefix, "sender"), "phone", "Sender number", placeholder="e.g. +15005550006",
                     help="A Twilio number in international form; or leave empty and give a Messaging Service SID"),
        SettingField("messaging_service_sid", (*prefix, "messaging_service_sid"), "sid_mg", "Messaging Service SID",
                     placeholder="MG… (instead of a sender number)"),
        SettingField(api_key, (*prefix, "api_base"), "url", "Twilio API address",
                     help="Leave as it is, unless you test against a local server"),
    )


SECTIONS: dict[str, tuple[SettingField, ...]] = {
    "email": (
        SettingField("host", ("email", "host"), "host", "SMTP server", placeholder="e.g. smtp.gmail.com"),
        SettingField("port", ("email", "port"), "port", "Port"),
        SettingField("security", ("email", "security"), "choice", "Security", _SECURITY,
                     help="A password is never sent over an unencrypted connection"),
        SettingField("username", ("email", "username"), "text", "User name", placeholder="e.g. hello@shop.example"),
        SettingField("sender", ("email", "sender"), "sender", "Default From",
                     placeholder="e.g. Corner Shop <hello@shop.example>", help="Used when a send step names no sender"),
        SettingField("reply_to", ("email", "reply_to"), "email", "Reply-To", placeholder="optional"),
        SettingField("unsubscribe_address", ("email", "unsubscribe_address"), "email", "Unsubscribe address",
                     placeholder="e.g. unsubscribe@shop.example",
                     help="Goes into List-Unsubscribe; mails to it arrive in the mailbox below and opt the contact out"),
        SettingField("rate_per_second", ("email", "rate_per_second"), "rate", "Messages per second",
                     help="0: no limit"),
    ),
    "imap": (
        SettingField("host", ("imap", "host"), "host", "IMAP server", placeholder="e.g. imap.gmail.com"),
        SettingField("port", ("imap", "port"), "port", "Port"),
        SettingField("security", ("imap", "security"), "choice", "Security", _IMAP_SECURITY),
        SettingField("username", ("imap", "username"), "text", "User name", placeholder="e.g. hello@shop.example"),
        SettingField("folder", ("imap", "folder"), "text", "Folder", placeholder="INBOX (the default)"),
    ),
    "sms": (*_twilio(("sms", "twilio"), "api_base"),
            SettingField("rate_per_second", ("sms", "rate_per_second"), "rate", "Messages per second",
                         help="One Twilio long code sends 1 per second; 0: no limit")),
    "whatsapp": (
        SettingField("provider", ("whatsapp", "provider"), "choice", "Provider",
                     (("twilio", "Twilio"), ("meta", "Meta WhatsApp Cloud API"))),
        *_twilio(("whatsapp", "twilio"), "twilio_api_base"),
        SettingField("phone_number_id", ("whatsapp", "meta", "phone_number_id"), "digits", "Phone number ID",
                     help="Meta: WhatsApp → API setup", placeholder="e.g. 106540352242922 (not the phone number)"),
        SettingField("business_account_id", ("whatsapp", "meta", "business_account_id"), "digits",
                     "WhatsApp Business Account ID", placeholder="e.g. 102290129340398 (WhatsApp → API setup)"),
        SettingField("meta_api_base", ("whatsapp", "meta", "api_base"), "url", "Graph API address"),
        SettingField("api_version", ("whatsapp", "meta", "api_version"), "version", "Graph API version",
                     placeholder="e.g. v21.0"),
        SettingField("rate_per_second", ("whatsapp", "rate_per_second"), "rate", "Messages per second"),
    ),
    "general": (
        SettingField("public_url", ("public_url",), "public_url", "Public URL", placeholder="e.g. https://shop.example/js",
                     help="Where this app's receiver is reachable from the internet, if anywhere. Without it email "
                          "and texts still go out; one-click unsubscribe, opens and clicks, and Meta status "
                          "webhooks need it"),
        SettingField("retry_hours", ("retry_hours",), "hours", "Give up retrying after (hours)"),
    ),
}

# Which secret each section needs (WhatsApp: its provider's).
SECRET_NAMES = {"email": secrets.SMTP_PASSWORD, "imap": secrets.IMAP_PASSWORD, "sms": secrets.TWILIO_AUTH_TOKEN}
SECRET_WORDS = {secrets.SMTP_PASSWORD: "SMTP password", secrets.IMAP_PASSWORD: "IMAP password",
                secrets.TWILIO_AUTH_TOKEN: "Twilio auth token", secrets.META_ACCESS_TOKEN: "Meta access token"}
_SECRET_KEYS = {"password", "pass", "token", "auth_token", "access_token", "secret", "smtp_password",
                "imap_password", "twilio_auth_token", "meta_access_token"}


def secret_for(settings: DeliverySettings, section: str) -> str | None:
    """The secret `section` uses (None: general)."""
    if section == "whatsapp":
        return secrets.META_ACCESS_TOKEN if settings.whatsapp.provider == "meta" else secrets.TWILIO_AUTH_TOKEN
    return SECRET_NAMES.get(section)


def field(section: str, key: str) -> SettingField:
    """The field `key` of `section`; SettingError lists the keys there are."""
    if section not in SECTIONS:
        raise SettingError(section, f"no such section; use one of {', '.join(SECTIONS)}")
    lowered = key.strip().lower().replace("-", "_")
    for f in SECTIONS[section]:
        if f.key == lowered:
            return f
    if lowered in _SECRET_KEYS:
        raise SettingError(key, "secrets are never given on the command line (the shell keeps its history); "
                                "use `journeys channels secret NAME`, which reads it from the keyboard or stdin")
    raise SettingError(key, f"{section} has no such setting; its keys are "
                            f"{', '.join(f.key for f in SECTIONS[section])}")


def _number(key: str, text: str, low: float, high: float, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SettingError(key, f"{text!r} is not a number; {what}") from None
    if not low <= value <= high:
        raise SettingError(key, f"{text} is out of range; {what}")
    return value


def check(f: SettingField, text: str) -> Any:
    """The value `text` stands for in field `f`, as stored; SettingError says what is wrong.

    An empty text clears a text field (the default comes back for ports, choices and numbers)."""
    key, value = f.key, text.strip()
    try:
        if f.kind in ("email", "sender", "phone", "host", "text") and not value:
            return ""
        if f.kind == "host":
            return host_name(value)
        if f.kind == "email":
            return email_address(value)
        if f.kind == "sender":
            return sender_identity(value)
        if f.kind == "phone":
            return phone_number(value)
        if f.kind in ("url", "public_url"):
            url = web_url(value, https=f.kind == "public_url")
            parts = urlsplit(url)
            if f.kind == "url" and parts.scheme == "http" and not loopback(parts.hostname or ""):
                # The auth token goes with every request: never in the clear over a network.
                raise SettingError(key, f"{url!r} must use https:// (the auth token goes with every request); "
                                        "plain http is only for a test server on this computer (127.0.0.1)")
            if "@" in parts.netloc:
                # A user name and password in the URL would be stored in the database and, for the public
                # URL, printed into every email's unsubscribe link: never a secret there.
                raise SettingError(key, "must not contain a user name or password (user:password@…): give the "
                                        "address alone, such as https://shop.example")
            return url
    except ValueError as exc:
        raise SettingError(key, str(exc)) from None
    if f.kind == "text":
        if any(not c.isprintable() for c in value):
            raise SettingError(key, "must be one line of printable text")
        return value
    if f.kind == "port":
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise SettingError(key, f"{text!r} is not a port; write a whole number from 1 to 65535 "
                                    "(SMTP: 587 or 465; IMAP: 993)")
        return int(value)
    if f.kind == "choice":
        allowed = [v for v, _label in f.choices]
        if value.lower() not in allowed:
            raise SettingError(key, f"{text!r} is not one of {', '.join(allowed)}")
        return value.lower()
    if f.kind in ("sid_ac", "sid_mg"):
        prefix = f.kind[-2:].upper()
        if value and not _SID[prefix].fullmatch(value):
            raise SettingError(key, f"{text!r} is not a Twilio SID: it is {prefix} followed by 32 letters "
                                    "and digits (0-9, a-f), as the Twilio console shows it")
        return value
    if f.kind == "digits":
        if value and not value.isdigit():
            raise SettingError(key, f"{text!r} is not an id: Meta's ids are digits only")
        return value
    if f.kind == "version":
        if not _GRAPH_VERSION.fullmatch(value):
            raise SettingError(key, f"{text!r} is not a Graph API version; write it as v21.0")
        return value
    if f.kind == "rate":
        return _number(key, value, 0, 10_000, "write messages per second from 0 (no limit) to 10000")
    if f.kind == "hours":
        return _number(key, value, 1, 24 * 30, "write hours from 1 to 720")
    raise AssertionError(f"unknown setting kind {f.kind}")


def get_value(settings: DeliverySettings, f: SettingField) -> Any:
    target: Any = settings
    for name in f.path:
        target = getattr(target, name)
    return target


def set_value(settings: DeliverySettings, section: str, key: str, text: str) -> SettingField:
    """Checks `text` for `section`.`key` and writes it into `settings`; returns the field.
    An empty text for a port, choice or number puts its default back. Raises SettingError."""
    f = field(section, key)
    if not text.strip() and f.kind in ("port", "choice", "rate", "hours", "version", "url"):
        value = get_value(DeliverySettings(), f)
    else:
        value = check(f, text)
    target: Any = settings
    for name in f.path[:-1]:
        target = getattr(target, name)
    setattr(target, f.path[-1], value)
    return f


def shown(value: Any) -> str:
    """A stored value as a user reads it (numbers without a needless ".0")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

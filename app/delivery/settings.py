"""The channels' settings (everything but secrets), kept in the database's `app_settings`.

One JSON document per channel under the keys in `KEYS`, so the app, the CLI and the service read
the same set-up. Secrets (the SMTP password, the Twilio auth token, the Meta access token) live in
the keyring (`app.delivery.secrets`), never here.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from app.store.app_settings import all_settings, set_setting

EMAIL_KEY, SMS_KEY, WHATSAPP_KEY, IMAP_KEY, PUBLIC_URL_KEY = (
    "channel.email", "channel.sms", "channel.whatsapp", "channel.imap", "public_url")

# Defaults that keep a shop inside common provider limits (messages per second; 0 = no limit):
# Amazon SES starts production accounts at 14/s and Gmail/Microsoft 365 throttle bursts; one Twilio
# long code sends 1 SMS/s; Meta's Cloud API takes 80/s per business number.
DEFAULT_RATE = {"email": 10.0, "sms": 1.0, "whatsapp": 20.0}
DEFAULT_RETRY_HOURS = 24


@dataclass
class EmailSettings:
    """SMTP: `security` is "starttls" (port 587), "tls" (implicit TLS, port 465) or "none" (only
    without a password: a password never crosses an unencrypted connection)."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    sender: str = ""                 # the default From: "Corner Shop <hello@shop.example>"
    reply_to: str = ""
    unsubscribe_address: str = ""    # List-Unsubscribe mailto: (the IMAP poller reads what comes back)
    rate_per_second: float = DEFAULT_RATE["email"]
    timeout_seconds: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


@dataclass
class ImapSettings:
    """The sender's mailbox, where bounces (RFC 3464), replies and unsubscribe mails arrive."""

    host: str = ""
    port: int = 993
    security: str = "tls"            # "tls" (993), "starttls" (143) or "none" (tests on 127.0.0.1 only)
    username: str = ""
    folder: str = "INBOX"

    @property
    def configured(self) -> bool:
        return bool(self.host and self.username)


@dataclass
class TwilioSettings:
    """Twilio's Messages API: `sender` is a number (+15005550006) or, instead, a Messaging Service SID."""

    account_sid: str = ""
    sender: str = ""
    messaging_service_sid: str = ""
    api_base: str = "https://api.twilio.com"     # configurable: tests point it at 127.0.0.1

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and (self.sender or self.messaging_service_sid))


@dataclass
class MetaSettings:
    """Meta's WhatsApp Cloud API: POST {api_base}/{api_version}/{phone_number_id}/messages."""

    phone_number_id: str = ""
    business_account_id: str = ""
    api_base: str = "https://graph.facebook.com"
    api_version: str = "v21.0"

    @property
    def configured(self) -> bool:
        return bool(self.phone_number_id)


@dataclass
class SmsSettings:
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    rate_per_second: float = DEFAULT_RATE["sms"]

    @property
    def configured(self) -> bool:
        return self.twilio.configured


@dataclass
class WhatsAppSettings:
    provider: str = "twilio"          # "twilio" or "meta"
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    meta: MetaSettings = field(default_factory=MetaSettings)
    rate_per_second: float = DEFAULT_RATE["whatsapp"]

    @property
    def configured(self) -> bool:
        return self.meta.configured if self.provider == "meta" else self.twilio.configured


@dataclass
class DeliverySettings:
    email: EmailSettings = field(default_factory=EmailSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    public_url: str = ""              # where the receiver is reachable from the internet, if anywhere
    retry_hours: float = DEFAULT_RETRY_HOURS

    def configured(self, channel: str) -> bool:
        """Whether `channel` (email, sms, whatsapp) has its settings (its secret is checked apart)."""
        return bool(getattr(self, channel).configured)


T = TypeVar("T")


def _build(cls: type[T], data: Any) -> T:
    """`cls` from a JSON object, ignoring unknown keys and keeping defaults for missing ones."""
    if not isinstance(data, dict):
        return cls()
    values: dict[str, Any] = {}
    for f in fields(cls):           # type: ignore[arg-type]
        if f.name not in data:
            continue
        default = getattr(cls(), f.name)
        value = data[f.name]
        if hasattr(default, "__dataclass_fields__"):
            values[f.name] = _build(type(default), value)
        elif isinstance(default, bool) or not isinstance(value, (str, int, float)) or isinstance(value, bool):
            continue                 # a stored value of the wrong kind: the default stays
        elif isinstance(default, str):
            values[f.name] = str(value)
        elif isinstance(default, (int, float)):
            try:
                values[f.name] = type(default)(value)
            except (TypeError, ValueError):
                continue
    return cls(**values)


_KEYS = {EMAIL_KEY: "email", IMAP_KEY: "imap", SMS_KEY: "sms", WHATSAPP_KEY: "whatsapp"}


def load_settings(db: Engine) -> DeliverySettings:
    """The stored delivery settings; defaults for anything never set or unreadable."""
    stored = all_settings(db)
    parts: dict[str, Any] = {}
    for key, name in _KEYS.items():
        try:
            parts[name] = json.loads(stored[key]) if key in stored else {}
        except ValueError:
            parts[name] = {}
    settings = DeliverySettings(
        email=_build(EmailSettings, parts["email"]), imap=_build(ImapSettings, parts["imap"]),
        sms=_build(SmsSettings, parts["sms"]), whatsapp=_build(WhatsAppSettings, parts["whatsapp"]),
        public_url=stored.get(PUBLIC_URL_KEY, "").strip().rstrip("/"))
    try:
        settings.retry_hours = float(json.loads(stored.get("delivery.retry_hours", "24")))
    except (TypeError, ValueError):
        pass
    return settings


def save_settings(db: Engine, settings: DeliverySettings) -> None:
    """Stores every channel's settings (one short transaction per key)."""
    for key, name in _KEYS.items():
        set_setting(db, key, json.dumps(asdict(getattr(settings, name)), sort_keys=True))
    set_setting(db, PUBLIC_URL_KEY, settings.public_url.strip().rstrip("/") or None)
    set_setting(db, "delivery.retry_hours", json.dumps(settings.retry_hours))

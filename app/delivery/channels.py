"""The ways out: a channel object for `email`, `sms` or `whatsapp`, built from the settings and secrets.

`open_channel(settings, name)` returns a new, unshared channel (the dispatcher gives each worker
thread its own) or raises `NotConfigured` saying what is missing, so the message waits in the outbox
rather than fail. `live_dispatcher(db)` is the dispatcher the app and `journeys outbox send` run: it
reads the settings again each round (rates, retry limit) and whenever it opens a channel, so a change
in Settings → Channels counts from the next round.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Callable

from sqlalchemy.engine import Engine

from .base import Channel, NotConfigured
from .secrets import META_ACCESS_TOKEN, SMTP_PASSWORD, TWILIO_AUTH_TOKEN, get_secret
from .settings import DeliverySettings, load_settings

if TYPE_CHECKING:
    from app.engine.clock import Clock

    from .dispatcher import DispatchConfig, Dispatcher

WHERE = "set it up in Settings → Channels or with `journeys channels set`"


def _secret(name: str, what: str) -> str:
    value = get_secret(name)
    if not value:
        raise NotConfigured(f"no {what} is stored; {WHERE}")
    return value


def _class(module: str, name: str) -> Callable[..., Channel]:
    """A channel class of app/delivery, looked up when first needed (each is written by its own
    module's owner; constructor signatures are fixed in the delivery design)."""
    found: Callable[..., Channel] = getattr(import_module(f"app.delivery.{module}"), name)
    return found


def open_channel(settings: DeliverySettings, name: str) -> Channel:
    """A new channel for `name` (email, sms, whatsapp). Raises NotConfigured when its settings or
    secret are missing, ValueError for a channel name the app does not know."""
    if name == "email":
        if not settings.email.configured:
            raise NotConfigured(f"no SMTP server or sender address; {WHERE}")
        EmailChannel = _class("smtp", "EmailChannel")
        # A server without a user name takes no password (a relay on the shop's own network).
        password = _secret(SMTP_PASSWORD, "SMTP password") if settings.email.username else None
        return EmailChannel(settings.email, password, public_url=settings.public_url)
    if name == "sms":
        if not settings.sms.configured:
            raise NotConfigured(f"no Twilio account or sender; {WHERE}")
        TwilioChannel = _class("twilio", "TwilioChannel")
        return TwilioChannel(settings.sms.twilio, _secret(TWILIO_AUTH_TOKEN, "Twilio auth token"), whatsapp=False)
    if name == "whatsapp":
        if not settings.whatsapp.configured:
            raise NotConfigured(f"no WhatsApp provider account; {WHERE}")
        if settings.whatsapp.provider == "meta":
            MetaChannel = _class("meta", "MetaChannel")
            return MetaChannel(settings.whatsapp.meta, _secret(META_ACCESS_TOKEN, "Meta access token"))
        TwilioChannel = _class("twilio", "TwilioChannel")
        return TwilioChannel(settings.whatsapp.twilio, _secret(TWILIO_AUTH_TOKEN, "Twilio auth token"),
                             whatsapp=True)
    raise ValueError(f"unknown channel {name!r}: channels are email, sms, whatsapp")


def channel_factory(db: Engine) -> Callable[[str], Channel]:
    """`open_channel` on the settings stored in `db`, read afresh each time."""
    return lambda name: open_channel(load_settings(db), name)


def dispatch_config(settings: DeliverySettings) -> "DispatchConfig":
    """The dispatcher's rates and retry limit from the stored settings."""
    from .dispatcher import DispatchConfig
    from .retry import RetryPolicy

    return DispatchConfig(rates={"email": settings.email.rate_per_second, "sms": settings.sms.rate_per_second,
                                 "whatsapp": settings.whatsapp.rate_per_second},
                          retry=RetryPolicy(retry_hours=settings.retry_hours))


def live_dispatcher(db: Engine, clock: "Clock | None" = None,
                    open_with: Callable[[str], Channel] | None = None) -> "Dispatcher":
    """The dispatcher the app and `journeys outbox send` run, on the stored settings (`open_with`
    replaces the channels, e.g. with test channels)."""
    from .dispatcher import Dispatcher

    return Dispatcher(db, open_with or channel_factory(db), config=dispatch_config(load_settings(db)), clock=clock,
                      reconfigure=lambda: dispatch_config(load_settings(db)))

"""The ways out: a channel object for `email`, `sms` or `whatsapp`, built from the settings and secrets.

Email goes out over SMTP (app.delivery.smtp), SMS through Twilio, WhatsApp through Twilio or Meta's
WhatsApp Cloud API (app.delivery.twilio, app.delivery.meta). `open_channel(settings, name)` returns a
new, unshared channel (the dispatcher gives each worker thread its own) or raises `NotConfigured`
saying what is missing and where to set it, so the message waits in the outbox rather than fail.
`live_dispatcher(db)` is the dispatcher the app and `journeys outbox send` run: it reads the settings
again each round (rates, retry limit) and whenever it opens a channel, so a change in Settings →
Channels counts from the next round.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from sqlalchemy.engine import Engine

from .base import Channel, NotConfigured
from .checks import settings_problem
from .secrets import SecretsUnavailable, get_secret
from .settings import DeliverySettings, load_settings
from .setting_fields import secret_for
from .unsubscribe import signing_key

if TYPE_CHECKING:
    from app.engine.clock import Clock

    from .dispatcher import DispatchConfig, Dispatcher

CHANNELS = ("email", "sms", "whatsapp")


def open_channel(settings: DeliverySettings, name: str, *, unsubscribe_key: bytes | None = None) -> Channel:
    """The channel `name` (email, sms, whatsapp) as set up in `settings`, with its secret from the
    environment or the keyring (app.delivery.secrets). `unsubscribe_key` signs the List-Unsubscribe
    token of each email (app.delivery.unsubscribe.signing_key); without it the header names no message.

    Raises NotConfigured with a sentence saying what is missing and where to set it (Settings →
    Channels, `journeys channels set …`, or the secret's environment variable): an unknown channel,
    a missing host, sender, SID or secret, no keyring on this machine."""
    if name not in CHANNELS:
        raise NotConfigured(f"{name!r} is no channel; use one of {', '.join(CHANNELS)}")
    problem = settings_problem(settings, name)
    if problem is not None:
        raise NotConfigured(problem.detail)
    secret_name = secret_for(settings, name)
    assert secret_name is not None
    try:
        secret = get_secret(secret_name)
    except SecretsUnavailable as exc:
        raise NotConfigured(str(exc)) from None
    if name == "email":
        from .smtp import EmailChannel

        return EmailChannel(settings.email, secret, public_url=settings.public_url, unsubscribe_key=unsubscribe_key)
    if name == "whatsapp" and settings.whatsapp.provider == "meta":
        from .meta import MetaChannel

        return MetaChannel(settings.whatsapp.meta, secret or "")
    from .twilio import TwilioChannel

    twilio = settings.sms.twilio if name == "sms" else settings.whatsapp.twilio
    from .unsubscribe import https_base

    base = https_base(settings.public_url)        # Twilio calls back only to a public https:// address
    callback = f"{base}/hooks/twilio/status" if base.startswith("https://") else None
    return TwilioChannel(twilio, secret or "", whatsapp=name == "whatsapp", status_callback=callback)


def channel_factory(db: Engine) -> Callable[[str], Channel]:
    """`open_channel` on the settings stored in `db`, read afresh each time, with the database's
    unsubscribe signing key."""
    return lambda name: open_channel(load_settings(db), name, unsubscribe_key=signing_key(db))


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

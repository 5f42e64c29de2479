"""The real channels, built from the settings and the secrets: `open_channel(settings, "email")`.

Email goes out over SMTP (app.delivery.smtp), SMS through Twilio, WhatsApp through Twilio or Meta's
WhatsApp Cloud API (app.delivery.twilio, app.delivery.meta). Each is imported when first needed: the
settings page and the CLI load no HTTP or SMTP code until something is sent or tested.
"""
from __future__ import annotations

from .base import Channel, NotConfigured
from .checks import settings_problem
from .secrets import SecretsUnavailable, get_secret
from .settings import DeliverySettings
from .setting_fields import secret_for

CHANNELS = ("email", "sms", "whatsapp")


def open_channel(settings: DeliverySettings, name: str) -> Channel:
    """The channel `name` (email, sms, whatsapp) as set up in `settings`, with its secret from the
    environment or the keyring (app.delivery.secrets).

    Raises NotConfigured with a sentence saying what is missing and where to set it (Settings →
    Channels, `journeys channels set …`, or the secret's environment variable): an unknown channel,
    a missing host, sender, SID or secret, no keyring on this machine. Messages for it then wait in
    the outbox; nothing fails."""
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
        from .smtp import EmailChannel      # type: ignore[import-not-found, unused-ignore]

        return EmailChannel(settings.email, secret, public_url=settings.public_url)    # type: ignore[no-any-return, unused-ignore]
    if name == "whatsapp" and settings.whatsapp.provider == "meta":
        from .meta import MetaChannel       # type: ignore[import-not-found, unused-ignore]

        return MetaChannel(settings.whatsapp.meta, secret or "")     # type: ignore[no-any-return, unused-ignore]
    from .twilio import TwilioChannel       # type: ignore[import-not-found, unused-ignore]

    twilio = settings.sms.twilio if name == "sms" else settings.whatsapp.twilio
    return TwilioChannel(twilio, secret or "", whatsapp=name == "whatsapp")     # type: ignore[no-any-return, unused-ignore]

"""The real channels (app.delivery.channels.open_channel: EmailChannel over SMTP, TwilioChannel) pointed
at local servers, for a child process: the kill test's and the benchmark's `--channels` entry point
`tests.delivery.real_channels:factory`.

The child reads where the servers are from the environment: JOURNEYS_TEST_SMTP_PORT (a plain SMTP server
on 127.0.0.1, no login), JOURNEYS_TEST_TWILIO_URL, JOURNEYS_TEST_TWILIO_SID and JOURNEYS_TEST_TWILIO_FROM
(a FakeTwilio; its auth token comes as JOURNEYS_TWILIO_AUTH_TOKEN, the product's own variable).
"""
from __future__ import annotations

import os
from typing import Callable

from sqlalchemy.engine import Engine

from app.delivery.base import Channel
from app.delivery.channels import open_channel
from app.delivery.settings import DeliverySettings, EmailSettings, TwilioSettings, load_settings
from app.delivery.unsubscribe import signing_key

SENDER = "Corner Shop <shop@dispatch.example>"


def local_settings(db: Engine) -> DeliverySettings:
    """The stored settings (rates, retry limit) with the channels pointed at the local servers."""
    settings = load_settings(db)
    port = int(os.environ.get("JOURNEYS_TEST_SMTP_PORT", "0"))
    settings.email = EmailSettings(host="127.0.0.1", port=port, security="none", username="", sender=SENDER,
                                   rate_per_second=settings.email.rate_per_second, timeout_seconds=10.0)
    settings.sms.twilio = TwilioSettings(account_sid=os.environ.get("JOURNEYS_TEST_TWILIO_SID", ""),
                                         sender=os.environ.get("JOURNEYS_TEST_TWILIO_FROM", ""),
                                         api_base=os.environ.get("JOURNEYS_TEST_TWILIO_URL", ""))
    return settings


def factory(db: Engine) -> Callable[[str], Channel]:
    """`open_channel(name)` of the real channels on the local servers."""
    settings, key = local_settings(db), signing_key(db)
    return lambda name: open_channel(settings, name, unsubscribe_key=key)
